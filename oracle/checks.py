"""What the MeterRegistry would refuse, decided before a reading is signed: one pure function,
used by the daemon's ingestion and by `gridmint-oracle backfill` alike.

The rules are the registry's `_apply_reading`, in its order; the numbers they compare against
(`max_clock_skew`, `MAX_TIMESTAMP`, `MAX_REGISTER_WH`, each meter's `rated_power_w`, whether the
meter is registered, active and accepted) are read from the chain, never written here:

    unknown_meter   the registry has no such meter                          (reason 1)
    inactive_meter  deactivated, or its owner has not accepted it yet        (reason 2)
    stale           timestamp not after the last reading (s)                 (reason 4)
    future          timestamp beyond the chain's time + max_clock_skew (s)   (reason 5)
    implausible     a register above MAX_REGISTER_WH (Wh)                    (reason 7)
    counter_down    a register below its last value (Wh)                     (reason 6)
    implausible     a register moved more than rated_power_w × Δt / 3600 Wh  (reason 7)

The reason numbers and names are the contract's, generated from it (`gridmint.generated.contracts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gridmint.generated.contracts import REJECT_REASONS
# the registry's reason codes, generated from its REJECT_* constants
from gridmint.generated.contracts import (
    REJECT_COUNTER_DOWN as COUNTER_DOWN,
    REJECT_FUTURE as FUTURE,
    REJECT_IMPLAUSIBLE as IMPLAUSIBLE,
    REJECT_INACTIVE_METER as INACTIVE_METER,
    REJECT_STALE as STALE,
    REJECT_UNKNOWN_METER as UNKNOWN_METER,
)

from .eip712 import Reading
from .sources.parsers import REGISTERS


@dataclass(frozen=True)
class MeterRules:
    """One meter as the registry sees it: its rated power (W) and, where known, whether it
    accepts readings at all (None: not checked, e.g. by a long-running daemon whose meter the
    owner may accept while it runs)."""

    rated_power_w: int | None = None
    registered: bool | None = None
    active_and_accepted: bool | None = None


@dataclass(frozen=True)
class ChainRules:
    """The registry's limits, read from the chain (see `oracle.cli`): `max_clock_skew_s` (s),
    `max_timestamp_s` (s), `max_register_wh` (Wh) and the rules of each meter."""

    max_clock_skew_s: int | None = None
    max_timestamp_s: int | None = None
    max_register_wh: int | None = None
    meters: dict[str, MeterRules] | None = None

    def meter(self, address: str) -> MeterRules:
        return (self.meters or {}).get(address, MeterRules())


@dataclass(frozen=True)
class Refusal:
    """Why the chain would refuse a reading: `reason` is the registry's number, `name` its
    constant's name, `detail` one line with units. For a falling counter, `register`, `was_wh` and
    `now_wh` name it."""

    reason: int
    detail: str
    register: str | None = None
    was_wh: int | None = None
    now_wh: int | None = None

    @property
    def name(self) -> str:
        return REJECT_REASONS[self.reason].name


def registers_of(reading: Reading) -> dict[str, int]:
    return dict(zip(REGISTERS, reading[2:]))


def falling_register(values: dict[str, int], last: dict[str, int]) -> tuple[str, int, int] | None:
    """(register, last Wh, new Wh) of the first register in `values` below its last value, else None:
    the rule that a cumulative counter never goes down (the registry's reason 6)."""
    for register in REGISTERS:
        if register in values and register in last and values[register] < last[register]:
            return register, last[register], values[register]
    return None


def refusal(reading: Reading, last: Reading | None, rules: ChainRules, now_s: int | None) -> Refusal | None:
    """The registry's verdict on `reading` given the meter's `last` reading (its last accepted or
    stored one, or its commissioning values; None if unknown) and the chain's time `now_s` (the
    earliest block time the reading can land in; None skips the clock check). None: it would be
    accepted, as far as the known rules go (the signature is ours and is right by construction)."""
    meter = rules.meter(reading.meter)
    if meter.registered is False:
        return Refusal(UNKNOWN_METER, "the registry has no such meter (register it with `operator register`)")
    if meter.active_and_accepted is False:
        return Refusal(INACTIVE_METER, "the meter is deactivated or its owner has not accepted it yet")
    if last is not None and reading.timestamp <= last.timestamp:
        return Refusal(STALE, f"timestamp {reading.timestamp} is not after the last reading's {last.timestamp}")
    if now_s is not None and rules.max_clock_skew_s is not None and reading.timestamp > now_s + rules.max_clock_skew_s:
        ahead = reading.timestamp - now_s
        return Refusal(FUTURE, f"{ahead} s ahead of the chain's time; max_clock_skew is {rules.max_clock_skew_s} s")
    if rules.max_timestamp_s is not None and reading.timestamp > rules.max_timestamp_s:
        return Refusal(FUTURE, f"timestamp {reading.timestamp} beyond the registry's MAX_TIMESTAMP {rules.max_timestamp_s}")
    values = registers_of(reading)
    if rules.max_register_wh is not None:
        for register, value in values.items():
            if value > rules.max_register_wh:
                return Refusal(IMPLAUSIBLE, f"{register} {value} Wh above the registry's MAX_REGISTER_WH {rules.max_register_wh}")
    if last is None:
        return None
    previous = registers_of(last)
    fell = falling_register(values, previous)
    if fell is not None:
        register, was, now = fell
        return Refusal(COUNTER_DOWN, f"{register} fell {was} -> {now} Wh", register, was, now)
    if meter.rated_power_w is not None:
        dt_s = reading.timestamp - last.timestamp
        for register in REGISTERS:
            delta_wh = values[register] - previous[register]
            # the registry compares delta * 3600 > power * dt: no rounding
            if delta_wh * 3600 > meter.rated_power_w * dt_s:
                budget_wh = meter.rated_power_w * dt_s // 3600
                return Refusal(
                    IMPLAUSIBLE,
                    f"{register} rose {delta_wh} Wh in {dt_s} s; rated power {meter.rated_power_w} W allows {budget_wh} Wh",
                )
    return None
