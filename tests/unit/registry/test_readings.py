"""MeterRegistry.submit_readings: crediting from the commissioning values, relay order, and each
rejection reason.

Every rejection test snapshots everything the registry and WATT expose for
the meters and owners involved and asserts that only the event differs."""

import boa
import pytest

from gridmint.onboarding import Registers
from oracle.eip712 import Domain, Reading, malleate
from tests.conftest import NONE, SOLAR, events
from tests.utils.meters import TestMeter, meter_signer, signed

UNKNOWN, INACTIVE, BAD_SIGNATURE, STALE, FUTURE, COUNTER_DOWN, IMPLAUSIBLE = range(1, 8)


@pytest.fixture
def pv(register, meter_owner, now):
    """A 10 kW PV meter commissioned (and accepted) 15 minutes ago with registers already running."""
    return register("pv", meter_owner, SOLAR, 10_000, commissioning=Registers(now() - 900, 5_000, 3_000, 1_000, 500))


def snapshot(registry, watt, meters, accounts):
    return (
        [tuple(registry.last_reading(m.address)) for m in meters],
        [tuple(registry.certifiable(m.address)) for m in meters],
        [tuple(registry.meters(m.address)) for m in meters],
        [watt.balanceOf(a) for a in accounts],
        watt.totalSupply(),
    )


def assert_rejected_only(registry, watt, submit, meter, reading, reason, accounts, sign_with=None, sig=None):
    before = snapshot(registry, watt, [meter], accounts)
    if sig is None:
        accepted, logs = submit([(sign_with or meter, reading)])
    else:
        accepted = registry.submit_readings([reading.as_call_arg()], [sig])
        logs = registry.get_logs()
    assert accepted == 0
    rejected = events(logs, "ReadingRejected")
    assert [(str(e.meter), e.timestamp, e.reason) for e in rejected] == [(reading.meter, reading.timestamp, reason)]
    assert len(logs) == 1, "a rejected reading emits its event and nothing else"
    assert snapshot(registry, watt, [meter], accounts) == before


# ---------------------------------------------------------------- acceptance


def test_submit__first_reading__credits_deltas_from_commissioning(registry, watt, pv, submit, now, meter_owner):
    commissioned_at = registry.last_reading(pv.address).timestamp
    r = pv.reading(now(), gen=1_234, cons=678, exp=400, imp=0)
    accepted, logs = submit([(pv, r)])
    assert accepted == 1
    (ev,) = events(logs, "ReadingAccepted")
    assert (ev.generated_wh, ev.consumed_wh, ev.exported_wh, ev.imported_wh) == (1_234, 678, 400, 0)
    assert str(ev.owner) == meter_owner
    last = registry.last_reading(pv.address)
    assert tuple(last) == (r.timestamp, True, 6_234, 3_678, 1_400, 500)
    assert watt.balanceOf(meter_owner) == 400
    # generation before commissioning (the 5,000 Wh already on the register) is never certifiable
    assert registry.certifiable(pv.address) == (1_234, commissioned_at, r.timestamp)


def test_submit__later_reading__credits_deltas(registry, watt, pv, submit, now, meter_owner):
    t0 = registry.last_reading(pv.address).timestamp  # the commissioning time
    r = pv.reading(now(), gen=2_000, cons=700, exp=1_500, imp=0)
    accepted, logs = submit([(pv, r)])
    assert accepted == 1
    (ev,) = events(logs, "ReadingAccepted")
    assert (ev.generated_wh, ev.consumed_wh, ev.exported_wh, ev.imported_wh) == (2_000, 700, 1_500, 0)
    assert watt.balanceOf(meter_owner) == 1_500
    assert watt.totalSupply() == 1_500
    assert registry.certifiable(pv.address) == (2_000, t0, r.timestamp)


