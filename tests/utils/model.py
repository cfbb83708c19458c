"""A plain-Python reference of MeterRegistry's reading rules and WATT's mint/burn.

The stateful tests feed the same readings to this model and to the chain
and compare every outcome; the model is written from DESIGN.md, not from
the contract's code: a meter is registered with commissioning values, credits
nothing until its owner accepts it, and every accepted reading credits its
deltas from the previous accepted reading or from the commissioning values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.eip712 import Reading

UNKNOWN, INACTIVE, BAD_SIGNATURE, STALE, FUTURE, COUNTER_DOWN, IMPLAUSIBLE = range(1, 8)
MAX_COUNTER = 2**48 - 1
# certificates keep period ends in 40 bits and expiry = period end + a claim window of up to 2**32 s
MAX_TS = 2**40 - 1 - 2**32


@dataclass
class MeterModel:
    owner: str
    method: int
    rated_power_w: int
    # the commissioning values: (timestamp, registers)
    commissioned_at: int
    commissioning: tuple[int, int, int, int]
    active: bool = True
    accepted: bool = False
    last_ts: int = 0
    baseline: tuple[int, int, int, int] = (0, 0, 0, 0)
    certifiable_wh: int = 0
    period_start: int = 0
    generated_credited_wh: int = 0
    # sum of the deltas credited by this key's accepted readings, per register
    credited: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self):
        self.last_ts, self.baseline = self.commissioned_at, tuple(self.commissioning)
        if not self.period_start:
            self.period_start = self.commissioned_at

    def certifiable(self) -> tuple[int, int, int]:
        """(Wh, period start, period end): the period runs to the last accepted reading."""
        return (self.certifiable_wh, self.period_start, self.last_ts) if self.certifiable_wh else (0, 0, 0)


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
    retired: dict[str, MeterModel] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    minted_total: int = 0
    burned_total: int = 0
    credited_exports: int = 0
    covered_imports: int = 0

    @property
    def supply(self) -> int:
        return sum(self.balances.values())

    def register(self, meter: str, owner: str, method: int, rated_power_w: int, commissioning: tuple) -> MeterModel:
        ts, *regs = commissioning
        self.meters[meter] = MeterModel(owner, method, rated_power_w, ts, tuple(regs))
        return self.meters[meter]

    def rotate_error(self, old: str, new: str, commissioning: tuple, block_time: int) -> str | None:
        """The revert reason `rotate_meter_key` gives, or None."""
        ts, *regs = commissioning
        if old not in self.meters:
            return "registry: unknown meter"
        if new in self.meters:
            return "registry: meter already registered"
        if new in self.retired:
            return "registry: meter key retired"
        if ts < self.meters[old].last_ts:
            return "registry: commissioning before last reading"
        if ts == 0:
            return "registry: zero commissioning time"
        if ts > MAX_TS:
            return "registry: commissioning time beyond max timestamp"
        if ts > block_time + self.max_clock_skew:
            return "registry: commissioning time in the future"
        if any(v > MAX_COUNTER for v in regs):
            return "registry: commissioning register too large"
        return None

    def rotate(self, old: str, new: str, commissioning: tuple) -> MeterModel:
        """New hardware: the record moves, the owner must accept again, certifiable Wh and the
        period start ride along, counting restarts from the new commissioning values."""
        m = self.meters.pop(old)
        self.retired[old] = m
        ts, *regs = commissioning
        n = MeterModel(m.owner, m.method, m.rated_power_w, ts, tuple(regs), active=m.active, period_start=m.period_start)
        n.certifiable_wh = m.certifiable_wh
        self.meters[new] = n
        return n

    def apply(self, r: Reading, signature_valid: bool, block_time: int) -> Outcome:
        m = self.meters.get(r.meter)
        if m is None:
            return Outcome(UNKNOWN)
        if not m.active or not m.accepted:
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
        m.baseline, m.last_ts = regs, r.timestamp
        m.credited = tuple(c + d for c, d in zip(m.credited, deltas))
        minted = min(d_exp, self.capacity_wh - self.supply)
        self.balances[m.owner] = self.balances.get(m.owner, 0) + minted
        burned = min(d_imp, self.balances[m.owner])
        self.balances[m.owner] -= burned
        self.minted_total += minted
        self.burned_total += burned
        self.credited_exports += minted
        self.covered_imports += burned
        return Outcome(0, minted, burned, d_exp - minted, d_imp - burned, deltas)
