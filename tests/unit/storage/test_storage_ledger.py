"""StorageLedger: recording charges, settling days through the FIFO, claiming discharge certificates,
and every rejection (contracts/StorageLedger.vy; the amounts are gridmint/storage_green.py's)."""

from __future__ import annotations

import boa
import pytest

from gridmint import profile as P
from gridmint import storage_green as G
from tests.conftest import NONE, events
from tests.unit.storage.conftest import DAY0, DAY_S, SLOT_S
from tests.unit.storage.helpers import day_flows, day_words, leaf, reference_day, settle, settlement, slot, take_word

ETA = 900_000


# ---------------------------------------------------------------- the whole day


def test_a_day__charges_settle_fifo_and_each_member_claims_its_green_share(ledger, cert, appointed, scene, at_day):
    gens, members, methods = scene
    flows = day_flows(DAY0, gens, members)
    battery = G.GreenBattery(ETA)
    results = [battery.settle(s, flows[s], methods) for s in sorted(flows)]
    s = settlement(ledger.address, DAY0, results, ETA, SLOT_S)
    at_day(DAY0 + 1)
    ledger.record_charges(DAY0, s.takes, sender=appointed)
    charge_logs = ledger.get_logs()
    assert {(e.meter, e.wh) for e in events(charge_logs, "ChargeTaken")} == {
        (gens[0].address, 6_000), (gens[1].address, 1_000)}
    assert ledger.day_takes_wh(DAY0) == 7_000
    ledger.settle_day(*s.settle_args(), sender=appointed)
    logs = ledger.get_logs()
    slot_events = {e.slot: e for e in events(logs, "SlotSettled")}
    assert set(slot_events) == set(flows)
    ev = slot_events[slot(DAY0, 40)]
    need_40 = G.charge_needed_wh(2_000, ETA) + G.charge_needed_wh(900, ETA)
    assert (ev.charged_wh, ev.need_wh, ev.taken_wh, ev.content_wh) == (0, need_40, need_40, 7_000)
    assert (ev.first_charge_slot, ev.last_charge_slot) == (slot(DAY0, 24), slot(DAY0, 24))
    ev41 = slot_events[slot(DAY0, 41)]
    assert (ev41.first_charge_slot, ev41.last_charge_slot) == (slot(DAY0, 24), slot(DAY0, 25))
    (day_ev,) = events(logs, "DaySettled")
    assert (day_ev.day, day_ev.charged_wh, day_ev.content_wh) == (DAY0, 7_000, battery.content_wh)
    assert ledger.content_wh() == battery.content_wh
    assert [(lot.first_slot, lot.last_slot, lot.wh) for lot in ledger.lots()] == [
        (lot.charge_slot, lot.charge_slot, lot.wh) for lot in battery.content]
    assert ledger.settled_through() == DAY0 + 1 and ledger.day_root(DAY0) == s.root

    for member in members:
        id = ledger.claim_discharge(*s.claim_args(member.address), sender=member.owner)
        (claimed,) = events(ledger.get_logs(), "DischargeCertified")
        green = s.green[member.address]
        assert claimed.id == id and claimed.green_wh == sum(green.values())
        assert (claimed.first_charge_slot, claimed.last_charge_slot) == (slot(DAY0, 24), slot(DAY0, 25))
        c = cert.certificate(id)
        assert (c.method, c.period_start, c.period_end, c.amount_wh) == (6, DAY0 * DAY_S, (DAY0 + 1) * DAY_S, claimed.green_wh)
        assert cert.balanceOf(member.owner, id) == claimed.green_wh
        assert ledger.claimed(member.address, DAY0)
        words = day_words(DAY0, green, SLOT_S)
        assert cert.profile_commitment(id) == P.commitment(id, words)
    # the whole draw was covered: green = imports, and green <= taken * eta
    taken_wh, claimed_wh, _, _ = ledger.day_charge(DAY0)
    assert claimed_wh == taken_wh
    assert sum(sum(g.values()) for g in s.green.values()) * 1_000_000 <= taken_wh * ETA


def test_pro_rata_when_the_battery_is_short_and_dust_stays(ledger, cert, appointed, scene, at_day):
    gens, members, methods = scene
    flows = day_flows(DAY0, gens, members, charge=(700, 300), draw=(1_300, 1_100))
    battery = G.GreenBattery(ETA)
    results = [battery.settle(s, flows[s], methods) for s in sorted(flows)]
    s = settlement(ledger.address, DAY0, results, ETA, SLOT_S)
    at_day(DAY0 + 1)
    logs = settle(ledger, appointed, s)
    ev = {e.slot: e for e in events(logs, "SlotSettled")}[slot(DAY0, 40)]
    # N > C: shared pro rata, the rounding dust stays for the next slot (which takes it)
    assert ev.need_wh > ev.content_wh > ev.taken_wh == results[2].charge_taken_wh
    assert ledger.content_wh() == battery.content_wh
    for member in members:
        if member.address not in s.green:
            continue
        id = ledger.claim_discharge(*s.claim_args(member.address), sender=member.owner)
        assert cert.issued_wh_of(id) == sum(s.green[member.address].values())


