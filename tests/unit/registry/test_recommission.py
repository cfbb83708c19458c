"""MeterRegistry.recommission_meter (issue 19): a meter whose counters on chain went ahead of the device
is re-commissioned with its same key: a new baseline, the owner accepts again, and no reading signed
before the call ever counts again, not even one stamped up to `max_clock_skew` ahead."""

import boa
from eth_utils import to_checksum_address

from gridmint.onboarding import Registers
from oracle.eip712 import Reading
from tests.conftest import SOLAR, events

INACTIVE, STALE = 2, 4


def rejected(logs):
    return [(e.timestamp, e.reason) for e in events(logs, "ReadingRejected")]


def test_recommission__typo_on_chain__new_baseline_owner_accepts_again_then_credits_from_it(
    registry, watt, register, operator, submit, now, meter_owner
):
    pv = register("typo-pv", meter_owner, SOLAR, 10_000)
    boa.env.time_travel(seconds=900)
    # a typo reached the chain: the export register 1,000 Wh ahead of the device
    assert submit([(pv, pv.reading(now(), gen=1_000, exp=1_000))])[0] == 1
    minted = watt.balanceOf(meter_owner)
    boa.env.time_travel(seconds=60)
    device = Registers(now(), 1_000, 0, 0, 0)  # what the device really shows
    registry.recommission_meter(pv.address, device, sender=operator)
    (ev,) = events(registry.get_logs(), "MeterRecommissioned")
    skew = registry.max_clock_skew()
    assert (to_checksum_address(ev.meter), to_checksum_address(ev.owner)) == (pv.address, meter_owner)
    assert (ev.commissioned_at, ev.not_before, ev.generated_wh, ev.exported_wh) == (
        device.timestamp,
        now() + skew,
        1_000,
        0,
    )
    assert tuple(registry.last_reading(pv.address)) == (now() + skew, True, 1_000, 0, 0, 0)
    assert not registry.meters(pv.address).accepted
    # the device's registers, lower than the typo on chain: counted from the new baseline once accepted
    pv.generated_wh, pv.exported_wh = 1_000, 0
    boa.env.time_travel(seconds=skew + 900)
    r = pv.reading(now(), gen=500, exp=400)
    accepted, logs = submit([(pv, r)])
    assert accepted == 0 and rejected(logs) == [(r.timestamp, INACTIVE)]
    registry.accept_meter(pv.address, sender=meter_owner)
    accepted, logs = submit([(pv, r)])
    assert accepted == 1
    (ok,) = events(logs, "ReadingAccepted")
    assert (ok.generated_wh, ok.exported_wh) == (500, 400)
    assert watt.balanceOf(meter_owner) == minted + 400
    # certifiable generation accepted before is kept; the new generation adds to it
    assert registry.certifiable(pv.address)[0] == 1_500


def test_attack_recommission__reading_signed_before_with_a_future_time_within_skew__never_counts(
    registry, watt, register, operator, submit, now, meter_owner
):
    """The attack: before the re-commissioning, a reading is signed with the old (wrong) counters and a
    timestamp `max_clock_skew` ahead of block time (the most a reading can carry and still be
    accepted). It is held back and relayed after the owner accepted the re-commissioned meter."""
    pv = register("held-back", meter_owner, SOLAR, 10_000)
    boa.env.time_travel(seconds=900)
    assert submit([(pv, pv.reading(now(), gen=1_000, exp=1_000))])[0] == 1
    skew = registry.max_clock_skew()
    held = Reading(
        pv.address, now() + skew, 5_000, 0, 5_000, 0
    )  # signed now, stamped as far ahead as allowed
    registry.recommission_meter(pv.address, Registers(now(), 0, 0, 0, 0), sender=operator)
    registry.accept_meter(pv.address, sender=meter_owner)
    before = watt.balanceOf(meter_owner)
    for wait in (0, skew, 86_400):  # at once, when its time has come, a day later
        boa.env.time_travel(seconds=wait)
        accepted, logs = submit([(pv, held)])
        assert accepted == 0 and rejected(logs) == [(held.timestamp, STALE)]
    assert watt.balanceOf(meter_owner) == before
    # the first reading stamped after `not_before` counts, from the new baseline
    pv.generated_wh, pv.exported_wh = 0, 0
    r = pv.reading(now(), gen=200, exp=100)
    assert submit([(pv, r)])[0] == 1 and watt.balanceOf(meter_owner) == before + 100


def test_recommission__not_operator_or_unknown_meter_or_future_commissioning__reverts(
    registry, register, operator, stranger, now, meter_owner
):
    pv = register("guarded", meter_owner)
    with boa.reverts("ownable: caller is not the owner"):
        registry.recommission_meter(pv.address, Registers(now()), sender=stranger)
    with boa.reverts("registry: unknown meter"):
        registry.recommission_meter(stranger, Registers(now()), sender=operator)
    with boa.reverts("registry: commissioning time in the future"):
        registry.recommission_meter(
            pv.address, Registers(now() + registry.max_clock_skew() + 1), sender=operator
        )
