"""DESIGN.md invariants 1, 2 and 6 with time travel: storage rent on WATT, with escrow held by
real asks on the EnergyExchange.

A Python mirror of the ledger predicts every call; an independent exact
integral (fractions) of stored energy x rate over time bounds what was
charged: exact <= charged <= exact + one base unit per charge. Also: TSL held
by WATT == deposits + uncollected revenue; supply == balances + escrow <=
capacity; minted == credited exports, burned == covered imports + releases;
an account in arrears never sells (its asks close instead of filling); right
after `release_unpaid` an account has no arrears or stores nothing, escrow
included; a rent-rate change applies only after its notice, and rent before
it is charged at the old rate."""

from fractions import Fraction

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.machine import T0, AnchoredMachine
from tests.utils.meters import domain_of, meter_signer, submit_one

OPERATOR = boa.env.generate_address("rent-operator")
MEMBERS = [boa.env.generate_address(f"rent-member-{i}") for i in range(3)]
DENOM = 86_400_000
CAPACITY = 200_000
GRACE = 3 * 86_400
NOTICE = 86_400
ARREARS_CLOSE, SELF_TRADE, BELOW_MINIMUM = 7, 5, 8
ASK_PRICES = [100_000, 150_000, 200_000]
_DEPLOY = boa_deployer(OPERATOR)