# ---------------------------------------------------------------- rejections: record_charges / settle_day


def test_only_the_operator_appoints_settlers(ledger, operator, stranger, settler):
    with boa.reverts("ownable: caller is not the owner"):
        ledger.set_settler(stranger, True, sender=stranger)
    ledger.set_settler(settler, True, sender=operator)
    (ev,) = events(ledger.get_logs(), "SettlerSet")
    assert (ev.settler, ev.enabled) == (settler, True) and ledger.settler(settler)
    ledger.set_settler(settler, False, sender=operator)
    assert not ledger.settler(settler)


def test_settler_only(ledger, scene, stranger, at_day):
    gens, _, _ = scene
    at_day(DAY0 + 1)
    with boa.reverts("storage: caller is not a settler"):
        ledger.record_charges(DAY0, [take_word(gens[0].address, 10)], sender=stranger)
    zero = [0] * 6
    with boa.reverts("storage: caller is not a settler"):
        ledger.settle_day(DAY0, zero, zero, zero, b"\0" * 32, sender=stranger)


def test_day_not_ended(ledger, appointed, scene, at_day):
    gens, _, _ = scene
    at_day(DAY0 + 1, -1)  # the day's last second
    zero = [0] * 6
    with boa.reverts("storage: day not ended"):
        ledger.record_charges(DAY0, [take_word(gens[0].address, 10)], sender=appointed)
    with boa.reverts("storage: day not ended"):
        ledger.settle_day(DAY0, zero, zero, zero, b"\0" * 32, sender=appointed)
    at_day(DAY0 + 1)
    ledger.settle_day(DAY0, zero, zero, zero, b"\0" * 32, sender=appointed)


def test_days_in_order(ledger, appointed, scene, at_day):
    gens, _, _ = scene
    zero = [0] * 6
    at_day(DAY0 + 3)
    ledger.settle_day(DAY0 + 1, zero, zero, zero, b"\0" * 32, sender=appointed)
    for day in (DAY0, DAY0 + 1):
        with boa.reverts("storage: day already settled"):
            ledger.settle_day(day, zero, zero, zero, b"\0" * 32, sender=appointed)
        with boa.reverts("storage: day already settled"):
            ledger.record_charges(day, [take_word(gens[0].address, 10)], sender=appointed)
    ledger.settle_day(DAY0 + 2, zero, zero, zero, b"\0" * 32, sender=appointed)  # later days may skip none or some
    assert ledger.settled_through() == DAY0 + 3


def test_bad_words(ledger, appointed, scene, at_day):
    gens, _, _ = scene
    at_day(DAY0 + 1)
    zero = [0] * 6
    with boa.reverts("storage: wrong word count"):
        ledger.settle_day(DAY0, [0] * 5, zero, zero, b"\0" * 32, sender=appointed)
    with boa.reverts("storage: wrong word count"):
        ledger.settle_day(DAY0, zero, zero, [0] * 7, b"\0" * 32, sender=appointed)
    with boa.reverts("storage: slot amount too large"):
        ledger.settle_day(DAY0, zero, [2**31] + [0] * 5, zero, b"\0" * 32, sender=appointed)
    with boa.reverts("storage: bad take"):
        ledger.record_charges(DAY0, [take_word(gens[0].address, 2**56)], sender=appointed)
    with boa.reverts("storage: zero take"):
        ledger.record_charges(DAY0, [take_word(gens[0].address, 0)], sender=appointed)


def test_charges_must_match_the_takes(ledger, appointed, scene, at_day):
    gens, _, _ = scene
    at_day(DAY0 + 1)
    ledger.record_charges(DAY0, [take_word(gens[0].address, 1_000)], sender=appointed)
    zero = [0] * 6
    with boa.reverts("storage: charges do not match the takes"):
        ledger.settle_day(DAY0, day_words(DAY0, {slot(DAY0, 20): 999}, SLOT_S), zero, zero, b"\0" * 32, sender=appointed)
    with boa.reverts("storage: charges do not match the takes"):
        ledger.settle_day(DAY0, zero, zero, zero, b"\0" * 32, sender=appointed)
    ledger.settle_day(DAY0, day_words(DAY0, {slot(DAY0, 20): 400, slot(DAY0, 21): 600}, SLOT_S), zero, zero,
                      b"\0" * 32, sender=appointed)
    assert ledger.content_wh() == 1_000 and ledger.day_takes_wh(DAY0) == 0