def test_submit__import__burns_balance_and_reports_uncovered_rest(registry, watt, pv, submit, now, meter_owner):
    submit([(pv, pv.reading(now(), exp=1_000))])
    boa.env.time_travel(seconds=900)
    accepted, logs = submit([(pv, pv.reading(now(), imp=1_600))])
    assert accepted == 1
    assert watt.balanceOf(meter_owner) == 0
    assert [e.wh for e in events(logs, "GridImport")] == [600]
    assert [(str(e.sender), e.value) for e in events(logs, "Transfer")] == [(meter_owner, 1_000)]


def test_submit__export_beyond_capacity__rest_is_grid_export(registry, watt, system, operator, register, submit, now, meter_owner):
    # a plant whose interval export exceeds the battery's free capacity
    plant = register("plant", meter_owner, SOLAR, 1_000_000)
    submit([(plant, plant.reading(now()))])
    boa.env.time_travel(seconds=3_600)
    capacity = system.params.capacity_wh
    accepted, logs = submit([(plant, plant.reading(now(), gen=capacity + 7_000, exp=capacity + 7_000))])
    assert accepted == 1
    assert watt.totalSupply() == capacity == watt.balanceOf(meter_owner)
    assert [e.wh for e in events(logs, "GridExport")] == [7_000]
    assert watt.free_capacity_wh() == 0


def test_submit__export_and_import_same_interval__mint_then_burn(registry, watt, pv, submit, now, meter_owner):
    accepted, logs = submit([(pv, pv.reading(now(), exp=800, imp=300))])
    assert accepted == 1
    assert watt.balanceOf(meter_owner) == 500
    assert events(logs, "GridImport") == [] and events(logs, "GridExport") == []


def test_submit__consumption_only_meter__no_certifiable_generation(registry, watt, register, submit, now, other_owner):
    home = register("home", other_owner, NONE, 5_000)
    submit([(home, home.reading(now()))])
    boa.env.time_travel(seconds=900)
    accepted, logs = submit([(home, home.reading(now(), gen=100, cons=900))])
    assert accepted == 1
    assert events(logs, "ReadingAccepted")[0].consumed_wh == 900
    assert registry.certifiable(home.address) == (0, 0, 0)
    assert watt.balanceOf(other_owner) == 0


def test_submit__certifiable__accumulates_and_period_spans_generating_intervals(registry, pv, submit, now):
    t0 = registry.last_reading(pv.address).timestamp
    t1 = now()
    submit([(pv, pv.reading(t1, gen=1_000))])
    boa.env.time_travel(seconds=900)
    t2 = now()
    submit([(pv, pv.reading(t2, gen=0, cons=50))])  # a night interval: period end does not move
    boa.env.time_travel(seconds=900)
    t3 = now()
    submit([(pv, pv.reading(t3, gen=2_000))])
    assert registry.certifiable(pv.address) == (3_000, t0, t3)
    assert t0 < t1 < t2 < t3


def test_submit__batch__mixed_good_and_bad__counts_only_good(registry, watt, register, submit, now, meter_owner, other_owner):
    a = register("a", meter_owner)
    b = register("b", other_owner)
    t = now()
    ra, rb = a.reading(t), b.reading(t)
    accepted, logs = submit([(a, ra), (b, rb), (a, ra)])  # third is a replay
    assert accepted == 2
    assert [e.reason for e in events(logs, "ReadingRejected")] == [STALE]


def test_submit__length_mismatch__reverts(registry, pv, domain, now):
    r = pv.reading(now())
    args, sigs = signed([r], {pv.address: pv.signer}, domain)
    with boa.reverts("registry: length mismatch"):
        registry.submit_readings(args, sigs + sigs)


def test_submit__paused__reverts_and_resumes(registry, operator, pv, submit, now, stranger):
    registry.pause(sender=operator)
    with boa.reverts("pausable: contract is paused"):
        submit([(pv, pv.reading(now()))])
    with boa.reverts("ownable: caller is not the owner"):
        registry.unpause(sender=stranger)
    registry.unpause(sender=operator)
    assert submit([(pv, Reading(pv.address, now(), 5_000, 3_000, 1_000, 500))])[0] == 1


