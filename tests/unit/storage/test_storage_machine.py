"""Issue 26 on chain, as a stateful machine against the reference (gridmint/storage_green.py).

Random signed readings (generation, export, import) of solar meters, a non-renewable exporter and
consumers over several days; at each day's end the reference settles the day's slots from the same
readings (`slot_flows`: what was minted / burned as WATT), the test settler records the takes in
shuffled batches and settles the day on chain, and every member claims. Checked each day:
- every SlotSettled equals the reference's slot (charge, need, taken, content C), and the queue
  (lots per charge slot) and content equal the reference's;
- each discharge certificate's profile equals the reference's green Wh per slot of that member;
- per slot and cumulatively, green certified * 1e6 <= charge taken * eta;
- a second claim of one (meter, day) is refused; a non-renewable meter's export never charges;
- claims deferred over consecutive days come as one certificate (`claim_discharge_days`) with the
  same per-slot green;
- per renewable meter: issued + certifiable == credited - stored + owed (no Wh counts twice), also
  when the generator issues before the day's take.
Readings may be relayed in any order within a slot and takes in any batches: the reference does not
depend on either, and the chain must equal it."""

from __future__ import annotations

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from oracle.eip712 import Reading as SignedReading
from gridmint import profile as P
from gridmint import storage_green as G
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.unit.storage.helpers import settlement
from tests.utils.machine import T0, AnchoredMachine
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("storage-operator")
SETTLER = boa.env.generate_address("storage-machine-settler")
SLOT_S = 1_800
DAY_S = 86_400
ETA = 900_000
# label, method: two solar generators (which also import at night), a non-renewable exporter, two consumers
METERS = [("pv-a", 1), ("pv-b", 1), ("diesel", 0), ("home-a", 0), ("home-b", 0)]
MAX_DAYS = 4
_DEPLOY = boa_deployer(OPERATOR)


def _name(e):
    return type(e).__name__