@pytest.mark.parametrize(
    "need, taken, ok",
    [
        (500, 500, True),      # N <= C: taken == N
        (500, 499, False),     # N <= C but less taken: a member shorted
        (500, 501, False),     # more than N
        (1_500, 1_000, True),  # N > C: up to C
        (1_500, 998, True),    # N > C: the pro-rata dust stays
        (1_500, 1_001, False),  # more than the content: discharging more than was charged
    ],
)
def test_taken_bounds(ledger, appointed, scene, at_day, need, taken, ok):
    gens, _, _ = scene
    at_day(DAY0 + 1)
    ledger.record_charges(DAY0, [take_word(gens[0].address, 1_000)], sender=appointed)
    args = (
        DAY0,
        day_words(DAY0, {slot(DAY0, 20): 1_000}, SLOT_S),
        day_words(DAY0, {slot(DAY0, 30): need}, SLOT_S),
        day_words(DAY0, {slot(DAY0, 30): taken}, SLOT_S),
        b"\0" * 32,
    )
    if ok:
        ledger.settle_day(*args, sender=appointed)
        assert ledger.content_wh() == 1_000 - taken
    else:
        with boa.reverts("storage: taken out of bounds"):
            ledger.settle_day(*args, sender=appointed)


def test_a_discharge_before_the_charge_of_a_later_slot_takes_nothing(ledger, appointed, scene, at_day):
    """FIFO in time: a slot's discharge cannot draw on a later slot's charge."""
    gens, _, _ = scene
    at_day(DAY0 + 1)
    ledger.record_charges(DAY0, [take_word(gens[0].address, 1_000)], sender=appointed)
    with boa.reverts("storage: taken out of bounds"):
        ledger.settle_day(DAY0, day_words(DAY0, {slot(DAY0, 30): 1_000}, SLOT_S),
                          day_words(DAY0, {slot(DAY0, 10): 100}, SLOT_S),
                          day_words(DAY0, {slot(DAY0, 10): 100}, SLOT_S), b"\0" * 32, sender=appointed)


def test_a_non_renewable_meter_never_charges(ledger, appointed, scene, at_day):
    _, members, _ = scene
    at_day(DAY0 + 1)
    with boa.reverts("registry: not a renewable meter"):
        ledger.record_charges(DAY0, [take_word(members[0].address, 500)], sender=appointed)


# ---------------------------------------------------------------- rejections: claims


@pytest.fixture
def settled(ledger, appointed, scene, at_day):
    gens, members, methods = scene
    flows = day_flows(DAY0, gens, members)
    s = reference_day(ledger.address, DAY0, flows, methods, ETA, SLOT_S)
    at_day(DAY0 + 1)
    settle(ledger, appointed, s)
    return s, members


def test_claim_rejections(ledger, settled, stranger):
    s, (a, b) = settled
    with boa.reverts("storage: day not settled"):
        ledger.claim_discharge(a.address, DAY0 + 1, *s.claim_args(a.address)[2:], sender=a.owner)
    with boa.reverts("storage: caller is not the meter owner"):
        ledger.claim_discharge(*s.claim_args(a.address), sender=stranger)
    with boa.reverts("storage: caller is not the meter owner"):
        ledger.claim_discharge(*s.claim_args(a.address), sender=b.owner)
    meter, day, dw, nw, cw, proof = s.claim_args(a.address)
    with boa.reverts("storage: words do not match the settlement"):
        ledger.claim_discharge(meter, day, dw, nw, [cw[0] + 1] + cw[1:], proof, sender=a.owner)
    with boa.reverts("storage: words do not match the settlement"):
        ledger.claim_discharge(meter, day, dw, [nw[0] + 1] + nw[1:], cw, proof, sender=a.owner)
    with boa.reverts("storage: wrong word count"):
        ledger.claim_discharge(meter, day, dw[:-1], nw, cw, proof, sender=a.owner)
    inflated = list(dw)
    inflated[5] += 1  # slot 40 is lane 0 of word 5
    with boa.reverts("storage: bad proof"):
        ledger.claim_discharge(meter, day, inflated, nw, cw, proof, sender=a.owner)
    with boa.reverts("storage: bad proof"):
        ledger.claim_discharge(meter, day, dw, nw, cw, [], sender=a.owner)
    # a's leaf shown for b's meter (b's owner claims with a's words and proof)
    with boa.reverts("storage: bad proof"):
        ledger.claim_discharge(b.address, day, dw, nw, cw, proof, sender=b.owner)
    ledger.claim_discharge(meter, day, dw, nw, cw, proof, sender=a.owner)
    with boa.reverts("storage: already claimed"):
        ledger.claim_discharge(meter, day, dw, nw, cw, proof, sender=a.owner)


