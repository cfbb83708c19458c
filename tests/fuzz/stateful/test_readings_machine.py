"""DESIGN.md invariants 1 (WATT supply, capacity, mint/burn accounting) and 5
(readings credited at most once, counters never fall, rejected readings change
nothing but their event, and the total credited for a meter depends only on its
newest accepted reading) under random interleavings of readings from several
meters, including replays, forgeries, every kind of bad reading, an oracle
batch relayed partly and out of order, owners accepting their meters late, and
key rotations with declared commissioning values.

Each rule predicts the outcome with the plain-Python `RegistryModel` before it
calls, then compares the chain's return value and events with the prediction;
the invariants compare the whole observable state after every step."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading, malleate
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import T0, AnchoredMachine
from tests.utils.meters import TestMeter, domain_of, meter_signer
from tests.utils.model import RegistryModel

OPERATOR = boa.env.generate_address("machine-operator")
OWNERS = [boa.env.generate_address(f"machine-owner-{i}") for i in range(3)]
# (label, owner index, method, rated power W, accepted at start): two meters share an owner;
# the wind turbine's owner accepts it only when the `accept` rule fires
METERS = [
    ("pv-a", 0, 1, 5_000, True),
    ("pv-b", 0, 1, 12_000, True),
    ("wind", 1, 2, 30_000, False),
    ("home", 2, 0, 4_000, True),
]
CAPACITY_WH = 20_000  # small, so the cap and GridExport are hit often
SKEW = 300
_DEPLOY = boa_deployer(OPERATOR)  # compiles once per process


def _commissioning(i, now):
    """Meter i's commissioning values: installed an hour ago with registers already running."""
    return Registers(now - 3_600, 1_000_000 * (i + 1), 400_000 * i, 50_000 * i, 20_000 * i)


def _system(now):
    # rent is off here (its own machine covers it): this one isolates readings and supply
    # notice_s=0 and no lower capacity limit: capacity changes apply at once here (the notice is tested in tests/unit/watt)
    system = deploy_system(_DEPLOY, OPERATOR, SystemParams(CAPACITY_WH, SKEW, rent_rate=0, notice_s=0, min_capacity_wh=0))
    for i, (label, owner, method, power, accepted) in enumerate(METERS):
        onboard_meter(
            system.registry, OPERATOR, OWNERS[owner], meter_signer(label).address, method, power, label,
            _commissioning(i, now), accept=accepted,
        )
    return system


KINDS = st.sampled_from(
    ["good"] * 6 + ["replay", "forged", "malleated", "falling", "implausible", "future", "unknown", "stale"]
)