class StorageMachine(AnchoredMachine):
    @classmethod
    def _fixture_build(cls):
        """The system with every meter commissioned at zero a second before T0."""
        params = SystemParams(10**9, 300, rent_rate=0, claim_window_s=30 * 86_400, wire_auction=False,
                              storage_settler=SETTLER, eta_ppm=ETA)
        sys = deploy_system(_DEPLOY, OPERATOR, params)
        power = sys.registry.MAX_RATED_POWER_W()
        owners = tuple(boa.env.generate_address(f"storage-owner-{label}") for label, _ in METERS)
        signers = tuple(meter_signer(f"storage-{label}") for label, _ in METERS)
        for (label, method), owner, signer in zip(METERS, owners, signers):
            onboard_meter(sys.registry, OPERATOR, owner, signer.address, method, power, label, Registers(T0 - 1))
        return {"reg": sys.registry, "sys": sys, "owners": owners, "signers": signers,
                "domain": domain_of(sys.registry)}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.sys = fx["sys"]
        self.reg, self.cert, self.ledger = self.sys.registry, self.sys.certificate, self.sys.storage_ledger
        self.domain = fx["domain"]
        self.meters = []
        self.commissioning = {}
        for (label, method), owner, signer in zip(METERS, fx["owners"], fx["signers"]):
            self.commissioning[signer.address] = G.Reading(signer.address, self.now - 1, 0, 0, 0, 0)
            self.meters.append(dict(signer=signer, owner=owner, method=method, gen=0, exp=0, imp=0,
                                    minted=0, burned=0, last=self.now - 1))
        self.methods = {m["signer"].address: m["method"] for m in self.meters}
        self.readings: list[G.Reading] = []  # cumulative generated / minted / burned, as storage_green takes them
        self.battery = G.GreenBattery(ETA)
        self.day = self.now // DAY_S
        self.days_settled = 0
        self.credited = {m["signer"].address: 0 for m in self.meters}  # generation credited, renewable meters
        self.stored = dict.fromkeys(self.credited, 0)
        self.issued = dict.fromkeys(self.credited, 0)
        self.taken_total = 0
        self.green_total = 0
        self.taken_slot: dict[int, int] = {}  # charge taken per slot (the reference's)
        self.green_slot: dict[int, int] = {}  # green Wh certified per slot
        self.pending: list = []  # settled days whose claims were deferred
        # the consumers hold WATT from the start (exports of their own: non-renewable, never green)
        for i in (3, 4):
            self._read(i, 60, 0, 30_000, 0)

    # ------------------------------------------------------------ rules

    @initialize(gen=st.integers(1, 8_000), stored_pct=st.integers(1, 100), imp=st.integers(1, 5_000),
                dt=st.integers(60, 3_600))
    def a_first_charge_and_draw(self, gen, stored_pct, imp, dt):
        """Every run starts with solar stored and a member drawing later the same day, so the first
        settled day usually certifies something; the rules then go anywhere."""
        self._read(0, dt, gen, gen * stored_pct // 100, 0)
        self._read(3, dt, 0, 0, imp)

    @rule(gen=st.integers(1, 8_000), stored_pct=st.integers(1, 100), imp=st.integers(1, 5_000),
          dt=st.integers(60, 3_600))
    def charge_then_draw(self, gen, stored_pct, imp, dt):
        """Solar stored, then a member drawing (the pattern that certifies something, any day)."""
        self.a_first_charge_and_draw(gen, stored_pct, imp, dt)

    @rule(i=st.integers(0, len(METERS) - 1), dt=st.integers(60, 5_400),
          gen=st.integers(0, 6_000), exp=st.integers(0, 6_000), imp=st.integers(0, 4_000))
    def read(self, i, dt, gen, exp, imp):
        """A meter's signed reading `dt` seconds later (within the current day; at most 2 MW x dt moves)."""
        self._read(i, dt, gen, exp, imp)

    @rule(i=st.sampled_from([0, 1]), dt=st.integers(60, 3_600), gen=st.integers(1, 8_000),
          stored_pct=st.integers(0, 100), extra=st.sampled_from([0, 0, 500]))
    def charge(self, i, dt, gen, stored_pct, extra):
        """A solar meter exports part of its generation (and sometimes more than it generated)."""
        self._read(i, dt, gen, gen * stored_pct // 100 + extra, 0)

    @rule(i=st.integers(0, len(METERS) - 1), dt=st.integers(60, 3_600), imp=st.integers(1, 5_000))
    def draw(self, i, dt, imp):
        """A member draws from the battery."""
        self._read(i, dt, 0, 0, imp)

    def _read(self, i, dt, gen, exp, imp):
        t = min(self.now + dt, (self.day + 1) * DAY_S)
        if t - self.now < 60:
            return
        boa.env.evm.patch.timestamp = t
        m = self.meters[i]
        m["gen"] += gen if m["method"] else 0
        m["exp"] += exp
        m["imp"] += imp
        r = SignedReading(m["signer"].address, t, m["gen"], 0, m["exp"], m["imp"])
        assert submit_one(self.reg, m["signer"], r, self.domain) == 1
        logs = self.reg.get_logs()
        grid_exp = sum(e.wh for e in logs if _name(e) == "GridExport")
        grid_imp = sum(e.wh for e in logs if _name(e) == "GridImport")
        m["minted"] += exp - grid_exp
        m["burned"] += imp - grid_imp
        if m["method"]:
            self.credited[m["signer"].address] += gen
        self.readings.append(G.Reading(m["signer"].address, t, m["gen"], 0, m["minted"], m["burned"]))

    @rule(i=st.sampled_from([0, 1]))
    def generator_issues(self, i):
        """A generator issues whatever is certifiable now, before or after its takes (plain issue)."""
        m = self.meters[i]
        wh, start, end = self.reg.certifiable(m["signer"].address)
        if wh == 0 or P.month_of(start)[0] != P.month_of(end - 1)[0]:
            return
        self.cert.issue(m["signer"].address, sender=m["owner"])
        self.issued[m["signer"].address] += wh

    @precondition(lambda self: self.days_settled < MAX_DAYS)
    @rule(skip=st.sampled_from([1, 1, 1, 2]), offset=st.integers(1, 3_600), data=st.data())
    def end_day(self, skip, offset, data):
        """The day ends; the settler settles it (takes in shuffled batches); every member claims."""
        day = self.day
        self.day += skip
        boa.env.evm.patch.timestamp = self.day * DAY_S + offset
        spd = DAY_S // SLOT_S
        flows = G.slot_flows(self.commissioning, self.readings, SLOT_S)
        results = [self.battery.settle(s, flows[s], self.methods)
                   for s in sorted(flows) if day * spd <= s < (day + 1) * spd]
        s = settlement(self.ledger.address, day, results, ETA, SLOT_S)

        takes = data.draw(st.permutations(s.takes))
        cut = data.draw(st.integers(0, len(takes)))
        for batch in (takes[:cut], takes[cut:]):
            if batch:
                self.ledger.record_charges(day, batch, sender=SETTLER)
                for e in self.ledger.get_logs():
                    if _name(e) == "ChargeTaken":
                        assert self.methods[str(e.meter)] != 0, "a non-renewable export charged"
                        self.stored[str(e.meter)] += e.wh
        self.ledger.settle_day(*s.settle_args(), sender=SETTLER)
        logs = self.ledger.get_logs()
        self.days_settled += 1

        chain = {e.slot: e for e in logs if _name(e) == "SlotSettled"}
        ref = {}
        for r in results:
            n = sum(G.charge_needed_wh(d.imported_wh, ETA) for d in r.discharges.values())
            if r.charged_wh or n:
                ref[r.slot] = (r.charged_wh, n, r.charge_taken_wh, r.content_wh + r.charge_taken_wh)
        assert {k: (e.charged_wh, e.need_wh, e.taken_wh, e.content_wh) for k, e in chain.items()} == ref
        taken_by_slot = {k: v[2] for k, v in ref.items()}
        if any(n > c for _, n, _, c in ref.values()):
            event("a slot shared pro rata (N > C)")
        if any(n and n <= c for _, n, _, c in ref.values()):
            event("a slot wholly green (0 < N <= C)")
        self.taken_total += sum(taken_by_slot.values())
        for k, t in taken_by_slot.items():
            self.taken_slot[k] = t

        # every member claims now, or (drawn) later, several consecutive days in one certificate
        if data.draw(st.booleans()):
            self.pending.append(s)
            return
        members = data.draw(st.permutations(sorted(s.discharge)))
        for meter in members:
            self._claim(meter, [s])
        if members and s.green.get(members[0]):
            with boa.reverts("storage: already claimed"):
                self.ledger.claim_discharge(*s.claim_args(members[0]), sender=self._owner(members[0]))

    @precondition(lambda self: len(self.pending) >= 2)
    @rule(data=st.data())
    def claim_pending_days(self, data):
        """Members claim the deferred days: each run of consecutive days (one month, at most 7) in one
        certificate through `claim_discharge_days`."""
        event(f"deferred days claimed: {len(self.pending)}")
        by_meter: dict[str, list] = {}
        for s in self.pending:
            for meter in s.discharge:
                by_meter.setdefault(meter, []).append(s)
        self.pending = []
        for meter in data.draw(st.permutations(sorted(by_meter))):
            run: list = []
            for s in by_meter[meter]:
                if run and (s.day != run[-1].day + 1 or len(run) == 7
                            or P.month_of(s.day * DAY_S)[0] != P.month_of(run[0].day * DAY_S)[0]):
                    self._claim(meter, run)
                    run = []
                run.append(s)
            self._claim(meter, run)

    def _owner(self, meter):
        return next(m["owner"] for m in self.meters if m["signer"].address == meter)

    def _claim(self, meter, days):
        """`meter`'s owner claims `days` (settlements of consecutive days) and the certificate must carry
        exactly the reference's green Wh per slot; nothing green: refused."""
        want: dict[int, int] = {}
        for s in days:
            want.update(s.green.get(meter, {}))
        owner = self._owner(meter)
        if len(days) == 1:
            call, args = self.ledger.claim_discharge, days[0].claim_args(meter)
        else:
            event("several days claimed in one certificate")
            call = self.ledger.claim_discharge_days
            args = (meter, [s.day for s in days], [s.discharge[meter] for s in days], [s.need for s in days],
                    [s.cover for s in days], [s.proofs[meter] for s in days])
        if not want:
            with boa.reverts("storage: nothing green"):
                call(*args, sender=owner)
            return
        id = call(*args, sender=owner)
        event("a discharge certificate claimed")
        (profile,) = [e for e in self.ledger.get_logs(include_child_logs=True) if _name(e) == "CertificateProfile"]
        assert profile.id == id and P.unpack(profile.first_slot, profile.slot_wh) == want
        spd = DAY_S // SLOT_S
        words = P.pack(days[0].day * spd, (days[-1].day + 1) * spd - 1, want)
        assert self.cert.profile_commitment(id) == P.commitment(id, words)
        c = self.cert.certificate(id)
        assert (c.method, c.period_start, c.period_end) == (6, days[0].day * DAY_S, (days[-1].day + 1) * DAY_S)
        for k, wh in want.items():
            self.green_slot[k] = self.green_slot.get(k, 0) + wh
        self.green_total += sum(want.values())

    # ------------------------------------------------------------ invariants

    @invariant()
    def queue_equals_the_reference(self):
        ref: list[list[int]] = []
        for lot in self.battery.content:
            if ref and ref[-1][0] == lot.charge_slot:
                ref[-1][2] += lot.wh
            else:
                ref.append([lot.charge_slot, lot.charge_slot, lot.wh])
        assert [[x.first_slot, x.last_slot, x.wh] for x in self.ledger.lots()] == ref
        assert self.ledger.content_wh() == self.battery.content_wh

    @invariant()
    def green_within_taken_times_eta(self):
        """Per slot and cumulatively: green certified * 1e6 <= charge taken * eta."""
        assert self.green_total * 1_000_000 <= self.taken_total * ETA
        for k, wh in self.green_slot.items():
            assert wh * 1_000_000 <= self.taken_slot[k] * ETA, k

    @invariant()
    def no_wh_counts_twice(self):
        for meter, credited in self.credited.items():
            if self.methods[meter] == 0:
                assert self.stored[meter] == 0 and tuple(self.reg.certifiable(meter))[0] == 0
                continue
            certifiable = tuple(self.reg.certifiable(meter))[0]
            owed = self.reg.owed_wh(meter)
            if owed:
                event("a generator owes stored Wh")
            assert self.issued[meter] + certifiable == credited - self.stored[meter] + owed
            assert owed <= self.stored[meter]


TestStorageMachine = StorageMachine.TestCase