def test_leaf_for_another_day_is_refused(ledger, appointed, settled, at_day):
    s, (a, _) = settled
    zero = [0] * 6
    at_day(DAY0 + 2)
    # the next day's root is a's leaf of day 0 (a one-leaf tree): a leaf names its day, so it proves nothing
    # on day 1, while the same words under day 1's own leaf would
    dw = s.discharge[a.address]
    ledger.settle_day(DAY0 + 1, zero, zero, zero, leaf(ledger.address, a.address, DAY0, dw), sender=appointed)
    with boa.reverts("storage: bad proof"):
        ledger.claim_discharge(a.address, DAY0 + 1, dw, zero, zero, [], sender=a.owner)


def test_the_chain_computes_the_leaf_as_documented(ledger, settled):
    s, (a, _) = settled
    assert ledger.discharge_leaf(a.address, DAY0, s.discharge[a.address]) == leaf(
        ledger.address, a.address, DAY0, s.discharge[a.address])
    assert ledger.DISCHARGE_LEAF_TAG() == leaf.__globals__["LEAF_TAG"]
    # the relay's builder (gridmint/storage_ledger.py) encodes the same leaf
    from gridmint import storage_ledger

    assert storage_ledger.discharge_leaf(ledger.address, a.address, DAY0, s.discharge[a.address]) == leaf(
        ledger.address, a.address, DAY0, s.discharge[a.address])


def test_the_day_commitment_binds_the_root_and_the_words(ledger, settled):
    from eth_abi import encode
    from eth_utils import keccak

    s, _ = settled
    full = keccak(encode(["bytes32", "uint256[]", "uint256[]"], [s.root, s.need, s.cover]))
    assert ledger.day_commitment(DAY0) == int.from_bytes(full, "big") >> 144 != 0
    assert ledger.day_commitment(DAY0 + 1) == 0


def test_nothing_green(ledger, appointed, scene, at_day):
    """A member who drew only when the battery held no green charge gets no certificate."""
    gens, members, methods = scene
    flows = {slot(DAY0, 5): {members[0].address: G.Flow(imported_wh=800)}}
    s = reference_day(ledger.address, DAY0, flows, methods, ETA, SLOT_S)
    at_day(DAY0 + 1)
    settle(ledger, appointed, s)
    with boa.reverts("storage: nothing green"):
        ledger.claim_discharge(*s.claim_args(members[0].address), sender=members[0].owner)


def test_leaves_claiming_more_than_the_day_took_are_capped(ledger, appointed, scene, at_day):
    """A settler's leaves that overstate discharges cannot certify more charge than the day took."""
    gens, members, methods = scene
    a, b = members
    at_day(DAY0 + 1)
    ledger.record_charges(DAY0, [take_word(gens[0].address, 1_000)], sender=appointed)
    need = G.charge_needed_wh(900, ETA)  # 1,000: the whole charge, N <= C
    d_words = day_words(DAY0, {slot(DAY0, 30): 900}, SLOT_S)
    la, lb = (leaf(ledger.address, m.address, DAY0, d_words) for m in (a, b))
    from gridmint import merkle

    tree = merkle.ReadingTree([la, lb])
    need_w = day_words(DAY0, {slot(DAY0, 30): need}, SLOT_S)
    ledger.settle_day(DAY0, day_words(DAY0, {slot(DAY0, 20): 1_000}, SLOT_S), need_w, need_w, tree.root,
                      sender=appointed)
    ledger.claim_discharge(a.address, DAY0, d_words, need_w, need_w, tree.proof(la), sender=a.owner)
    with boa.reverts("storage: claims exceed the day's charge taken"):
        ledger.claim_discharge(b.address, DAY0, d_words, need_w, need_w, tree.proof(lb), sender=b.owner)


def test_release_burns_count_in_n_without_a_leaf(ledger, cert, appointed, scene, at_day):
    """`release_unpaid` burns are discharges nobody is certified for: they share the content."""
    gens, members, methods = scene
    released = "0x" + "ee" * 20
    flows = day_flows(DAY0, gens, members, charge=(900, 100), draw=(1_000, 1))
    flows[slot(DAY0, 40)][released] = G.Flow(imported_wh=1_000)
    s = reference_day(ledger.address, DAY0, flows, {**methods, released: NONE}, ETA, SLOT_S, no_leaf=[released])
    at_day(DAY0 + 1)
    settle(ledger, appointed, s)
    a = members[0]
    id = ledger.claim_discharge(*s.claim_args(a.address), sender=a.owner)
    # a got its pro-rata share only: the released burn took its part of slot 40
    assert cert.issued_wh_of(id) == sum(s.green[a.address].values()) < 2 * 1_000