class ReadingsMachine(AnchoredMachine):
    @classmethod
    def _fixture_build(cls):
        sys = _system(T0)
        return {"reg": sys.registry, "sys": sys, "domain": domain_of(sys.registry)}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.sys, self.domain = fx["sys"], fx["domain"]
        self.sep = self.domain.separator
        self.meters = [
            TestMeter(meter_signer(label), OWNERS[o], method, power, label) for label, o, method, power, _ in METERS
        ]
        self.model = RegistryModel(capacity_wh=CAPACITY_WH, max_clock_skew=SKEW)
        for i, (m, (*_, accepted)) in enumerate(zip(self.meters, METERS)):
            self.model.register(m.address, m.owner, m.method, m.rated_power_w, _commissioning(i, self.now))
            self.model.meters[m.address].accepted = accepted
        self.signers = {m.address: m.signer for m in self.meters}  # every key ever used, retired ones too
        self.sent: list[tuple[Reading, bytes]] = []  # every signed reading, for replays
        self.ghost = meter_signer("ghost-meter")
        self.highest_seen: dict[str, tuple] = {}
        self.rotations = 0

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
        dt = ts - mm.last_ts
        budget = m.rated_power_w * dt // 3600
        regs = list(self._regs(m))
        if kind == "falling" and any(regs):
            i = data.draw(st.sampled_from([i for i, v in enumerate(regs) if v]))
            regs[i] -= data.draw(st.integers(1, regs[i]))
        elif kind == "implausible":
            i = data.draw(st.integers(0, 3))
            regs[i] += budget + data.draw(st.integers(1, 10_000))
        else:
            # a plausible advance from the last accepted reading (or the commissioning values)
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
        return self.model.meters[m.address].baseline

    def _sig_ok(self, r, sig):
        return r.meter in self.model.meters and sig == self.signers[r.meter].sign(r, self.domain, self.sep)

    def _relay(self, items):
        """Submits (reading, signature, signature_valid) items as one batch and checks every outcome
        against the model's prediction."""
        outcomes = [self.model.apply(r, ok, self.now) for r, _, ok in items]
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
        return outcomes

    # ------------------------------------------------------------ rules

    @rule(data=st.data(), n=st.integers(1, 8))
    def submit_batch(self, data, n):
        self._relay([self._make(data, data.draw(KINDS)) for _ in range(n)])

    @rule(data=st.data(), n=st.integers(2, 8), step=st.integers(1, 900))
    def relay_oracle_batch_partly_out_of_order(self, data, n, step):
        """The oracle signs n cumulative readings of one meter, `step` s apart; a relayer submits
        any subset of them in any order, in one or two transactions."""
        m = data.draw(st.sampled_from(self.meters))
        mm = self.model.meters[m.address]
        boa.env.time_travel(seconds=n * step)
        start = max(mm.last_ts, self.now - n * step)
        regs, batch = list(mm.baseline), []
        prev_ts = mm.last_ts
        for k in range(1, n + 1):
            ts = start + k * step
            budget = m.rated_power_w * (ts - prev_ts) // 3600
            regs = [v + data.draw(st.integers(0, budget)) for v in regs]
            r = Reading(m.address, ts, *regs)
            batch.append((r, m.signer.sign(r, self.domain, self.sep), True))
            prev_ts = ts
        order = data.draw(st.permutations(range(n)))
        chosen = [batch[i] for i in order[: data.draw(st.integers(1, n))]]
        split = data.draw(st.integers(0, len(chosen)))
        for part in (chosen[:split], chosen[split:]):
            if part:
                self._relay(part)
        newest = max(chosen, key=lambda item: item[0].timestamp)[0]
        if mm.active and mm.accepted and newest.timestamp <= self.now + SKEW:
            # whatever was relayed and in whatever order, the newest reading's registers are on chain
            assert (mm.last_ts, mm.baseline) == (newest.timestamp, tuple(newest[2:]))
            event("partial/out-of-order batch fully credited")

    @rule(data=st.data())
    def accept(self, data):
        m = data.draw(st.sampled_from(self.meters))
        mm = self.model.meters[m.address]
        stranger = data.draw(st.sampled_from([o for o in OWNERS if o != mm.owner] + [OPERATOR]))
        with boa.reverts("registry: caller is not the meter owner"):
            self.sys.registry.accept_meter(m.address, sender=stranger)
        if mm.accepted:
            with boa.reverts("registry: meter already accepted"):
                self.sys.registry.accept_meter(m.address, sender=mm.owner)
            return
        self.sys.registry.accept_meter(m.address, sender=mm.owner)
        mm.accepted = True
        event("accepted")

    @rule(data=st.data(), ahead=st.integers(-600, SKEW + 60), fresh_registers=st.booleans())
    def rotate_key(self, data, ahead, fresh_registers):
        """Hardware replaced: the operator moves the record to a new key with the new hardware's
        commissioning values; the owner must accept the new key before it credits."""
        i = data.draw(st.integers(0, len(self.meters) - 1))
        old = self.meters[i]
        self.rotations += 1
        new = TestMeter(meter_signer(f"{old.name}-{self.rotations}"), old.owner, old.method, old.rated_power_w, old.name)
        regs = [data.draw(st.integers(0, 10**6)) for _ in range(4)] if fresh_registers else [0, 0, 0, 0]
        c = Registers(self.now + ahead, *regs)
        expect = self.model.rotate_error(old.address, new.address, tuple(c), self.now)
        if expect is not None:
            with boa.reverts(expect):
                self.sys.registry.rotate_meter_key(old.address, new.address, c, sender=OPERATOR)
            event(f"rotation refused: {expect}")
            return
        self.sys.registry.rotate_meter_key(old.address, new.address, c, sender=OPERATOR)
        self.model.rotate(old.address, new.address, tuple(c))
        self.meters[i] = new
        self.signers[new.address] = new.signer
        event("rotated")

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
        self.sys.watt.announce_capacity_wh(capacity, sender=OPERATOR)
        if capacity < self.model.supply:
            with boa.reverts("watt: capacity below supply"):
                self.sys.watt.apply_capacity_wh(sender=OPERATOR)
        else:
            self.sys.watt.apply_capacity_wh(sender=OPERATOR)
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
            assert regs == mm.baseline
            prev = self.highest_seen.get(m.address)
            if prev is not None:
                assert last.timestamp >= prev[0] and all(a >= b for a, b in zip(regs, prev[1]))
            self.highest_seen[m.address] = (last.timestamp, regs)
            info = reg.meters(m.address)
            assert (info.active, info.accepted) == (mm.active, mm.accepted)
            assert tuple(reg.certifiable(m.address)) == mm.certifiable()
        for address in self.model.retired:
            assert str(reg.meters(address).owner) == "0x" + "00" * 20 and reg.retired(address)

    @invariant()
    def credited_total_depends_only_on_the_newest_accepted_reading(self):
        # per key: what its accepted readings credited == its newest accepted registers - its commissioning
        for mm in [*self.model.meters.values(), *self.model.retired.values()]:
            assert mm.credited == tuple(b - c for b, c in zip(mm.baseline, mm.commissioning))


