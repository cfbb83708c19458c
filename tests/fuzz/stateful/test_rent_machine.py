"""DESIGN.md invariants 1 and 2 with time travel: storage rent on WATT.

A Python mirror of the ledger predicts every call; an independent exact
integral (fractions) of stored energy x rate over time bounds what was
charged: exact <= charged <= exact + one base unit per charge. Also: TSL held
by WATT == deposits + uncollected revenue; supply == balances + escrow <=
capacity; minted == credited exports, burned == covered imports + releases."""

from fractions import Fraction

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import domain_of, meter_signer

OPERATOR = boa.env.generate_address("rent-operator")
MEMBERS = [boa.env.generate_address(f"rent-member-{i}") for i in range(3)]
DENOM = 86_400_000
CAPACITY = 200_000
GRACE = 3 * 86_400
_DEPLOY = boa_deployer(OPERATOR)


def ceil_div(a, b):
    return -(-a // b)


class Acct:
    def __init__(self):
        self.bal = self.esc = self.dep = self.snap = self.arrears = self.since = 0


class RentMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = deploy_system(
            _DEPLOY, OPERATOR, SystemParams(CAPACITY, 300, rent_rate=3_479_000_000_000_000, rent_grace_period_s=GRACE)
        )
        self.watt, self.tsl, self.reg = self.sys.watt, self.sys.tsl, self.sys.registry
        self.exchange = str(self.sys.exchange.address)  # impersonated to drive the escrow seam
        self.domain = domain_of(self.reg)
        self.meters = {}
        self.regs = {}
        for i, m in enumerate(MEMBERS):
            signer = meter_signer(f"rent-meter-{i}")
            self.reg.register_meter(signer.address, m, 1, 10**15, "m", sender=OPERATOR)
            self.meters[m] = signer
            self.regs[m] = [0, 0, 0, 0]
            self._reading(m)  # baseline
            self.tsl.mint(m, 10**24, sender=OPERATOR)
            self.tsl.approve(self.watt.address, 2**256 - 1, sender=m)
        # mirror
        self.rate = self.watt.rent_rate()
        self.index = 0
        self.index_t = self.now
        self.accts = {m: Acct() for m in MEMBERS}
        self.revenue = 0
        self.claimed = 0
        self.minted = self.burned_imports = self.released = 0
        self.charges = 0
        self.charged_total = 0  # paid + unpaid over all charges
        self.exact = Fraction(0)  # independent integral of stored * rate dt / DENOM
        self.exact_t = self.now
        for m in MEMBERS[:2]:  # two members start with a deposit, one without
            self.deposit(m, 10**18)

    # ---------------------------------------------------------------- mirror

    def _reading(self, member):
        signer = self.meters[member]
        r = Reading(signer.address, self.now, *self.regs[member])
        return self.reg.submit_readings([r.as_call_arg()], [signer.sign(r, self.domain)])

    def _advance_exact(self):
        dt = self.now - self.exact_t
        if dt:
            stored = sum(a.bal + a.esc for a in self.accts.values())
            self.exact += Fraction(stored * self.rate * dt, DENOM)
            self.exact_t = self.now

    def _index_now(self):
        return self.index + self.rate * (self.now - self.index_t)

    def _owed(self, m):
        a = self.accts[m]
        return ceil_div((a.bal + a.esc) * ((self._index_now() - a.snap) % 2**96), DENOM)

    def _in_arrears_if_touched(self, m):
        """Predicts, without touching the mirror, whether a call would find `m` in arrears
        (a reverted call rolls its own rent charge back, so the mirror must not apply it)."""
        a = self.accts[m]
        return a.arrears > 0 or self._owed(m) > a.dep

    def _settle(self, m):
        a = self.accts[m]
        idx = self._index_now()
        owed = ceil_div((a.bal + a.esc) * ((idx - a.snap) % 2**96), DENOM)
        a.snap = idx % 2**96
        if owed:
            paid = min(owed, a.dep)
            a.dep -= paid
            self.revenue += paid
            if owed > paid:
                if a.arrears == 0:
                    a.since = self.now
                a.arrears += owed - paid
            self.charges += 1
            self.charged_total += owed
            event("rent charged" + (" into arrears" if owed > paid else ""))
        return a

    def _supply(self):
        return sum(a.bal + a.esc for a in self.accts.values())

    # ---------------------------------------------------------------- rules

    @rule(seconds=st.one_of(st.integers(1, 3_600), st.integers(3_600, 10 * 86_400)))
    def advance_time(self, seconds):
        self._advance_exact()
        boa.env.time_travel(seconds=seconds)
        self._advance_exact()

    @rule(member=st.sampled_from(MEMBERS), exp=st.integers(0, 60_000), imp=st.integers(0, 60_000))
    def meter_flows(self, member, exp, imp):
        self._advance_exact()
        boa.env.time_travel(seconds=1)
        self._advance_exact()
        self.regs[member][2] += exp
        self.regs[member][3] += imp
        self._reading(member)
        if exp or imp:
            a = self._settle(member)
            minted = min(exp, CAPACITY - self._supply())
            a.bal += minted
            burned = min(imp, a.bal)
            a.bal -= burned
            self.minted += minted
            self.burned_imports += burned

    @rule(src=st.sampled_from(MEMBERS), dst=st.sampled_from(MEMBERS), frac=st.floats(0, 1))
    def transfer(self, src, dst, frac):
        self._advance_exact()
        if self._in_arrears_if_touched(src):
            with boa.reverts("watt: account in arrears"):
                self.watt.transfer(dst, 0, sender=src)
            return
        a = self._settle(src)
        amount = int(a.bal * frac)
        self.watt.transfer(dst, amount, sender=src)
        a.bal -= amount
        self._settle(dst).bal += amount if dst != src else 0
        if dst == src:
            a.bal += amount

    @rule(member=st.sampled_from(MEMBERS), amount=st.integers(1, 10**19))
    def deposit(self, member, amount):
        self._advance_exact()
        a = self._settle(member)
        self.watt.deposit_rent(amount, sender=member)
        paid = min(amount, a.arrears)
        a.arrears -= paid
        if a.arrears == 0:
            a.since = 0
        a.dep += amount - paid
        self.revenue += paid

    @rule(member=st.sampled_from(MEMBERS), frac=st.floats(0, 1.2))
    def withdraw(self, member, frac):
        self._advance_exact()
        unspent = self.watt.rent_deposit(member)
        amount = int(unspent * frac)
        if amount > unspent:
            with boa.reverts("watt: amount exceeds unspent deposit"):
                self.watt.withdraw_rent(amount, sender=member)
            return
        a = self._settle(member)
        assert a.dep == unspent
        self.watt.withdraw_rent(amount, sender=member)
        a.dep -= amount

    @rule(member=st.sampled_from(MEMBERS))
    def settle(self, member):
        self._advance_exact()
        self._settle(member)
        self.watt.settle_rent(member)

    @rule(member=st.sampled_from(MEMBERS))
    def wait_out_grace_then_release(self, member):
        self.advance_time(GRACE + 1)
        self.release(member)

    @rule(member=st.sampled_from(MEMBERS))
    def release(self, member):
        self._advance_exact()
        a = self.accts[member]
        owed = self._owed(member)
        short = owed - min(owed, a.dep)
        arrears_after = a.arrears + short
        since_after = a.since if a.arrears else (self.now if short else 0)
        price = self.watt.release_price()
        if arrears_after == 0:
            with boa.reverts("watt: no arrears"):
                self.watt.release_unpaid(member)
            return
        if self.now < since_after + GRACE:
            with boa.reverts("watt: grace period not over"):
                self.watt.release_unpaid(member)
            return
        needed = ceil_div(arrears_after * 1000, price)
        if min(needed, a.bal) == 0:
            with boa.reverts("watt: nothing to release"):
                self.watt.release_unpaid(member)
            return
        a = self._settle(member)
        wh = self.watt.release_unpaid(member)
        assert wh == min(needed, a.bal)
        settled = a.arrears if wh == needed else min(a.arrears, wh * price // 1000)
        a.bal -= wh
        a.arrears -= settled
        if a.arrears == 0:
            a.since = 0
        self.released += wh
        event("storage released")

    @rule(rate=st.sampled_from([0, 1, 86_400_001, 3_479_000_000_000_000, 10**17]))
    def set_rate(self, rate):
        self._advance_exact()
        self.index = self._index_now()
        self.index_t = self.now
        self.rate = rate
        self.watt.set_rent_rate(rate, sender=OPERATOR)

    @rule()
    def claim(self):
        self.watt.claim_rent_revenue(sender=OPERATOR)
        self.claimed += self.revenue
        self.revenue = 0

    @rule(member=st.sampled_from(MEMBERS), frac=st.floats(0, 1))
    def escrow(self, member, frac):
        self._advance_exact()
        if self._in_arrears_if_touched(member):
            with boa.reverts("watt: account in arrears"):
                self.watt.escrow(member, 0, sender=self.exchange)
            return
        a = self._settle(member)
        wh = int(a.bal * frac)
        self.watt.escrow(member, wh, sender=self.exchange)
        a.bal -= wh
        a.esc += wh

    @precondition(lambda self: any(a.esc for a in self.accts.values()))
    @rule(data=st.data(), buyer=st.sampled_from(MEMBERS), deliver=st.booleans())
    def settle_escrow(self, data, buyer, deliver):
        self._advance_exact()
        seller = data.draw(st.sampled_from([m for m, a in self.accts.items() if a.esc]))
        wh = data.draw(st.integers(1, self.accts[seller].esc))
        s = self._settle(seller)
        if deliver:
            self.watt.deliver_escrow(seller, buyer, wh, sender=self.exchange)
            s.esc -= wh
            self._settle(buyer).bal += wh
        else:
            self.watt.release_escrow(seller, wh, sender=self.exchange)
            s.esc -= wh
            s.bal += wh

    # ---------------------------------------------------------------- invariants

    @invariant()
    def ledger_matches_mirror(self):
        for m, a in self.accts.items():
            assert self.watt.balanceOf(m) == a.bal
            assert self.watt.escrowed_of(m) == a.esc
            assert tuple(self.watt.arrears_of(m)) == (a.arrears, a.since)
        assert self.watt.rent_revenue() == self.revenue

    @invariant()
    def supply_is_balances_plus_escrow_within_capacity(self):
        supply = self.watt.totalSupply()
        assert supply == self._supply() <= self.watt.capacity_wh()
        assert supply == self.minted - self.burned_imports - self.released

    @invariant()
    def tsl_held_equals_deposits_plus_revenue(self):
        held = self.tsl.balanceOf(self.watt.address)
        assert held == sum(a.dep for a in self.accts.values()) + self.watt.rent_revenue()

    @invariant()
    def rent_charged_is_the_integral_rounded_up(self):
        self._advance_exact()
        pending = sum(self.watt.rent_accrued(m) for m in MEMBERS)
        charged = self.charged_total + pending
        pending_charges = sum(1 for m in MEMBERS if self.watt.rent_accrued(m))
        assert self.exact <= charged <= self.exact + self.charges + pending_charges


TestRentMachine = RentMachine.TestCase
