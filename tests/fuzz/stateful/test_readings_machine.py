"""DESIGN.md invariants 1 (WATT supply, capacity, mint/burn accounting) and 5
(readings credited at most once, counters never fall, rejected readings change
nothing but their event) under random interleavings of readings from several
meters, including replays, forgeries and every kind of bad reading.

Each rule predicts the outcome with the plain-Python `RegistryModel` before it
calls, then compares the chain's return value and events with the prediction;
the invariants compare the whole observable state after every step."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading, malleate
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import TestMeter, domain_of, meter_signer
from tests.utils.model import MeterModel, RegistryModel

OPERATOR = boa.env.generate_address("machine-operator")
OWNERS = [boa.env.generate_address(f"machine-owner-{i}") for i in range(3)]
# (label, owner index, method, rated power W): two meters share an owner
METERS = [("pv-a", 0, 1, 5_000), ("pv-b", 0, 1, 12_000), ("wind", 1, 2, 30_000), ("home", 2, 0, 4_000)]
CAPACITY_WH = 20_000  # small, so the cap and GridExport are hit often
SKEW = 300
_DEPLOY = boa_deployer(OPERATOR)  # compiles once per process


def _system():
    # boa's pytest plugin rolls every example back, so each example deploys afresh
    # rent is off here (its own machine covers it): this one isolates readings and supply
    system = deploy_system(_DEPLOY, OPERATOR, SystemParams(CAPACITY_WH, SKEW, rent_rate=0))
    for label, owner, method, power in METERS:
        system.registry.register_meter(meter_signer(label).address, OWNERS[owner], method, power, label, sender=OPERATOR)
    return system


KINDS = st.sampled_from(
    ["good"] * 6 + ["replay", "forged", "malleated", "falling", "implausible", "future", "unknown", "stale"]
)


class ReadingsMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = _system()
        self.domain = domain_of(self.sys.registry)
        self.sep = self.domain.separator
        self.meters = [
            TestMeter(meter_signer(label), OWNERS[o], method, power, label) for label, o, method, power in METERS
        ]
        self.model = RegistryModel(capacity_wh=CAPACITY_WH, max_clock_skew=SKEW)
        for m in self.meters:
            self.model.meters[m.address] = MeterModel(m.owner, m.method, m.rated_power_w)
        self.sent: list[tuple[Reading, bytes]] = []  # every signed reading, for replays
        self.ghost = meter_signer("ghost-meter")
        self.highest_seen: dict[str, tuple] = {}

    # ------------------------------------------------------------ generators

    def _make(self, data, kind):
        """A (reading, signature, signature_valid) of the given kind."""
        m = data.draw(st.sampled_from(self.meters))
        mm = self.model.meters[m.address]
        now = self.now
        if kind == "replay" and self.sent:
            r, sig = data.draw(st.sampled_from(self.sent))
            return r, sig, self._sig_ok(r, sig)
        if kind == "unknown":
            r = Reading(self.ghost.address, now, 1, 1, 1, 1)
            return r, self.ghost.sign(r, self.domain, self.sep), True
        if kind == "future":
            r = Reading(m.address, now + SKEW + data.draw(st.integers(1, 10_000)), *self._regs(m))
            return r, m.signer.sign(r, self.domain, self.sep), True
        if kind == "stale":
            r = Reading(m.address, data.draw(st.integers(0, max(mm.last_ts, 1))), *self._regs(m))
            return r, m.signer.sign(r, self.domain, self.sep), True
        ts = max(mm.last_ts + 1, now - data.draw(st.integers(0, 120)))
        dt = ts - mm.last_ts if mm.last_ts else 0
        budget = m.rated_power_w * dt // 3600
        regs = list(self._regs(m))
        if kind == "falling" and any(regs):
            i = data.draw(st.sampled_from([i for i, v in enumerate(regs) if v]))
            regs[i] -= data.draw(st.integers(1, regs[i]))
        elif kind == "implausible":
            i = data.draw(st.integers(0, 3))
            regs[i] += budget + data.draw(st.integers(1, 10_000))
        else:
            # a plausible advance (or a baseline anywhere in the counter range)
            if mm.baseline is None:
                regs = [data.draw(st.integers(0, 10**9)) for _ in range(4)]
            else:
                regs = [v + data.draw(st.integers(0, budget)) for v in regs]
        r = Reading(m.address, ts, *regs)
        sig = m.signer.sign(r, self.domain, self.sep)
        if kind == "forged":
            sig = self.ghost.sign_digest(bytes(32))
            return r, sig, False
        if kind == "malleated":
            return r, malleate(sig), False
        return r, sig, True

    def _regs(self, m):
        b = self.model.meters[m.address].baseline
        return b if b is not None else (0, 0, 0, 0)

    def _sig_ok(self, r, sig):
        return r.meter in self.model.meters and sig == self._signer_of(r).sign(r, self.domain, self.sep)

    def _signer_of(self, r):
        return next(m.signer for m in self.meters if m.address == r.meter)

    # ------------------------------------------------------------ rules

    @rule(data=st.data(), n=st.integers(1, 8))
    def submit_batch(self, data, n):
        items = [self._make(data, data.draw(KINDS)) for _ in range(n)]
        outcomes = [self.model.apply(r, ok, self.now) for r, ok_sig, ok in [(r, s, v) for r, s, v in items]]
        for r, sig, _ in items:
            self.sent.append((r, sig))
        accepted = self.sys.registry.submit_readings([r.as_call_arg() for r, _, _ in items], [s for _, s, _ in items])
        logs = self.sys.registry.get_logs()
        assert accepted == sum(o.reason == 0 for o in outcomes)
        got = [
            (type(e).__name__, getattr(e, "reason", None))
            for e in logs
            if type(e).__name__ in ("ReadingAccepted", "ReadingRejected")
        ]
        want = [("ReadingAccepted", None) if o.reason == 0 else ("ReadingRejected", o.reason) for o in outcomes]
        assert got == want
        grid_exports = sum(e.wh for e in logs if type(e).__name__ == "GridExport")
        grid_imports = sum(e.wh for e in logs if type(e).__name__ == "GridImport")
        assert grid_exports == sum(o.grid_export for o in outcomes)
        assert grid_imports == sum(o.grid_import for o in outcomes)
        deltas = [
            (e.generated_wh, e.consumed_wh, e.exported_wh, e.imported_wh)
            for e in logs
            if type(e).__name__ == "ReadingAccepted"
        ]
        assert deltas == [o.deltas for o in outcomes if o.reason == 0]
        for o in outcomes:
            event(f"reason {o.reason}")
            if o.minted or o.burned:
                event("credited WATT")
            if o.grid_export or o.grid_import:
                event("grid export/import")

    @rule(seconds=st.integers(1, 4 * 3600))
    def advance_time(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @rule(data=st.data())
    def toggle_active(self, data):
        m = data.draw(st.sampled_from(self.meters))
        mm = self.model.meters[m.address]
        mm.active = not mm.active
        self.sys.registry.set_meter_active(m.address, mm.active, sender=OPERATOR)

    @rule(capacity=st.integers(0, 40_000))
    def set_capacity(self, capacity):
        if capacity < self.model.supply:
            with boa.reverts("watt: capacity below supply"):
                self.sys.watt.set_capacity_wh(capacity, sender=OPERATOR)
        else:
            self.sys.watt.set_capacity_wh(capacity, sender=OPERATOR)
            self.model.capacity_wh = capacity

    @precondition(lambda self: self.model.supply > 0)
    @rule(data=st.data())
    def transfer(self, data):
        src = data.draw(st.sampled_from([o for o in OWNERS if self.model.balances.get(o, 0) > 0]))
        dst = data.draw(st.sampled_from(OWNERS))
        amount = data.draw(st.integers(1, self.model.balances[src]))
        self.sys.watt.transfer(dst, amount, sender=src)
        self.model.balances[src] -= amount
        self.model.balances[dst] = self.model.balances.get(dst, 0) + amount

    # ------------------------------------------------------------ invariants

    @invariant()
    def watt_supply_is_balances_and_within_capacity(self):
        watt = self.sys.watt
        balances = [watt.balanceOf(o) for o in OWNERS]
        assert balances == [self.model.balances.get(o, 0) for o in OWNERS]
        assert sum(balances) == watt.totalSupply() <= watt.capacity_wh()
        # minted == credited exports, burned == covered imports (no releases yet)
        assert watt.totalSupply() == self.model.credited_exports - self.model.covered_imports

    @invariant()
    def readings_match_model_and_counters_never_fall(self):
        reg = self.sys.registry
        for m in self.meters:
            mm = self.model.meters[m.address]
            last = reg.last_reading(m.address)
            regs = (last.generated_wh, last.consumed_wh, last.exported_wh, last.imported_wh)
            assert last.timestamp == mm.last_ts
            assert regs == (mm.baseline or (0, 0, 0, 0))
            prev = self.highest_seen.get(m.address)
            if prev is not None:
                assert last.timestamp >= prev[0] and all(a >= b for a, b in zip(regs, prev[1]))
            self.highest_seen[m.address] = (last.timestamp, regs)
            cert = reg.certifiable(m.address)
            assert tuple(cert) == (
                (mm.certifiable_wh, mm.period_start, mm.period_end) if mm.certifiable_wh else (0, 0, 0)
            )


TestReadingsMachine = ReadingsMachine.TestCase