TestReadingsMachine = ReadingsMachine.TestCase


# ---------------------------------------------------------------- readings across paths (DESIGN.md invariant 8)

PATH_METERS = [("path-a", 0, 1, 100_000), ("path-b", 1, 1, 100_000), ("path-c", 1, 0, 50_000)]
SLOT_S = 1_800
PATH_RELAY = boa.env.generate_address("machine-relay")
PATH_OTHER_RELAY = boa.env.generate_address("machine-relay-2")


class ReadingPathsMachine(AnchoredMachine):
    """Meters sign cumulative readings at the edge; a relay commits each ended slot's root; readings
    are credited directly, lazily (only some, any order), or proven from a root through
    `ReadingLog.credit_proven`. Whatever the path: the total credited per meter is its newest
    accepted reading minus its commissioning values, and once the newest reading is credited it
    equals what crediting every reading would have given; no reading credits twice; a root is
    never replaced; no leaf proves for another slot, relay or meter."""

    @staticmethod
    def _path_commissioning(i):
        """Path meter i's commissioning values (the readings machine's are `_commissioning(i, now)`)."""
        return Registers(T0 - 3_600, 1_000 * i, 2_000 * i, 3_000 * i, 100 * i)

    @classmethod
    def _fixture_build(cls):
        sys = deploy_system(_DEPLOY, OPERATOR, SystemParams(10**9, SKEW, rent_rate=0, notice_s=0, min_capacity_wh=0))
        sys.reading_log.set_relay(PATH_RELAY, True, sender=OPERATOR)
        sys.reading_log.set_relay(PATH_OTHER_RELAY, True, sender=OPERATOR)
        for i, (label, o, method, power) in enumerate(PATH_METERS):
            onboard_meter(sys.registry, OPERATOR, OWNERS[o], meter_signer(label).address, method, power, label,
                          cls._path_commissioning(i))
        return {"log": sys.reading_log, "sys": sys, "domain": domain_of(sys.registry)}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.sys, self.domain = fx["sys"], fx["domain"]
        self.log = self.sys.reading_log
        self.meters = []
        for i, (label, o, method, power) in enumerate(PATH_METERS):
            m = TestMeter(meter_signer(label), OWNERS[o], method, power, label)
            c = self._path_commissioning(i)
            m.generated_wh, m.consumed_wh, m.exported_wh, m.imported_wh = c[1:]
            m.commissioning = c[1:]
            self.meters.append(m)
        self.signed: list[tuple[Reading, bytes]] = []  # every reading signed, in order
        self.roots: dict[int, object] = {}  # slot -> tree
        self.accepted: set[tuple[str, int]] = set()
        self.credited = {m.address: [0, 0, 0, 0] for m in self.meters}

    def _record(self, logs):
        for e in logs:
            if type(e).__name__ == "ReadingAccepted":
                key = (str(e.meter), e.timestamp)
                assert key not in self.accepted, "a reading credited twice"
                self.accepted.add(key)
                c = self.credited[str(e.meter)]
                for i, d in enumerate((e.generated_wh, e.consumed_wh, e.exported_wh, e.imported_wh)):
                    c[i] += d

    @rule(data=st.data(), dt=st.integers(30, 1_200))
    def meter_signs_a_reading(self, data, dt):
        boa.env.time_travel(seconds=dt)
        m = data.draw(st.sampled_from(self.meters))
        # plausible (the readings machine covers rejections): a register moves at most rated power x dt
        # since the meter's previous reading, which is at least `dt` ago; such steps add up to a plausible
        # step over any run of them, so crediting only the newest is plausible too
        most = min(500, m.rated_power_w * dt // 3_600)
        r = m.reading(self.now, *(data.draw(st.integers(0, most)) for _ in range(4)))
        self.signed.append((r, m.signer.sign(r, self.domain)))

    @rule()
    def relay_commits_ended_slots(self):
        from gridmint import merkle

        by_slot: dict[int, list[bytes]] = {}
        for r, sig in self.signed:
            by_slot.setdefault(r.timestamp // SLOT_S, []).append(merkle.reading_leaf(r, sig))
        for slot, leaves in by_slot.items():
            if slot in self.roots or (slot + 1) * SLOT_S > self.now:
                continue
            tree = merkle.ReadingTree(leaves)
            self.log.commit(slot, tree.root, tree.leaf_count, 3, b"\1" * 32, "archive", sender=PATH_RELAY)
            self.roots[slot] = tree
            # the root is never replaced, not even by its own relay
            with boa.reverts("reading_log: root already committed"):
                self.log.commit(slot, b"\2" * 32, 1, 3, b"\1" * 32, "archive", sender=PATH_RELAY)

    @precondition(lambda self: self.signed)
    @rule(data=st.data())
    def credit_directly(self, data):
        r, sig = data.draw(st.sampled_from(self.signed))
        self.sys.registry.submit_readings([r.as_call_arg()], [sig], sender=OPERATOR)
        self._record(self.sys.registry.get_logs())

    @precondition(lambda self: self.roots)
    @rule(data=st.data())
    def credit_from_a_root(self, data):
        from gridmint import merkle

        slot = data.draw(st.sampled_from(sorted(self.roots)))
        tree = self.roots[slot]
        r, sig = data.draw(st.sampled_from([(r, s) for r, s in self.signed if r.timestamp // SLOT_S == slot]))
        proof = tree.proof(merkle.reading_leaf(r, sig))
        # the same leaf proves nothing for another slot or another relay
        assert not self.log.verify_reading(PATH_RELAY, slot + 1, r.as_call_arg(), sig, proof)
        assert not self.log.verify_reading(PATH_OTHER_RELAY, slot, r.as_call_arg(), sig, proof)
        other = data.draw(st.sampled_from(self.meters))
        if other.address != r.meter:
            moved = r._replace(meter=other.address)
            assert not self.log.verify_reading(PATH_RELAY, slot, moved.as_call_arg(), sig, proof)
        assert self.log.verify_reading(PATH_RELAY, slot, r.as_call_arg(), sig, proof)
        self.log.credit_proven(PATH_RELAY, slot, r.as_call_arg(), sig, proof, sender=OPERATOR)
        # the registry's events of this call are child logs of the log's call (registry.get_logs() would
        # give the registry's own last call, e.g. the invariant's view, and miss the credit)
        self._record(self.log.get_logs())

    @rule()
    def bring_every_meter_up_to_date(self):
        newest = {}
        for r, sig in self.signed:
            newest[r.meter] = (r, sig)
        if not newest:
            return
        rows = list(newest.values())
        self.sys.registry.submit_readings([r.as_call_arg() for r, _ in rows], [s for _, s in rows], sender=OPERATOR)
        self._record(self.sys.registry.get_logs())
        for m in self.meters:
            if m.address in newest:
                # every reading credited or only the newest: the same total
                r = newest[m.address][0]
                assert self.credited[m.address] == [a - b for a, b in zip(r[2:], m.commissioning)]

    @invariant()
    def total_is_newest_accepted_minus_commissioning(self):
        for m in self.meters:
            last = self.sys.registry.last_reading(m.address)
            regs = (last.generated_wh, last.consumed_wh, last.exported_wh, last.imported_wh)
            assert self.credited[m.address] == [a - b for a, b in zip(regs, m.commissioning)]


TestReadingPathsMachine = ReadingPathsMachine.TestCase
