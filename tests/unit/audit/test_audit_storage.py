"""gridmint/audit/storage.py: the battery's settlements recomputed from readings with the reference, on
synthetic events; an honest history passes, every forgery is found by name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridmint.audit.findings import INVARIANT
from gridmint.audit.storage import StorageAudit
from gridmint.storage_green import ETA_PPM_DEFAULT
from gridmint.storage_ledger import DAY_S, FlowLog, settle_days
from tests.unit.storage_offchain.chain_events import Chain

SLOT_S = 1_800
DAY = 20_000
T0 = DAY * DAY_S
LEDGER = "0x" + "5e" * 20
SOLAR, NONE = 1, 0
generator, night_buyer, late_buyer = "0x" + "a1" * 20, "0x" + "b1" * 20, "0x" + "b2" * 20
owner_g, owner_b, owner_c = "0x" + "0a" * 20, "0x" + "0b" * 20, "0x" + "0c" * 20


def two_days() -> Chain:
    """Day 1: a noon charge, evening and night discharges (the night's scarce); day 2: another noon."""
    chain = Chain()
    chain.register(generator, owner_g, SOLAR)
    chain.register(night_buyer, owner_b, NONE)
    chain.register(late_buyer, owner_c, NONE)
    chain.reading(generator, owner_g, T0 + 12 * 3600, gen=900, exp=1_000)
    chain.reading(night_buyer, owner_b, T0 + 20 * 3600, imp=450)
    chain.reading(night_buyer, owner_b, T0 + 23 * 3600, imp=300)
    chain.reading(late_buyer, owner_c, T0 + 23 * 3600, imp=200)
    chain.reading(generator, owner_g, T0 + DAY_S + 12 * 3600, gen=500, exp=400)
    return chain


def reference(chain: Chain, days=(DAY, DAY + 1)):
    log = FlowLog(SLOT_S).apply_all(chain.events)
    flows = log.flows()
    return settle_days(flows, log.methods_of(flows), ETA_PPM_DEFAULT, SLOT_S, days, LEDGER)


def audit(chain: Chain) -> list:
    return StorageAudit(SLOT_S, ETA_PPM_DEFAULT, LEDGER).apply_all(chain.events).finish()


def checks(findings) -> set[str]:
    assert all(f.kind == INVARIANT and f.contract == "StorageLedger" for f in findings)
    return {f.check for f in findings}


def honest() -> tuple[Chain, list]:
    chain = two_days()
    days = reference(chain)
    for d in days:
        chain.settle(d)
    chain.claim(days[0], night_buyer, 101)
    chain.claim(days[0], late_buyer, 102)
    return chain, days


def test_honest_history__no_finding():
    chain, days = honest()
    assert days[0].green_wh(night_buyer) > 0 and days[0].green_wh(late_buyer) > 0
    a = StorageAudit(SLOT_S, ETA_PPM_DEFAULT, LEDGER).apply_all(chain.events)
    assert a.finish() == []
    assert a.totals()["battery: discharge certificates, green Wh"] == (
        f"2, {days[0].green_wh(night_buyer) + days[0].green_wh(late_buyer):,}")


def test_forged_take__found():
    chain = two_days()
    days = reference(chain)
    chain.settle(days[0], takes={generator: days[0].takes[generator] + 100})  # takes 100 Wh it did not charge
    chain.settle(days[1])
    found = audit(chain)
    assert "inv9.storage-take" in checks(found)
    f = next(f for f in found if f.check == "inv9.storage-take")
    assert (f.account, f.expected, f.actual) == (generator, 900, 1_000)


def test_take_of_a_non_renewable_export__found():
    chain = two_days()
    days = reference(chain)
    chain.settle(days[0], takes={**days[0].takes, night_buyer: 50})  # the buyer never generated
    chain.settle(days[1])
    assert [(f.check, f.account) for f in audit(chain)] == [("inv9.storage-take", night_buyer)]


def test_forged_discharge_profile__found():
    chain = two_days()
    days = reference(chain)
    for d in days:
        chain.settle(d)
    green = dict(days[0].green[night_buyer])
    slot = max(green)
    green[slot] += 1  # one Wh more than the battery gave in the night's slot
    chain.claim(days[0], night_buyer, 101, green)
    found = audit(chain)
    assert checks(found) == {"inv9.storage-discharge"}
    assert any(f"slot {slot}" in f.detail for f in found)


def test_discharge_certificate_for_a_meter_that_drew_nothing__found():
    chain, days = honest()
    chain.claim(days[1], night_buyer, 103, {days[1].results[0].slot: 10})
    assert checks(audit(chain)) == {"inv9.storage-discharge"}


def test_second_certificate_for_one_member_day__found():
    chain, days = honest()
    chain.claim(days[0], night_buyer, 104)
    assert checks(audit(chain)) == {"inv9.storage-claimed-twice"}


def test_forged_slot_figures_and_root__found():
    chain = two_days()
    days = reference(chain)
    chain.settle(days[0])
    # the night's slot settled as if it took the whole need (discharging more than was charged)
    night = next(ev for ev in chain.events if ev.name == "SlotSettled" and ev.args["need_wh"] > ev.args["content_wh"])
    night.args["taken_wh"] = night.args["need_wh"]
    day = next(ev for ev in chain.events if ev.name == "DaySettled")
    day.args["root"] = "0x" + "00" * 32
    chain.settle(days[1])
    found = audit(chain)
    assert checks(found) == {"inv9.storage-slot", "inv9.storage-day"}


def test_skipped_day_with_flows__found():
    chain = two_days()
    chain.reading(generator, owner_g, T0 + 2 * DAY_S + 12 * 3600, gen=100, exp=100)
    days = reference(chain, (DAY, DAY + 1, DAY + 2))
    chain.settle(days[0])
    chain.settle(days[2])  # day 2 (its noon charge) skipped; day 3's figures then differ too
    found = audit(chain)
    assert "inv9.storage-day-skipped" in checks(found)


def test_reordered_readings_within_a_slot__same_reference():
    """The settler cannot be accused (or excused) by how a slot's Wh were split into readings."""
    chain = Chain()
    chain.register(generator, owner_g, SOLAR)
    chain.reading(generator, owner_g, T0 + 12 * 3600 - 600, gen=300, exp=0)
    chain.reading(generator, owner_g, T0 + 12 * 3600, gen=0, exp=300)  # same slot: min over the slot's sums
    days = reference(chain, (DAY,))
    assert days[0].takes == {generator: 300}
    chain.settle(days[0])
    assert audit(chain) == []


@given(st.lists(st.tuples(st.sampled_from([generator, night_buyer, late_buyer]), st.integers(1, 2 * DAY_S),
                          st.integers(0, 2_000), st.integers(0, 2_000)), min_size=1, max_size=30),
       st.integers(0, 5))
def test_random_history__honest_passes_and_a_changed_take_is_found(rows, bump):
    chain = Chain()
    owners = {generator: owner_g, night_buyer: owner_b, late_buyer: owner_c}
    for m, method in ((generator, SOLAR), (night_buyer, NONE), (late_buyer, 2)):
        chain.register(m, owners[m], method)
    last: dict[str, int] = {}
    for m, t, gen, flow in sorted(rows, key=lambda r: r[1]):
        ts = max(T0 + t, last.get(m, 0) + 1)
        last[m] = ts
        if m == night_buyer:
            chain.reading(m, owners[m], ts, imp=flow)
        else:
            chain.reading(m, owners[m], ts, gen=gen, exp=flow)
    days = reference(chain, (DAY, DAY + 1, DAY + 2))
    for d in days:
        if not d.empty:
            chain.settle(d)
    assert audit(chain) == []
    charged = [d for d in days if d.takes]
    if charged and bump:
        forged = Chain()
        forged.events = [ev for ev in chain.events]
        d = charged[0]
        ev = next(e for e in forged.events if e.name == "ChargeTaken" and e.args["day"] == d.day)
        ev.args["wh"] += bump
        assert "inv9.storage-take" in checks(audit(forged))