def test_submit__empty_batch__accepts_nothing(registry):
    assert registry.submit_readings([], []) == 0


def test_submit__64_readings__accepted(registry, register, submit, now, meter_owner):
    meters = [register(f"m{i}", meter_owner) for i in range(64)]
    accepted, _ = submit([(m, m.reading(now())) for m in meters])
    assert accepted == 64


# ---------------------------------------------------------------- rejections


def test_reject__unknown_meter(registry, watt, submit, now, meter_owner, pv):
    ghost = TestMeter(meter_signer("ghost"), meter_owner, SOLAR, 10_000, "ghost")
    assert_rejected_only(registry, watt, submit, ghost, ghost.reading(now(), exp=10), UNKNOWN, [meter_owner])


def test_reject__inactive_meter(registry, watt, operator, pv, submit, now, meter_owner):
    registry.set_meter_active(pv.address, False, sender=operator)
    assert_rejected_only(registry, watt, submit, pv, pv.reading(now(), exp=10), INACTIVE, [meter_owner])


def test_reject__forged_signature(registry, watt, pv, submit, now, meter_owner):
    impostor = type(pv)(meter_signer("impostor"), meter_owner, SOLAR, 10_000, "x")
    r = pv.reading(now(), exp=10)
    sig = impostor.signer.sign_digest(b"\x00" * 32)
    assert_rejected_only(registry, watt, submit, pv, r, BAD_SIGNATURE, [meter_owner], sig=sig)


def test_reject__wrong_chain_id(registry, watt, pv, domain, now, submit, meter_owner):
    r = pv.reading(now(), exp=10)
    wrong = Domain(chain_id=domain.chain_id + 1, verifying_contract=domain.verifying_contract)
    assert_rejected_only(registry, watt, submit, pv, r, BAD_SIGNATURE, [meter_owner], sig=pv.signer.sign(r, wrong))


def test_reject__wrong_verifying_contract(registry, watt, pv, domain, now, submit, meter_owner):
    r = pv.reading(now(), exp=10)
    wrong = Domain(chain_id=domain.chain_id, verifying_contract=str(watt.address))
    assert_rejected_only(registry, watt, submit, pv, r, BAD_SIGNATURE, [meter_owner], sig=pv.signer.sign(r, wrong))


def test_reject__malleated_high_s_signature(registry, watt, pv, domain, now, submit, meter_owner):
    r = pv.reading(now(), exp=10)
    high_s = malleate(pv.signer.sign(r, domain))
    assert_rejected_only(registry, watt, submit, pv, r, BAD_SIGNATURE, [meter_owner], sig=high_s)


@pytest.mark.parametrize("sig", [b"", b"\x01" * 64, b"\x01" * 64 + b"\x1d"], ids=["empty", "64 bytes", "v=29"])
def test_reject__malformed_signature(registry, watt, pv, now, submit, meter_owner, sig):
    assert_rejected_only(registry, watt, submit, pv, pv.reading(now(), exp=10), BAD_SIGNATURE, [meter_owner], sig=sig)


def test_reject__replay_is_stale(registry, watt, pv, submit, now, meter_owner):
    r = pv.reading(now(), exp=10)
    assert submit([(pv, r)])[0] == 1
    assert_rejected_only(registry, watt, submit, pv, r, STALE, [meter_owner])


def test_reject__older_timestamp_is_stale(registry, watt, pv, submit, now, meter_owner):
    last = registry.last_reading(pv.address).timestamp
    assert_rejected_only(registry, watt, submit, pv, pv.reading(last - 1, exp=1), STALE, [meter_owner])


def test_reject__future_beyond_skew(registry, watt, pv, submit, now, meter_owner, system):
    skew = system.params.max_clock_skew_s
    assert_rejected_only(registry, watt, submit, pv, pv.reading(now() + skew + 1, exp=1), FUTURE, [meter_owner])


def test_accept__future_within_skew(registry, pv, submit, now, system):
    assert submit([(pv, pv.reading(now() + system.params.max_clock_skew_s, exp=1))])[0] == 1