# ---------------------------------------------------------------- several days in one certificate


@pytest.fixture
def two_days(ledger, appointed, scene, at_day):
    """DAY0 and DAY0 + 1 settled, member a drew on both; DAY0 + 2 settled empty."""
    gens, members, methods = scene
    battery = G.GreenBattery(ETA)
    out = {}
    zero = [0] * 6
    for day in (DAY0, DAY0 + 1, DAY0 + 2):
        at_day(day + 1)
        if day == DAY0 + 2:
            ledger.settle_day(day, zero, zero, zero, b"\0" * 32, sender=appointed)
            continue
        flows = day_flows(day, gens, members)
        results = [battery.settle(s, flows[s], methods) for s in sorted(flows)]
        out[day] = settlement(ledger.address, day, results, ETA, SLOT_S)
        settle(ledger, appointed, out[day])
    return out, members


def batch_args(settled, meter, days):
    return (meter, days, [settled[d].discharge[meter] for d in days], [settled[d].need for d in days],
            [settled[d].cover for d in days], [settled[d].proofs[meter] for d in days])


def test_several_days_in_one_certificate(ledger, cert, two_days):
    settled, (a, _) = two_days
    days = [DAY0, DAY0 + 1]
    id = ledger.claim_discharge_days(*batch_args(settled, a.address, days), sender=a.owner)
    logs = events(ledger.get_logs(), "DischargeCertified")
    assert [(e.id, e.day, e.green_wh) for e in logs] == [
        (id, d, sum(settled[d].green[a.address].values())) for d in days]
    c = cert.certificate(id)
    assert (c.method, c.period_start, c.period_end) == (6, DAY0 * DAY_S, (DAY0 + 2) * DAY_S)
    green = {**settled[DAY0].green[a.address], **settled[DAY0 + 1].green[a.address]}
    assert c.amount_wh == sum(green.values())
    words = P.pack(slot(DAY0, 0), slot(DAY0 + 1, 47), green)
    assert len(words) == 12 and cert.profile_commitment(id) == P.commitment(id, words)
    assert ledger.claimed(a.address, DAY0) and ledger.claimed(a.address, DAY0 + 1)
    assert not ledger.claimed(a.address, DAY0 + 2)
    with boa.reverts("storage: already claimed"):
        ledger.claim_discharge(*settled[DAY0 + 1].claim_args(a.address), sender=a.owner)


def test_several_days_rejections(ledger, two_days):
    settled, (a, _) = two_days
    with boa.reverts("storage: no day"):
        ledger.claim_discharge_days(a.address, [], [], [], [], [], sender=a.owner)
    args = list(batch_args(settled, a.address, [DAY0, DAY0 + 1]))
    with boa.reverts("storage: length mismatch"):
        ledger.claim_discharge_days(*args[:2], args[2][:1], *args[3:], sender=a.owner)
    with boa.reverts("storage: days not consecutive"):
        ledger.claim_discharge_days(*batch_args(settled, a.address, [DAY0 + 1, DAY0 + 1]), sender=a.owner)
    rev = batch_args(settled, a.address, [DAY0, DAY0 + 1])
    with boa.reverts("storage: days not consecutive"):
        ledger.claim_discharge_days(a.address, rev[1][::-1], *(x[::-1] for x in rev[2:]), sender=a.owner)
    zero = [0] * 6
    with boa.reverts("storage: days not consecutive"):
        ledger.claim_discharge_days(a.address, [DAY0, DAY0 + 2], [zero] * 2, [zero] * 2, [zero] * 2, [[], []],
                                    sender=a.owner)
    # 2026-06-30 and 2026-07-01: two months
    with boa.reverts("storage: days span two months"):
        ledger.claim_discharge_days(a.address, [DAY0 + 20, DAY0 + 21], [zero] * 2, [zero] * 2, [zero] * 2,
                                    [[], []], sender=a.owner)
    # one bad day sinks the batch (nothing recorded)
    bad = batch_args(settled, a.address, [DAY0, DAY0 + 1])
    with boa.reverts("storage: bad proof"):
        ledger.claim_discharge_days(*bad[:5], [bad[5][0], []], sender=a.owner)
    assert not ledger.claimed(a.address, DAY0)
