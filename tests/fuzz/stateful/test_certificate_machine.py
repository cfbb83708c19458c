"""DESIGN.md invariant 3 driven together with readings: certificates.

For every meter, Wh ever issued <= renewable generation credited by accepted
readings; per id, issued == outstanding + claimed (and outstanding == the sum
of holders' balances); one meter's certificate periods never overlap; revoked
or expired ids never move or get claimed, in single and batch transfers (ids
repeated, mixed with revoked or expired ones, sent by approved operators)."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import domain_of, meter_signer

OPERATOR = boa.env.generate_address("cert-operator")
HOLDERS = [boa.env.generate_address(f"cert-holder-{i}") for i in range(3)]
BENEFICIARIES = [boa.env.generate_address(f"cert-beneficiary-{i}") for i in range(2)]
# label, owner (a holder), method, rated power W
METERS = [("pv", 0, 1, 10_000), ("wind", 1, 2, 50_000), ("home", 2, 0, 5_000)]
_DEPLOY = boa_deployer(OPERATOR)


class CertificateMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = deploy_system(_DEPLOY, OPERATOR, SystemParams(10**9, 300, rent_rate=0, claim_window_s=30 * 86_400))
        self.reg, self.cert = self.sys.registry, self.sys.certificate
        self.domain = domain_of(self.reg)
        self.meters = []
        self.credited = {}  # renewable Wh credited per meter, summed from ReadingAccepted events
        for label, owner, method, power in METERS:
            signer = meter_signer(f"cert-{label}")
            # commissioned a second ago at zero and accepted by its owner
            onboard_meter(self.reg, OPERATOR, HOLDERS[owner], signer.address, method, power, label, Registers(self.now - 1))
            self.meters.append(dict(signer=signer, owner=HOLDERS[owner], method=method, power=power, gen=0, last=0))
            self.credited[signer.address] = 0
            self._submit(self.meters[-1])  # a first reading: nothing generated since commissioning
        self.issued = {m["signer"].address: 0 for m in self.meters}
        self.ids = {}  # id -> meter address
        self.claimed = {}  # (beneficiary, id) -> Wh
        self.revoked = set()
        self.approved = set()  # (holder, operator) pairs with setApprovalForAll

    def _submit(self, m):
        r = Reading(m["signer"].address, self.now, m["gen"], 0, 0, 0)
        self.reg.submit_readings([r.as_call_arg()], [m["signer"].sign(r, self.domain)])
        for e in self.reg.get_logs():
            if type(e).__name__ == "ReadingAccepted" and m["method"] != 0:
                self.credited[str(e.meter)] += e.generated_wh

    # ------------------------------------------------------------ rules

    @initialize(seconds=st.integers(60, 3_600))
    def first_certificates(self, seconds):
        """Every renewable meter generates for a while and gets one certificate, so transfer,
        batch and claim rules have ids to work on from the first step."""
        for i, m in enumerate(self.meters):
            if m["method"]:
                self.generate(i, seconds, 1.0)
                self.issue(i, False)

    @rule(i=st.integers(0, len(METERS) - 1), seconds=st.integers(60, 7_200), frac=st.floats(0, 1))
    def generate(self, i, seconds, frac):
        m = self.meters[i]
        boa.env.time_travel(seconds=seconds)
        m["gen"] += int(m["power"] * seconds // 3600 * frac)
        self._submit(m)

    @rule(i=st.integers(0, len(METERS) - 1), by_operator=st.booleans())
    def issue(self, i, by_operator):
        m = self.meters[i]
        address = m["signer"].address
        pending = self.credited[address] - self.issued[address]
        sender = OPERATOR if by_operator else m["owner"]
        if pending == 0:
            with boa.reverts("certificate: nothing to issue"):
                self.cert.issue(address, sender=sender)
            return
        id = self.cert.issue(address, sender=sender)
        self.ids[id] = address
        self.issued[address] += pending
        assert self.cert.certificate(id).amount_wh == pending
        event("issued")

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def transfer(self, data):
        id = data.draw(st.sampled_from(sorted(self.ids)))
        src = data.draw(st.sampled_from(HOLDERS))
        dst = data.draw(st.sampled_from(HOLDERS))
        bal = self.cert.balanceOf(src, id)
        amount = data.draw(st.integers(0, bal + 1))
        if id in self.revoked:
            with boa.reverts("certificate: revoked"):
                self.cert.safeTransferFrom(src, dst, id, amount, b"", sender=src)
        elif self.now > self.cert.certificate(id).expires_at:
            with boa.reverts("certificate: expired"):
                self.cert.safeTransferFrom(src, dst, id, amount, b"", sender=src)
        elif amount > bal:
            with boa.reverts("erc1155: insufficient balance for transfer"):
                self.cert.safeTransferFrom(src, dst, id, amount, b"", sender=src)
        else:
            self.cert.safeTransferFrom(src, dst, id, amount, b"", sender=src)

    @rule(holder=st.sampled_from(HOLDERS), operator=st.sampled_from(HOLDERS), approved=st.booleans())
    def set_approval(self, holder, operator, approved):
        if holder == operator:
            with boa.reverts("erc1155: setting approval status for self"):
                self.cert.setApprovalForAll(operator, approved, sender=holder)
            return
        self.cert.setApprovalForAll(operator, approved, sender=holder)
        (self.approved.add if approved else self.approved.discard)((holder, operator))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), n=st.integers(1, 5))
    def batch_transfer(self, data, n):
        """safeBatchTransferFrom with ids drawn with repetition: predicted from the per-id rules
        (revoked, then expired, in the batch's order) and sequential balances."""
        ids = [data.draw(st.sampled_from(sorted(self.ids))) for _ in range(n)]
        src = data.draw(st.sampled_from(HOLDERS))
        dst = data.draw(st.sampled_from(HOLDERS))
        sender = data.draw(st.sampled_from([src] * 4 + HOLDERS))
        balances = {(h, i): self.cert.balanceOf(h, i) for h in HOLDERS for i in set(ids)}
        amounts = [data.draw(st.integers(0, balances[(src, i)] + 1)) for i in ids]
        expect = None
        if sender != src and (src, sender) not in self.approved:
            expect = "erc1155: caller is not token owner or approved"
        for i in ids:
            if expect:
                break
            if i in self.revoked:
                expect = "certificate: revoked"
            elif self.now > self.cert.certificate(i).expires_at:
                expect = "certificate: expired"
        after = dict(balances)
        for i, amount in zip(ids, amounts):
            if expect:
                break
            if after[(src, i)] < amount:
                expect = "erc1155: insufficient balance for transfer"
                break
            after[(src, i)] -= amount
            after[(dst, i)] += amount
        if expect:
            with boa.reverts(expect):
                self.cert.safeBatchTransferFrom(src, dst, ids, amounts, b"", sender=sender)
            event(f"batch rejected: {expect}")
            after = balances
        else:
            self.cert.safeBatchTransferFrom(src, dst, ids, amounts, b"", sender=sender)
            event("batch moved")
        assert {k: self.cert.balanceOf(*k) for k in balances} == after

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def claim(self, data):
        id = data.draw(st.sampled_from(sorted(self.ids)))
        with_balance = [h for h in HOLDERS if self.cert.balanceOf(h, id)]
        holder = data.draw(st.sampled_from(with_balance or HOLDERS))
        beneficiary = data.draw(st.sampled_from(BENEFICIARIES))
        bal = self.cert.balanceOf(holder, id)
        too_much = data.draw(st.integers(0, 4)) == 0
        amount = bal + 1 if too_much or bal == 0 else data.draw(st.integers(1, bal))
        if id in self.revoked:
            expect = "certificate: revoked"
        elif self.now > self.cert.certificate(id).expires_at:
            expect = "certificate: expired"
        elif amount > bal:
            expect = "certificate: claim exceeds balance"
        else:
            self.cert.claim(id, amount, beneficiary, "machine", sender=holder)
            self.claimed[(beneficiary, id)] = self.claimed.get((beneficiary, id), 0) + amount
            event("claimed")
            return
        with boa.reverts(expect):
            self.cert.claim(id, amount, beneficiary, "machine", sender=holder)
        event(f"claim rejected: {expect}")

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), dice=st.integers(0, 3))
    def revoke(self, data, dice):
        if dice:  # revocation is rare in practice; keep most ids alive
            return
        id = data.draw(st.sampled_from(sorted(self.ids)))
        if id in self.revoked:
            with boa.reverts("certificate: already revoked"):
                self.cert.revoke(id, "again", sender=OPERATOR)
            return
        self.cert.revoke(id, "audit", sender=OPERATOR)
        self.revoked.add(id)

    @rule(days=st.integers(1, 40))
    def advance_days(self, days):
        boa.env.time_travel(seconds=days * 86_400)

    # ------------------------------------------------------------ invariants

    @invariant()
    def issued_never_exceeds_credited_generation(self):
        for m in self.meters:
            a = m["signer"].address
            on_chain_issued = sum(self.cert.issued_wh_of(i) for i, meter in self.ids.items() if meter == a)
            pending = self.reg.certifiable(a)[0]
            assert on_chain_issued == self.issued[a] <= self.credited[a]
            assert on_chain_issued + pending == self.credited[a]  # nothing lost, nothing twice
            if m["method"] == 0:
                assert on_chain_issued == 0 and pending == 0

    @invariant()
    def issued_is_outstanding_plus_claimed(self):
        for id in self.ids:
            outstanding = self.cert.total_supply(id)
            assert outstanding == sum(self.cert.balanceOf(h, id) for h in HOLDERS)
            claimed = sum(self.cert.claimed_balance_of(b, id) for b in BENEFICIARIES)
            assert claimed == sum(v for (b, i), v in self.claimed.items() if i == id)
            assert self.cert.issued_wh_of(id) == outstanding + claimed == outstanding + self.cert.claimed_of(id)

    @invariant()
    def periods_of_a_meter_never_overlap(self):
        by_meter = {}
        for id, meter in self.ids.items():
            c = self.cert.certificate(id)
            assert c.period_start < c.period_end
            by_meter.setdefault(meter, []).append((c.period_start, c.period_end))
        for periods in by_meter.values():
            periods.sort()
            for (_s1, e1), (s2, _e2) in zip(periods, periods[1:]):
                assert s2 >= e1  # half-open (start, end]: touching is not overlapping


TestCertificateMachine = CertificateMachine.TestCase