def ceil_div(a, b):
    return -(-a // b)


class Acct:
    def __init__(self):
        self.bal = self.esc = self.dep = self.snap = self.arrears = self.since = 0


class RentMachine(AnchoredMachine):
    @classmethod
    def _fixture_build(cls):
        """The system with every member's meter commissioned a second before T0 at zero and read at
        T0 (a baseline: nothing credited), TSL and quote minted and approved."""
        sys = deploy_system(
            _DEPLOY,
            OPERATOR,
            SystemParams(
                CAPACITY, 300, rent_rate=3_479_000_000_000_000, rent_grace_period_s=GRACE, max_rated_power_w=10**15,
                notice_s=NOTICE, max_rent_rate=10**17,
            ),
        )
        domain = domain_of(sys.registry)
        signers = {m: meter_signer(f"rent-meter-{i}") for i, m in enumerate(MEMBERS)}
        for m, signer in signers.items():
            onboard_meter(sys.registry, OPERATOR, m, signer.address, 1, 10**15, "m", Registers(T0 - 1))
            r = Reading(signer.address, T0, 0, 0, 0, 0)
            submit_one(sys.registry, signer, r, domain)
            sys.tsl.mint(m, 10**24, sender=OPERATOR)
            sys.tsl.approve(sys.watt.address, 2**256 - 1, sender=m)
            sys.quote.mint(m, 10**15, sender=OPERATOR)
            sys.quote.approve(sys.exchange.address, 2**256 - 1, sender=m)
        assert all(sys.watt.balanceOf(m) == 0 for m in MEMBERS), "a baseline reading credited energy"
        return {"watt": sys.watt, "sys": sys, "domain": domain, "signers": signers}

    def __init__(self):
        super().__init__()
        fx = self._fixture()
        self.sys, self.domain = fx["sys"], fx["domain"]
        self.watt, self.tsl, self.reg = self.sys.watt, self.sys.tsl, self.sys.registry
        self.ex = self.sys.exchange  # escrow moves only through real asks
        self.min_wh = self.ex.min_order_wh()
        self.max_fills = self.ex.max_fills()
        self.meters = fx["signers"]  # member -> its meter's key
        self.regs = {m: [0, 0, 0, 0] for m in MEMBERS}
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
        self.asks = {}  # order id -> [owner, price, remaining Wh], the open asks
        self.just_released = set()  # released in the last step, nothing credited or elapsed since
        # one member starts with a deposit for two weeks, one for about seven hours, one without
        self.deposit(MEMBERS[0], 10**18)
        self.deposit(MEMBERS[1], 2 * 10**16)
        for m in MEMBERS:  # and everyone starts with energy to sell
            self.meter_flows(m, 20_000, 0)

    # ---------------------------------------------------------------- mirror

    def _reading(self, member):
        signer = self.meters[member]
        r = Reading(signer.address, self.now, *self.regs[member])
        return submit_one(self.reg, signer, r, self.domain)

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
        self.just_released.clear()

    @rule(member=st.sampled_from(MEMBERS), exp=st.integers(0, 60_000), imp=st.integers(0, 60_000))
    def meter_flows(self, member, exp, imp):
        self._advance_exact()
        boa.env.time_travel(seconds=1)
        self._advance_exact()
        self.just_released.clear()
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
        self.just_released.discard(dst)

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
        # the free balance goes first; when short, every open ask of the account closes and its escrow burns too
        reach = a.bal + (a.esc if needed > a.bal else 0)
        if min(needed, reach) == 0:
            with boa.reverts("watt: nothing to release"):
                self.watt.release_unpaid(member)
            return
        a = self._settle(member)
        closed = []
        if needed > a.bal and a.esc:
            closed = sorted(oid for oid, o in self.asks.items() if o[0] == member)
            assert sum(self.asks[oid][2] for oid in closed) == a.esc
            for oid in closed:
                del self.asks[oid]
            a.bal += a.esc
            a.esc = 0
            event("release reached escrow")
        wh = self.watt.release_unpaid(member)
        logs = self.watt.get_logs(include_child_logs=True)
        assert sorted((c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed") == [
            (oid, ARREARS_CLOSE) for oid in closed
        ]
        assert wh == min(needed, a.bal)
        settled = a.arrears if wh == needed else min(a.arrears, wh * price // 1000)
        a.bal -= wh
        a.arrears -= settled
        if a.arrears == 0:
            a.since = 0
        self.released += wh
        self.just_released.add(member)
        event("storage released")

    @rule(rate=st.sampled_from([0, 1, 86_400_001, 3_479_000_000_000_000, 10**17]), early=st.booleans())
    def change_rate(self, rate, early):
        """Announce, (try to apply early,) wait out the notice, apply: rent up to the apply is at the old rate."""
        self.watt.announce_rent_rate(rate, sender=OPERATOR)
        if early:
            self.advance_time(NOTICE - 1)
            with boa.reverts("notice: not yet effective"):
                self.watt.apply_rent_rate(sender=OPERATOR)
            self.advance_time(1)
        else:
            self.advance_time(NOTICE)
        assert self.watt.rent_rate() == self.rate  # nothing changed during the notice
        self._advance_exact()
        self.index = self._index_now()
        self.index_t = self.now
        self.rate = rate
        self.watt.apply_rent_rate(sender=OPERATOR)

    @rule(rate=st.integers(10**17 + 1, 2**64 - 1))
    def announce_rate_above_limit(self, rate):
        with boa.reverts("watt: rent rate above limit"):
            self.watt.announce_rent_rate(rate, sender=OPERATOR)

    @rule()
    def claim(self):
        self.watt.claim_rent_revenue(sender=OPERATOR)
        self.claimed += self.revenue
        self.revenue = 0

    # ------------------------------------------------------------ the exchange seam

    @rule(member=st.sampled_from(MEMBERS), frac=st.floats(0, 1), price=st.sampled_from(ASK_PRICES))
    def place_ask(self, member, frac, price):
        """A GTC ask; no bid ever rests here, so it rests whole or reverts."""
        self._advance_exact()
        wh = int(self.accts[member].bal * frac)
        if wh < self.min_wh:
            with boa.reverts("exchange: order below minimum"):
                self.ex.place_order(False, price, wh, 0, 0, sender=member)
            return
        if self._in_arrears_if_touched(member):
            with boa.reverts("watt: account in arrears"):
                self.ex.place_order(False, price, wh, 0, 0, sender=member)
            event("ask refused in arrears")
            return
        oid = self.ex.place_order(False, price, wh, 0, 0, sender=member)
        assert oid != 0
        a = self._settle(member)
        a.bal -= wh
        a.esc += wh
        self.asks[oid] = [member, price, wh]

    @rule(member=st.sampled_from(MEMBERS), frac=st.floats(0.8, 1))
    def sell_run_dry_and_get_released(self, member, frac):
        """The shelter attack: put (nearly) everything up for sale, let the deposit run dry, wait out
        the grace period: `release_unpaid` must reach the escrow."""
        self.place_ask(member, frac, ASK_PRICES[-1])
        paid_until = self.watt.storage_paid_until(member)
        if self.now < paid_until < 2**256 - 1:
            self.advance_time(min(paid_until - self.now + 1, 30 * 86_400))
        self.settle(member)
        self.advance_time(GRACE + 1)
        self.release(member)

    @precondition(lambda self: self.asks)
    @rule(buyer=st.sampled_from(MEMBERS), wh=st.integers(100, 80_000))
    def take(self, buyer, wh):
        """An IOC bid at the ceiling walks the asks: an ask of an account in arrears closes
        (reason 7, escrow back to its balance) and matching goes on; it never fills."""
        self._advance_exact()
        remaining, budget = wh, self.max_fills
        fills, closes = [], []
        for oid in sorted(self.asks, key=lambda i: (self.asks[i][1], i)):
            if not remaining or not budget:
                break
            budget -= 1
            owner, price, left = self.asks[oid]
            if owner == buyer:
                closes.append((oid, SELF_TRADE))
            elif self._in_arrears_if_touched(owner):
                closes.append((oid, ARREARS_CLOSE))
                event("ask of a debtor closed when met")
            else:
                w = min(remaining, left)
                remaining -= w
                fills.append((oid, owner, w))
                self.asks[oid][2] -= w
                if self.asks[oid][2] == 0:
                    del self.asks[oid]
                    continue
                if self.asks[oid][2] >= self.min_wh:
                    continue
                closes.append((oid, BELOW_MINIMUM))
            o = self.asks.pop(oid)
            a = self._settle(o[0])
            a.esc -= o[2]
            a.bal += o[2]
        self.ex.place_order(True, self.ex.ceiling_price(), wh, 0, 1, sender=buyer)
        logs = self.ex.get_logs()
        trades = [(t.maker_order_id, str(t.maker), t.amount_wh) for t in logs if type(t).__name__ == "Trade"]
        assert trades == fills
        got = [(c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed"]
        assert [c for c in got if c[1] != 1 and c[1] != 4] == closes
        for oid, seller, w in fills:
            assert not self._in_arrears_if_touched(seller), "an account in arrears sold"
            self._settle(seller).esc -= w
            self._settle(buyer).bal += w
            self.just_released.discard(buyer)
        if fills:
            event("ask filled")

    @precondition(lambda self: self.asks)
    @rule(data=st.data())
    def cancel_ask(self, data):
        self._advance_exact()
        oid = data.draw(st.sampled_from(sorted(self.asks)))
        owner, _, left = self.asks.pop(oid)
        self.ex.cancel_order(oid, sender=owner)
        a = self._settle(owner)
        a.esc -= left
        a.bal += left

    # ---------------------------------------------------------------- invariants

    @invariant()
    def ledger_matches_mirror(self):
        for m, a in self.accts.items():
            assert self.watt.balanceOf(m) == a.bal
            assert self.watt.escrowed_of(m) == a.esc
            assert tuple(self.watt.arrears_of(m)) == (a.arrears, a.since)
        assert self.watt.rent_revenue() == self.revenue

    @invariant()
    def escrow_is_the_open_asks(self):
        for m, a in self.accts.items():
            assert a.esc == sum(o[2] for o in self.asks.values() if o[0] == m)
        assert [tuple(l) for l in self.ex.depth(False, 32)] == sorted(
            {(p, sum(o[2] for o in self.asks.values() if o[1] == p)) for _, p, _ in self.asks.values()}
        )

    @invariant()
    def released_account_stores_nothing_unpaid(self):
        """Right after `release_unpaid`: no arrears left, or nothing stored (balance and escrow)."""
        for m in self.just_released:
            arrears, _ = self.watt.arrears_of(m)
            assert arrears == 0 or self.watt.stored_of(m) == 0
            assert not self.watt.in_arrears(m) or (self.watt.balanceOf(m), self.watt.escrowed_of(m)) == (0, 0)

    @invariant()
    def supply_is_balances_plus_escrow_within_capacity(self):
        supply = self.watt.totalSupply()
        assert supply == self._supply() <= self.watt.capacity_wh()
        assert supply == self.minted - self.burned_imports - self.released

    @invariant()
    def tsl_held_equals_deposits_plus_revenue(self):
        held = self.tsl.balanceOf(self.watt.address)
        # the slot auction is a depositor too: deploy_system funds the rent of the WATT it will hold
        auction = self.watt.rent_deposit(self.sys.auction.address) if self.sys.auction is not None else 0
        assert auction == self.sys.params.auction_rent_tsl
        assert held == sum(a.dep for a in self.accts.values()) + auction + self.watt.rent_revenue()

    @invariant()
    def rent_charged_is_the_integral_rounded_up(self):
        self._advance_exact()
        pending = sum(self.watt.rent_accrued(m) for m in MEMBERS)
        charged = self.charged_total + pending
        pending_charges = sum(1 for m in MEMBERS if self.watt.rent_accrued(m))
        assert self.exact <= charged <= self.exact + self.charges + pending_charges


TestRentMachine = RentMachine.TestCase
