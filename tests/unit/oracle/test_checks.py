"""`oracle.checks.refusal`: what the registry would refuse, decided before signing. Checked case by
case (with the numbers in the messages) and against the plain-Python reference of the registry's
reading rules (tests/utils/model.py), which the stateful tests hold against the contract."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oracle.checks import (
    COUNTER_DOWN, FUTURE, IMPLAUSIBLE, INACTIVE_METER, STALE, UNKNOWN_METER, ChainRules, MeterRules, refusal,
)
from oracle.eip712 import Reading
from tests.utils.model import MAX_COUNTER, MAX_TS, RegistryModel

METER = "0x" + "ab" * 20
T0 = 1_781_481_600  # 2026-06-15T00:00:00Z
RULES = ChainRules(max_clock_skew_s=300, max_timestamp_s=MAX_TS, max_register_wh=MAX_COUNTER,
                   meters={METER: MeterRules(rated_power_w=10_000, registered=True, active_and_accepted=True)})
LAST = Reading(METER, T0, 1_000, 2_000, 3_000, 4_000)


def _r(dt_s, gen=1_000, cons=2_000, exp=3_000, imp=4_000):
    return Reading(METER, T0 + dt_s, gen, cons, exp, imp)


def test_refusal__a_plausible_reading__none():
    # 10 kW for 30 minutes: 5,000 Wh is exactly the budget
    assert refusal(_r(1_800, gen=6_000), LAST, RULES, now_s=T0 + 1_800) is None


def test_refusal__an_hour_ahead_of_the_chain__future_with_the_numbers():
    why = refusal(_r(3_600 + 1_800), LAST, RULES, now_s=T0 + 1_800)
    assert (why.reason, why.name) == (FUTURE, "future")
    assert why.detail == "3600 s ahead of the chain's time; max_clock_skew is 300 s"
    assert refusal(_r(1_800 + 300), LAST, RULES, now_s=T0 + 1_800) is None  # exactly the skew: accepted


def test_refusal__not_after_the_last_reading__stale():
    assert refusal(_r(0), LAST, RULES, now_s=T0).reason == STALE
    assert refusal(_r(-60, gen=0), LAST, RULES, now_s=T0).reason == STALE  # stale comes before counter_down


def test_refusal__falling_counter__counter_down_naming_the_register():
    why = refusal(_r(60, imp=8), LAST, RULES, now_s=T0 + 60)
    assert (why.reason, why.register, why.was_wh, why.now_wh) == (COUNTER_DOWN, "imported_wh", 4_000, 8)
    assert why.detail == "imported_wh fell 4000 -> 8 Wh"


def test_refusal__more_than_rated_power_allows__implausible():
    why = refusal(_r(1_800, exp=3_000 + 5_001), LAST, RULES, now_s=T0 + 1_800)
    assert why.reason == IMPLAUSIBLE
    assert why.detail == "exported_wh rose 5001 Wh in 1800 s; rated power 10000 W allows 5000 Wh"
    # a register beyond what the registry stores is implausible whatever the interval
    assert refusal(_r(10**9, gen=MAX_COUNTER + 1), LAST, RULES, now_s=T0 + 10**9).reason == IMPLAUSIBLE


def test_refusal__unknown_or_not_accepted_meter__refused_first():
    unknown = ChainRules(meters={METER: MeterRules(registered=False)})
    assert refusal(_r(60), LAST, unknown, now_s=T0).reason == UNKNOWN_METER
    waiting = ChainRules(meters={METER: MeterRules(rated_power_w=1, registered=True, active_and_accepted=False)})
    assert refusal(_r(60), LAST, waiting, now_s=T0).reason == INACTIVE_METER


def test_refusal__rules_not_known__only_what_needs_no_chain_value():
    assert refusal(_r(10**6, gen=10**12), LAST, ChainRules(), now_s=None) is None
    assert refusal(_r(60, gen=0), LAST, ChainRules(), now_s=None).reason == COUNTER_DOWN


counters = st.integers(0, MAX_COUNTER + 2)


@given(
    last_ts=st.integers(1, 2**36), dt=st.integers(-100, 10**6), ahead=st.integers(-10**6, 10**6),
    power=st.integers(1, 2**40), skew=st.integers(0, 3_600),
    base=st.tuples(*[st.integers(0, MAX_COUNTER)] * 4), regs=st.tuples(*[counters] * 4),
    near=st.booleans(),
)
def test_refusal__agrees_with_the_reference_model_of_the_registry(last_ts, dt, ahead, power, skew, base, regs, near):
    if near:  # mostly small moves, where the plausibility rule decides
        regs = tuple(b + r % 5_000 for b, r in zip(base, regs))
    model = RegistryModel(capacity_wh=10**12, max_clock_skew=skew)
    meter = model.register(METER, "0x" + "01" * 20, 1, power, (last_ts, *base))
    meter.accepted = True
    reading = Reading(METER, max(last_ts + dt, 1), *regs)
    block_time = reading.timestamp - ahead
    rules = ChainRules(skew, MAX_TS, MAX_COUNTER,
                       {METER: MeterRules(rated_power_w=power, registered=True, active_and_accepted=True)})
    why = refusal(reading, Reading(METER, last_ts, *base), rules, now_s=block_time)
    assert (why.reason if why else 0) == model.apply(reading, True, block_time).reason
