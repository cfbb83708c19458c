"""DESIGN.md invariant 3 driven together with readings: certificates.

For every meter, Wh ever issued <= renewable generation credited by accepted
readings; per id, issued == outstanding + claimed (and outstanding == the sum
of holders' balances); one meter's certificate periods never overlap; revoked
or expired ids never move or get claimed, in single and batch transfers (ids
repeated, mixed with revoked or expired ones, sent by approved operators).

Per slot (invariant 9): certificates carry their per-slot profile (or none, within one month);
time-matched claims name slots; for every meter and slot, Wh claimed by slot <= Wh certified <=
Wh generated (attributed to the slot of each reading's last second); no certificate's period
crosses a calendar month; the on-chain commitment always equals the unclaimed words; only the
meter's owner issues; expiry is one rule: live while now < expires_at."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint import profile as P
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import T0, AnchoredMachine
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("cert-operator")
HOLDERS = [boa.env.generate_address(f"cert-holder-{i}") for i in range(3)]
BENEFICIARIES = [boa.env.generate_address(f"cert-beneficiary-{i}") for i in range(2)]
# label, owner (a holder), method, rated power W
METERS = [("pv", 0, 1, 10_000), ("wind", 1, 2, 50_000), ("home", 2, 0, 5_000)]
_DEPLOY = boa_deployer(OPERATOR)


class CertificateMachine(AnchoredMachine):
    @classmethod
    def _fixture_build(cls):
        """The system with every meter commissioned a second before T0 at zero, accepted by its owner,
        and a first reading at T0 that credits nothing (so every example starts with nothing credited)."""
        sys = deploy_system(_DEPLOY, OPERATOR, SystemParams(10**9, 300, rent_rate=0, claim_window_s=30 * 86_400))
        reg = sys.registry
        domain = domain_of(reg)
        signers = [meter_signer(f"cert-{label}") for label, *_ in METERS]
        for signer, (label, owner, method, power) in zip(signers, METERS):
            onboard_meter(reg, OPERATOR, HOLDERS[owner], signer.address, method, power, label, Registers(T0 - 1))
            r = Reading(signer.address, T0, 0, 0, 0, 0)
            submit_one(reg, signer, r, domain)
            accepted = [e for e in reg.get_logs() if type(e).__name__ == "ReadingAccepted"]
            assert [e.generated_wh for e in accepted] == [0], "a first reading credited generation"
        return {"reg": reg, "cert": sys.certificate, "sys": sys, "domain": domain, "signers": signers}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.sys, self.reg, self.cert, self.domain = fx["sys"], fx["reg"], fx["cert"], fx["domain"]
        self.meters = []
        self.credited = {}  # renewable Wh credited per meter, summed from ReadingAccepted events
        self.long_gaps = 0  # one long gap per run: each issues several months of 186-word profiles (slow in boa)
        for signer, (label, owner, method, power) in zip(fx["signers"], METERS):
            self.meters.append(dict(signer=signer, owner=HOLDERS[owner], method=method, power=power, gen=0, last=0, slots={}))
            self.credited[signer.address] = 0
        self.issued = {m["signer"].address: 0 for m in self.meters}
        self.ids = {}  # id -> meter address
        self.terms = {}  # id -> its period, slots and vintage, as first read and checked (`_terms_of`)
        self.expected = {}  # id -> (unclaimed words, their commitment) as last hashed
        self.claimed = {}  # (beneficiary, id) -> Wh
        self.revoked = set()
        self.approved = set()  # (holder, operator) pairs with setApprovalForAll
        self.slot_s = self.cert.SLOT_S()
        self.generated = {}  # (meter, slot) -> Wh credited, from ReadingAccepted
        self.certified = {}  # (meter, slot) -> Wh certified, from CertificateProfile
        self.unclaimed = {}  # id -> {slot: Wh} not yet claimed by slot
        self.slot_claimed = {}  # (meter, slot) -> Wh claimed by time-matched claims

    def _submit(self, m):
        r = Reading(m["signer"].address, self.now, m["gen"], 0, 0, 0)
        submit_one(self.reg, m["signer"], r, self.domain)
        for e in self.reg.get_logs():
            if type(e).__name__ == "ReadingAccepted" and m["method"] != 0:
                self.credited[str(e.meter)] += e.generated_wh
                if e.generated_wh:
                    slot = P.slot_of_reading(e.timestamp, self.slot_s)
                    key = (str(e.meter), slot)
                    self.generated[key] = self.generated.get(key, 0) + e.generated_wh
                    m["slots"][slot] = m["slots"].get(slot, 0) + e.generated_wh

    # ------------------------------------------------------------ rules

    @initialize(seconds=st.integers(60, 3_600))
    def first_certificates(self, seconds):
        """Every renewable meter generates for a while and gets one certificate, so transfer,
        batch and claim rules have ids to work on from the first step."""
        for i, m in enumerate(self.meters):
            if m["method"]:
                self.generate(i, seconds, 1.0)
                self.issue(i, False, True)

    @rule(i=st.integers(0, len(METERS) - 1), seconds=st.integers(60, 7_200), frac=st.floats(0, 1))
    def generate(self, i, seconds, frac):
        m = self.meters[i]
        boa.env.time_travel(seconds=seconds)
        m["gen"] += int(m["power"] * seconds // 3600 * frac)
        self._submit(m)

    @rule(i=st.integers(0, len(METERS) - 1), by_operator=st.booleans(), with_profile=st.booleans())
    def issue(self, i, by_operator, with_profile):
        m = self.meters[i]
        address = m["signer"].address
        pending = self.credited[address] - self.issued[address]
        sender = OPERATOR if by_operator else m["owner"]
        if pending == 0:
            with boa.reverts("certificate: nothing to issue"):
                self.cert.issue(address, sender=sender)
            return
        if by_operator:  # LOW: the operator cannot split a member's generation
            with boa.reverts("certificate: caller is not the meter owner"):
                self.cert.issue(address, sender=sender)
            event("operator issuance refused")
            return
        _, start, end = self.reg.certifiable(address)
        first, last = P.slot_range(start, end, self.slot_s)
        one_month = P.month_of(first * self.slot_s)[2] >= end
        if not with_profile and not one_month:
            with boa.reverts("certificate: period spans two months; issue with a profile"):
                self.cert.issue(address, sender=sender)
            event("unprofiled across months refused")
            return
        words = P.issue_words(start, end, m["slots"], self.slot_s) if with_profile else []
        until = 0
        if len(words) > P.MAX_PROFILE_WORDS:  # a long gap: more than one profile carries
            until = P.next_part_end(start, end, self.slot_s)
            words = P.issue_words(start, until, m["slots"], self.slot_s)
            event("long gap: the oldest month issued as a part")
        self._issue(m, words, until)

    def _issue(self, m, words, until):
        """The owner issues the pending period whole (until 0) or its part (start, until]; checks
        what was minted against the model and records it."""
        address = m["signer"].address
        pending = self.credited[address] - self.issued[address]
        assert sum(m["slots"].values()) == pending
        cut = until // self.slot_s if until else None
        taken = sum(w for s, w in m["slots"].items() if s < cut) if until else pending
        if until:
            first_id = self.cert.issue(address, words, until, sender=m["owner"])
        else:
            first_id = self.cert.issue(address, words, sender=m["owner"])
        logs = self.cert.get_logs()
        new = [e.id for e in logs if type(e).__name__ == "CertificateIssued"]
        if taken == 0:  # a part with no generation: the period's start moves, nothing is minted
            assert first_id == 0 and new == []
            event("a part with no generation")
        else:
            assert new[0] == first_id and new == list(range(first_id, first_id + len(new)))
        assert sum(self.cert.certificate(id).amount_wh for id in new) == taken
        for e in logs:
            if type(e).__name__ == "CertificateProfile":
                slots = P.unpack(e.first_slot, e.slot_wh)
                self.unclaimed[e.id] = slots
                for slot, wh in slots.items():
                    self.certified[(address, slot)] = self.certified.get((address, slot), 0) + wh
        for id in new:
            self.ids[id] = address
        self.issued[address] += taken
        m["slots"] = {s: w for s, w in m["slots"].items() if s >= cut} if until else {}
        if until:
            assert self.reg.certifiable(address)[1] == until or pending == taken
        event(f"issued {len(new)} certificate(s){' with profile' if words else ''}{' as a part' if until else ''}")

    @precondition(lambda self: self.long_gaps < 1)
    @rule(i=st.sampled_from([0, 1]), days=st.integers(67, 100), readings=st.integers(1, 12), frac=st.floats(0.1, 1))
    def long_gap_then_issue_month_by_month(self, i, days, readings, frac):
        """A member who has not issued for over 66 days (more than one profile carries; a plain
        issuance spans months) issues the oldest month at a time until nothing is left."""
        self.long_gaps += 1
        m = self.meters[i]
        address = m["signer"].address
        self.issue(i, False, True)  # start the gap from nothing pending
        for k in range(readings):
            self.generate(i, days * 86_400 // readings, frac)
        _, start, end = self.reg.certifiable(address)
        if len(P.issue_words(start, end, m["slots"], self.slot_s)) > P.MAX_PROFILE_WORDS:
            with boa.reverts("certificate: period spans two months; issue with a profile"):
                self.cert.issue(address, sender=m["owner"])
        # one call per month at most (the period may start long before the gap: readings without
        # generation leave its start at the last issuance)
        for _ in range(P.months_touched(start, end, self.slot_s)):
            if not self.reg.certifiable(address)[0]:
                break
            self.issue(i, False, True)
        assert self.reg.certifiable(address)[0] == 0  # never stuck

    @rule(i=st.sampled_from([0, 1]), data=st.data())
    def issue_a_part(self, i, data):
        """The owner issues the pending period up to any slot boundary inside it; the rest stays."""
        m = self.meters[i]
        address = m["signer"].address
        wh, start, end = self.reg.certifiable(address)
        lo, hi = start // self.slot_s + 1, (end - 1) // self.slot_s
        if not wh or lo > hi:
            return
        until = data.draw(st.integers(lo, hi)) * self.slot_s
        words = P.issue_words(start, until, m["slots"], self.slot_s)
        if len(words) > P.MAX_PROFILE_WORDS:
            return
        if data.draw(st.integers(0, 4)) == 0:  # now and then a rejected part first: nothing moves
            with boa.reverts("certificate: until is not a slot boundary"):
                self.cert.issue(address, words, until - 1, sender=m["owner"])
            assert tuple(self.reg.certifiable(address)) == (wh, start, end)
        self._issue(m, words, until)

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
        elif self.now >= self.cert.certificate(id).expires_at:
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
            elif self.now >= self.cert.certificate(i).expires_at:
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
        elif self.now >= self.cert.certificate(id).expires_at:
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

    @precondition(lambda self: self.unclaimed)
    @rule(data=st.data())
    def claim_slots(self, data):
        """A time-matched claim: some slots of a profiled certificate, sometimes one Wh too many."""
        id = data.draw(st.sampled_from(sorted(self.unclaimed)))
        meter = self.ids[id]
        with_balance = [h for h in HOLDERS if self.cert.balanceOf(h, id)]
        holder = data.draw(st.sampled_from(with_balance or HOLDERS))
        bal = self.cert.balanceOf(holder, id)
        first, last, profiled = self.cert.slots_of(id)
        assert profiled
        base = P.first_word_slot(first)
        left = self.unclaimed[id]
        words = P.pack(first, last, left)
        open_slots = sorted(s for s, wh in left.items() if wh)
        picked = data.draw(st.lists(st.sampled_from(open_slots or [first]), min_size=1, max_size=6, unique=True))
        take = {s: data.draw(st.integers(1, max(1, left.get(s, 0)))) for s in picked}
        over = data.draw(st.integers(0, 5)) == 0
        if over:
            take[picked[0]] = left.get(picked[0], 0) + 1
        lo, hi = (min(take) - base) // 8, (max(take) - base) // 8
        claim_words = P.pack(base + 8 * lo, base + 8 * hi + 7, take)
        amount = sum(take.values())
        beneficiary = data.draw(st.sampled_from(BENEFICIARIES))
        if id in self.revoked:
            expect = "certificate: revoked"
        elif self.now >= self.cert.certificate(id).expires_at:
            expect = "certificate: expired"
        elif any(wh > left.get(s, 0) for s, wh in take.items()):
            expect = "certificate: slot claim exceeds its generation"
        elif amount > bal:
            expect = "certificate: claim exceeds balance"
        else:
            self.cert.claim_slots(id, words, lo, claim_words, beneficiary, "machine 24/7", sender=holder)
            (e,) = [e for e in self.cert.get_logs() if type(e).__name__ == "ClaimedSlots"]
            assert P.unpack(e.first_slot, e.slot_wh) == take and e.amount == amount
            for s, wh in take.items():
                left[s] -= wh
                self.slot_claimed[(meter, s)] = self.slot_claimed.get((meter, s), 0) + wh
            self.claimed[(beneficiary, id)] = self.claimed.get((beneficiary, id), 0) + amount
            event("claimed by slot")
            return
        with boa.reverts(expect):
            self.cert.claim_slots(id, words, lo, claim_words, beneficiary, "machine 24/7", sender=holder)
        event(f"slot claim rejected: {expect}")

    @rule(i=st.sampled_from([0, 1]), before=st.integers(60, 3_600), after=st.integers(60, 3_600),
          with_profile=st.booleans(), by_operator=st.integers(0, 4))
    def generate_across_a_month_end_and_issue(self, i, before, after, with_profile, by_operator):
        """A reading just before a month ends, one after, then an issuance (now and then tried by
        the operator): with a profile it becomes one certificate per month."""
        t = P.month_of(self.now)[2] - before
        if t > self.now:
            boa.env.evm.patch.timestamp = t
        self.generate(i, 1, 1.0)
        self.generate(i, before + after, 1.0)
        self.issue(i, by_operator == 0, with_profile)

    @rule(before=st.integers(1, 7_200))
    def to_a_month_end(self, before):
        """Just before the next UTC month starts, so generation and issuance straddle it."""
        t = P.month_of(self.now)[2] - before
        if t > self.now:
            boa.env.evm.patch.timestamp = t

    @rule(seconds=st.sampled_from([1, 1_799, 1_800]))
    def to_the_next_slot_or_expiry(self, seconds):
        """Time steps that land on slot ends and, now and then, exactly on an expiry."""
        expiries = sorted({self.cert.certificate(i).expires_at for i in self.ids if self.cert.certificate(i).expires_at > self.now})
        if expiries and seconds == 1:
            boa.env.evm.patch.timestamp = expiries[0]
        else:
            boa.env.time_travel(seconds=seconds)

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

    @rule(days=st.integers(1, 20))
    def advance_days(self, days):
        boa.env.time_travel(seconds=days * 86_400)

    # ------------------------------------------------------------ invariants

    @invariant()
    def issuance_adds_up(self):
        """Per meter, issued <= credited and issued + pending == credited; per id, issued == outstanding +
        claimed. Each id's `issued_wh_of` is read once a step and serves both."""
        issued = {id: self.cert.issued_wh_of(id) for id in self.ids}
        self._issued_never_exceeds_credited_generation(issued)
        self._issued_is_outstanding_plus_claimed(issued)

    def _issued_never_exceeds_credited_generation(self, issued):
        for m in self.meters:
            a = m["signer"].address
            on_chain_issued = sum(wh for i, wh in issued.items() if self.ids[i] == a)
            pending = self.reg.certifiable(a)[0]
            assert on_chain_issued == self.issued[a] <= self.credited[a]
            assert on_chain_issued + pending == self.credited[a]  # nothing lost, nothing twice
            if m["method"] == 0:
                assert on_chain_issued == 0 and pending == 0

    def _issued_is_outstanding_plus_claimed(self, issued):
        ids = list(self.ids)
        # every holder's balance of every id in one call (holder-major), not one call per pair
        held = self.cert.balanceOfBatch([h for h in HOLDERS for _ in ids], ids * len(HOLDERS)) if ids else []
        for j, id in enumerate(ids):
            outstanding = self.cert.total_supply(id)
            assert outstanding == sum(held[k * len(ids) + j] for k in range(len(HOLDERS)))
            claimed = sum(self.cert.claimed_balance_of(b, id) for b in BENEFICIARIES)
            assert claimed == sum(v for (b, i), v in self.claimed.items() if i == id)
            assert issued[id] == outstanding + claimed == outstanding + self.cert.claimed_of(id)

    def _terms(self, id):
        """What a certificate says of its time, fixed at issue: its period (start, end], its first and
        last slot and its vintage."""
        c = self.cert.certificate(id)
        first, last, _ = self.cert.slots_of(id)
        return c.period_start, c.period_end, first, last, self.cert.vintage(id)

    def _terms_of(self, id):
        """`_terms(id)` as first read, kept (`teardown` reads every id's again and compares). On that first
        read it is checked: its period is not empty, does not overlap its meter's other periods and does
        not cross a month."""
        if id not in self.terms:
            start, end, first, last, vintage = terms = self._terms(id)
            assert start < end
            for other, (s, e, *_) in self.terms.items():
                if self.ids[other] == self.ids[id]:
                    assert end <= s or e <= start, (id, other)  # half-open (start, end]: touching is not overlapping
            month = P.month_of(first * self.slot_s)[0]
            assert month == P.month_of(last * self.slot_s)[0] == vintage
            self.terms[id] = terms
        return self.terms[id]

    @invariant()
    def periods_never_overlap_nor_cross_a_month(self):
        """A meter's periods never overlap, and no period crosses a month (`_terms_of`). Each
        certificate's terms are read when it first shows up and kept; `teardown` reads them all again,
        so a later change to any of them fails the run (reading every id's terms after every step cost
        a third of this machine's time)."""
        for id in self.ids:
            self._terms_of(id)

    def teardown(self):
        try:
            for id, terms in self.terms.items():
                assert self._terms(id) == terms, f"certificate {id}'s period, slots or vintage changed"
        finally:
            super().teardown()

    @invariant()
    def per_slot_claimed_within_certified_within_generated(self):
        """Invariant 9: for every meter and slot, claimed <= certified <= generated."""
        for key, wh in self.certified.items():
            assert wh <= self.generated.get(key, 0), key
        for key, wh in self.slot_claimed.items():
            assert wh <= self.certified.get(key, 0), key

    @invariant()
    def commitments_match_the_unclaimed_words(self):
        """Every profiled id's on-chain commitment is that of the model's unclaimed words, after every
        step. The expected commitment is hashed again only when the model's words change."""
        for id, left in self.unclaimed.items():
            kept = self.expected.get(id)
            if kept is None or kept[0] != left:
                _, _, first, last, _ = self._terms_of(id)
                kept = self.expected[id] = (dict(left), P.commitment(id, P.pack(first, last, left)))
            assert self.cert.profile_commitment(id) == kept[1]


TestCertificateMachine = CertificateMachine.TestCase
