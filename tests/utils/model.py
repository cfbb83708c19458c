"""A plain-Python reference of MeterRegistry's reading rules and WATT's mint/burn.

The stateful tests feed the same readings to this model and to the chain
and compare every outcome; the model is written from DESIGN.md, not from
the contract's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.eip712 import Reading

UNKNOWN, INACTIVE, BAD_SIGNATURE, STALE, FUTURE, COUNTER_DOWN, IMPLAUSIBLE = range(1, 8)
MAX_COUNTER = 2**48 - 1
MAX_TS = 2**56 - 1


@dataclass
class MeterModel:
    owner: str
    method: int
    rated_power_w: int
    active: bool = True
    last_ts: int = 0
    baseline: tuple[int, int, int, int] | None = None
    certifiable_wh: int = 0
    period_start: int = 0
    period_end: int = 0
    generated_credited_wh: int = 0


@dataclass
class Outcome:
    reason: int  # 0 accepted
    minted: int = 0
    burned: int = 0
    grid_export: int = 0
    grid_import: int = 0
    deltas: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class RegistryModel:
    capacity_wh: int
    max_clock_skew: int
    meters: dict[str, MeterModel] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    minted_total: int = 0
    burned_total: int = 0
    credited_exports: int = 0
    covered_imports: int = 0

    @property
    def supply(self) -> int:
        return sum(self.balances.values())

    def apply(self, r: Reading, signature_valid: bool, block_time: int) -> Outcome:
        m = self.meters.get(r.meter)
        if m is None:
            return Outcome(UNKNOWN)
        if not m.active:
            return Outcome(INACTIVE)
        if not signature_valid:
            return Outcome(BAD_SIGNATURE)
        if r.timestamp <= m.last_ts:
            return Outcome(STALE)
        if r.timestamp > block_time + self.max_clock_skew or r.timestamp > MAX_TS:
            return Outcome(FUTURE)
        regs = (r.generated_wh, r.consumed_wh, r.exported_wh, r.imported_wh)
        if any(v > MAX_COUNTER for v in regs):
            return Outcome(IMPLAUSIBLE)
        if m.baseline is None:
            m.baseline, m.last_ts = regs, r.timestamp
            # certification of a renewable meter counts from its baseline
            m.period_start = r.timestamp
            return Outcome(0)
        if any(v < p for v, p in zip(regs, m.baseline)):
            return Outcome(COUNTER_DOWN)
        deltas = tuple(v - p for v, p in zip(regs, m.baseline))
        dt = r.timestamp - m.last_ts
        if any(d * 3600 > m.rated_power_w * dt for d in deltas):
            return Outcome(IMPLAUSIBLE)
        d_gen, _d_cons, d_exp, d_imp = deltas
        if d_gen and m.method != 0:
            m.certifiable_wh += d_gen
            m.generated_credited_wh += d_gen
        # the certifiable period is (last boundary, last accepted reading]
        m.period_end = r.timestamp
        m.baseline, m.last_ts = regs, r.timestamp
        minted = min(d_exp, self.capacity_wh - self.supply)
        self.balances[m.owner] = self.balances.get(m.owner, 0) + minted
        burned = min(d_imp, self.balances[m.owner])
        self.balances[m.owner] -= burned
        self.minted_total += minted
        self.burned_total += burned
        self.credited_exports += minted
        self.covered_imports += burned
        return Outcome(0, minted, burned, d_exp - minted, d_imp - burned, deltas)