@pytest.mark.parametrize("register_index", range(4), ids=["generated", "consumed", "exported", "imported"])
def test_reject__counter_went_down(registry, watt, pv, submit, now, meter_owner, register_index):
    last = registry.last_reading(pv.address)
    regs = [last.generated_wh, last.consumed_wh, last.exported_wh, last.imported_wh]
    regs[register_index] -= 1
    r = Reading(pv.address, now(), *regs)
    assert_rejected_only(registry, watt, submit, pv, r, COUNTER_DOWN, [meter_owner])


@pytest.mark.parametrize("register_index", range(4), ids=["generated", "consumed", "exported", "imported"])
def test_reject__implausible_delta(registry, watt, pv, submit, now, meter_owner, register_index):
    last = registry.last_reading(pv.address)
    dt = now() - last.timestamp
    budget = pv.rated_power_w * dt // 3600  # the most Wh 10 kW moves in dt
    regs = [last.generated_wh, last.consumed_wh, last.exported_wh, last.imported_wh]
    regs[register_index] += budget + 1
    r = Reading(pv.address, now(), *regs)
    assert_rejected_only(registry, watt, submit, pv, r, IMPLAUSIBLE, [meter_owner])
    regs[register_index] -= 1  # exactly at the budget is fine
    assert submit([(pv, Reading(pv.address, now(), *regs))])[0] == 1


def test_reject__counter_beyond_48_bits_is_implausible(registry, watt, pv, submit, now, meter_owner):
    r = Reading(pv.address, now(), 2**48, 0, 0, 0)
    assert_rejected_only(registry, watt, submit, pv, r, IMPLAUSIBLE, [meter_owner])


def test_reject__does_not_sink_the_batch(registry, watt, pv, register, submit, now, meter_owner, domain):
    good = pv.reading(now(), exp=100)
    bad = Reading(pv.address, now() + 10_000, 0, 0, 0, 0)
    args, sigs = signed([bad, good], {pv.address: pv.signer}, domain)
    sigs[0] = malleate(sigs[0])
    assert registry.submit_readings(args, sigs) == 1
    assert watt.balanceOf(meter_owner) == 100


def test_certifiable__derived_from_the_register__period_runs_to_the_last_reading(registry, pv, submit, now):
    t0 = registry.last_reading(pv.address).timestamp
    t1 = now()
    submit([(pv, pv.reading(t1, gen=1_000))])
    assert registry.certifiable(pv.address) == (1_000, t0, t1)
    boa.env.time_travel(seconds=900)
    t2 = now()
    submit([(pv, pv.reading(t2, gen=0, cons=50))])  # a night interval: no Wh, the period reaches t2
    assert registry.certifiable(pv.address) == (1_000, t0, t2)


# ---------------------------------------------------------------- commissioning and relay order


def test_reject__reading_at_the_commissioning_time_is_stale(registry, watt, pv, submit, meter_owner):
    commissioned_at = registry.last_reading(pv.address).timestamp
    r = pv.reading(commissioned_at, exp=1)
    assert_rejected_only(registry, watt, submit, pv, r, STALE, [meter_owner])


@pytest.mark.parametrize("register_index", range(4), ids=["generated", "consumed", "exported", "imported"])
def test_reject__counter_below_its_commissioning_value(registry, watt, pv, submit, now, meter_owner, register_index):
    regs = [5_000, 3_000, 1_000, 500]  # the commissioning values
    regs[register_index] -= 1
    assert_rejected_only(registry, watt, submit, pv, Reading(pv.address, now(), *regs), COUNTER_DOWN, [meter_owner])


def test_reject__first_reading_implausible_over_the_interval_from_commissioning(registry, watt, pv, submit, now, meter_owner):
    budget = pv.rated_power_w * 900 // 3_600  # 15 minutes since commissioning at 10 kW
    r = Reading(pv.address, now(), 5_000, 3_000, 1_000 + budget + 1, 500)
    assert_rejected_only(registry, watt, submit, pv, r, IMPLAUSIBLE, [meter_owner])
    assert submit([(pv, Reading(pv.address, now(), 5_000, 3_000, 1_000 + budget, 500))])[0] == 1


def _fresh_meter_batch(register, owner, label, now):
    """A renewable meter registered now, and the oracle's first batch for it: four 15-minute readings."""
    m = register(label, owner, SOLAR, 10_000, commissioning=Registers(now(), 100_000, 50_000, 20_000, 10_000))
    batch = []
    for _ in range(4):
        boa.env.time_travel(seconds=900)
        batch.append(m.reading(now(), gen=2_000, cons=500, exp=1_500, imp=100))
    return m, batch


def test_relay__only_the_last_reading_of_a_fresh_meters_batch_first__still_credits_everything_once(
    registry, watt, register, submit, now, meter_owner
):
    m, batch = _fresh_meter_batch(register, meter_owner, "fresh", now)
    commissioned_at = batch[0].timestamp - 900
    # a front-running relayer relays only the batch's last reading first
    accepted, logs = submit([(m, batch[-1])])
    assert accepted == 1
    (ev,) = events(logs, "ReadingAccepted")
    assert (ev.generated_wh, ev.consumed_wh, ev.exported_wh, ev.imported_wh) == (8_000, 2_000, 6_000, 400)
    assert watt.balanceOf(meter_owner) == 5_600
    assert registry.certifiable(m.address) == (8_000, commissioned_at, batch[-1].timestamp)
    # the oracle's whole batch arrives afterwards: every earlier reading is stale, nothing is credited twice
    accepted, logs = submit([(m, r) for r in batch])
    assert accepted == 0 and [e.reason for e in events(logs, "ReadingRejected")] == [STALE] * 4
    assert watt.balanceOf(meter_owner) == 5_600
    assert registry.certifiable(m.address) == (8_000, commissioned_at, batch[-1].timestamp)


def test_relay__in_order_or_partial_or_reversed__credits_the_same_total(registry, watt, register, submit, now, meter_owner, other_owner, stranger):
    totals = {}
    for owner, label, order in ((meter_owner, "in-order", [0, 1, 2, 3]), (other_owner, "partial", [1, 3]), (stranger, "reversed", [3, 2, 1, 0])):
        m, batch = _fresh_meter_batch(register, owner, label, now)
        for i in order:
            submit([(m, batch[i])])
        totals[label] = (watt.balanceOf(owner), registry.certifiable(m.address)[0], tuple(registry.last_reading(m.address))[2:])
    assert totals["in-order"] == totals["partial"] == totals["reversed"] == (5_600, 8_000, (108_000, 52_000, 26_000, 10_400))


def test_register__plug_at_3000_kwh__certifies_nothing_before_commissioning(registry, system, register, submit, now, meter_owner):
    plug = register("pv-plug", meter_owner, SOLAR, 800, commissioning=Registers(now(), 3_000_000, 0, 0, 0))
    commissioned_at = now()
    boa.env.time_travel(seconds=3_600)
    assert submit([(plug, plug.reading(now(), gen=600))])[0] == 1
    assert registry.certifiable(plug.address) == (600, commissioned_at, now())
    id = system.certificate.issue(plug.address, sender=meter_owner)
    assert system.certificate.certificate(id).amount_wh == 600


def test_reject__timestamp_beyond_max_timestamp_is_from_the_future(registry, watt, register, submit, meter_owner):
    max_ts = registry.MAX_TIMESTAMP()
    assert max_ts == 2**40 - 1 - 2**32
    boa.env.evm.patch.timestamp = max_ts + 10_000  # even a chain clock that far ahead cannot store it
    m = register("far", meter_owner, SOLAR, 10_000, commissioning=Registers(max_ts - 900))
    assert_rejected_only(registry, watt, submit, m, m.reading(max_ts + 1, gen=1), FUTURE, [meter_owner])
    assert submit([(m, Reading(m.address, max_ts, 1, 0, 0, 0))])[0] == 1
