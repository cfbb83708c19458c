"""DESIGN.md invariants 4 and 2 (sales in arrears) and 6 (announced changes): the exchange against a
plain Python reference order book.

After every step: the book (levels, orders, escrow) equals the reference's;
it is never crossed; no order below the minimum rests (except one left below a
raised minimum and not met since); the exchange's quote balance equals
proceeds + bid escrow + fees (so it covers all open bids plus unclaimed fees);
quote and WATT are conserved across traders, exchange, treasury and released
storage; no trade prints outside the band in force; no ask of an account in
storage-rent arrears fills. Fees, the band and the minimum change only by
announce -> notice -> apply."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.book import ARREARS, Book
from tests.utils.machine import T0 as _T0
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import domain_of, meter_signer

OPERATOR = boa.env.generate_address("ex-operator")
TRADERS = [boa.env.generate_address(f"ex-trader-{i}") for i in range(3)]
DEBTOR = TRADERS[2]  # its small rent deposit runs dry within hours: then it cannot sell
NOTICE = 3_600
GRACE = 3 * 86_400
PARAMS = SystemParams(capacity_wh=10**9, max_rated_power_w=10**15, tick=100, floor_price=80_000, ceiling_price=100_000,
                      min_order_wh=10, max_fills=4, maker_fee_bps=10, taker_fee_bps=20, max_fee_bps=100,
                      notice_s=NOTICE, rent_grace_period_s=GRACE)
WATT_EACH = 200_000
CASH_EACH = 10**11
_DEPLOY = boa_deployer(OPERATOR)
# prices on a narrow band so orders cross often; a few off-band and off-tick ones
PRICES = st.sampled_from([i * 100 for i in range(800, 815)] * 8 + [79_900, 100_100, 85_050])
# amounts around the minimum (10, later maybe 30) so remainders below it are common
AMOUNTS = st.sampled_from([1, 9] + [10, 11, 19, 31, 57, 100, 333, 1_000, 2_500, 4_999] * 4)
FLAGS = st.sampled_from([0] * 12 + [1, 1, 2, 2, 3])
BANDS = st.sampled_from([(80_000, 100_000), (80_500, 100_000), (80_000, 80_900), (80_600, 81_000)])


class ExchangeMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        self.ex, self.watt, self.quote, reg = self.sys.exchange, self.sys.watt, self.sys.quote, self.sys.registry
        domain = domain_of(reg)
        for i, t in enumerate(TRADERS):
            m = meter_signer(f"ex-meter-{i}")
            onboard_meter(reg, OPERATOR, t, m.address, 1, 10**15, "m", Registers(_T0 - 1))
            for ts, exp in ((_T0, 0), (_T0 + 1, WATT_EACH)):
                boa.env.evm.patch.timestamp = ts
                r = Reading(m.address, ts, 0, 0, exp, 0)
                reg.submit_readings([r.as_call_arg()], [m.sign(r, domain)])
            self.quote.mint(t, CASH_EACH, sender=OPERATOR)
            self.quote.approve(self.ex.address, 2**256 - 1, sender=t)
        for t in TRADERS:  # rent: two traders for good, the debtor for about three and a half hours
            deposit = 10**17 if t == DEBTOR else 10**22
            self.sys.tsl.mint(t, 10**23, sender=OPERATOR)
            self.sys.tsl.approve(self.watt.address, 2**256 - 1, sender=t)
            self.watt.deposit_rent(deposit, sender=t)
        self.book = Book(80_000, 100_000, 100, 10, 4, 10, 20)
        self.wallet = {t: CASH_EACH for t in TRADERS}
        self.free = {t: WATT_EACH for t in TRADERS}
        self.treasury_got = 0
        self.released = 0  # WATT burned by release_unpaid
        self.grandfathered = set()  # orders left below a raised minimum, not met since

    def _debtors(self):
        return frozenset(t for t in TRADERS if self.watt.in_arrears(t))

    @rule(
        trader=st.sampled_from(TRADERS),
        is_buy=st.booleans(),
        price=PRICES,
        wh=AMOUNTS,
        ttl=st.sampled_from([0, 0, 0, 30, 600]),
        flags=FLAGS,
    )
    def place(self, trader, is_buy, price, wh, ttl, flags):
        expires = self.now + ttl if ttl else 0
        debtors = self._debtors()
        reason = self.book.check(is_buy, price, wh, expires, flags, self.now)
        if reason is None and not is_buy and trader in debtors:
            reason = "watt: account in arrears"
        elif reason is None and not is_buy and wh > self.free[trader]:
            reason = "watt: escrow exceeds balance"
        if reason:
            with boa.reverts(reason):
                self.ex.place_order(is_buy, price, wh, expires, flags, sender=trader)
            event(f"rejected: {reason}")
            return
        oid, pulled, moves, closes, released = self.book.place(trader, is_buy, price, wh, expires, flags, self.now, debtors)
        got = self.ex.place_order(is_buy, price, wh, expires, flags, sender=trader)
        logs = self.ex.get_logs()
        assert got == oid
        trades = [(t.maker_order_id, t.taker_order_id, t.price, t.amount_wh, t.quote_amount, t.fee) for t in logs if type(t).__name__ == "Trade"]
        assert trades == self.book.trades
        for t in trades:
            assert self.book.floor <= t[2] <= self.book.ceiling, "trade outside the band in force"
        for seller, _, _ in moves:
            assert seller not in debtors, "an account in arrears sold"
        self.book.trades = []
        self.grandfathered -= {c[0] for c in closes}
        for reason in {c[1] for c in closes} - {1}:
            event(f"closed with reason {reason}")
        assert [(c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed"] == closes
        self.wallet[trader] -= pulled
        if not is_buy:
            self.free[trader] -= wh - released
        for seller, buyer, w in moves:
            self.free[buyer] += w
        self._apply_watt_refunds()
        event(f"trades: {min(len(trades), 3)}{'+' if len(trades) > 3 else ''}")
        if oid:
            event("rested")

    # trading is most of what happens on a book: two more ways to draw a placement
    place_often = rule(
        trader=st.sampled_from(TRADERS), is_buy=st.booleans(), price=PRICES, wh=AMOUNTS,
        ttl=st.sampled_from([0, 0, 0, 30, 600]), flags=FLAGS,
    )(lambda self, **kw: self.place(**kw))
    place_more = rule(
        trader=st.sampled_from(TRADERS), is_buy=st.booleans(), price=PRICES, wh=AMOUNTS,
        ttl=st.sampled_from([0, 0, 0, 30, 600]), flags=FLAGS,
    )(lambda self, **kw: self.place(**kw))

    def _apply_watt_refunds(self):
        for owner, wh in self.book.watt_refunds:
            self.free[owner] += wh
        self.book.watt_refunds = []

    @precondition(lambda self: self.book.orders)
    @rule(data=st.data(), by_owner=st.booleans())
    def cancel(self, data, by_owner):
        oid = data.draw(st.sampled_from(sorted(self.book.orders)))
        o = self.book.orders[oid]
        who = o.owner if by_owner else data.draw(st.sampled_from([t for t in TRADERS if t != o.owner]))
        if not by_owner:
            with boa.reverts("exchange: caller is not the order owner"):
                self.ex.cancel_order(oid, sender=who)
            return
        self.book.cancel(oid)
        self.ex.cancel_order(oid, sender=who)
        self.grandfathered.discard(oid)
        self._apply_watt_refunds()
        event("cancelled")

    @precondition(lambda self: any(o.expiry <= self.now for o in self.book.orders.values()))
    @rule(data=st.data(), by=st.sampled_from(TRADERS))
    def cancel_expired(self, data, by):
        oid = data.draw(st.sampled_from(sorted(i for i, o in self.book.orders.items() if o.expiry <= self.now)))
        self.book.cancel(oid, 3)
        self.ex.cancel_expired(oid, sender=by)
        self.grandfathered.discard(oid)
        self._apply_watt_refunds()

    @rule(seconds=st.integers(1, 900))
    def advance_time(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @rule(trader=st.sampled_from(TRADERS), frac=st.floats(0, 1))
    def withdraw(self, trader, frac):
        amount = int(self.book.proceeds.get(trader, 0) * frac)
        self.ex.withdraw_proceeds(amount, sender=trader)
        self.book.proceeds[trader] = self.book.proceeds.get(trader, 0) - amount
        self.wallet[trader] += amount

    @rule(n=st.integers(1, 6))
    def set_max_fills(self, n):
        self.ex.set_max_fills(n, sender=OPERATOR)
        self.book.max_fills = n

    def _announce_wait_apply(self, thing, *values):
        getattr(self.ex, f"announce_{thing}")(*values, sender=OPERATOR)
        boa.env.time_travel(seconds=NOTICE - 1)
        with boa.reverts("notice: not yet effective"):
            getattr(self.ex, f"apply_{thing}")(sender=OPERATOR)
        boa.env.time_travel(seconds=1)
        getattr(self.ex, f"apply_{thing}")(sender=OPERATOR)

    @rule(maker=st.integers(0, 100), taker=st.integers(0, 100))
    def change_fees(self, maker, taker):
        self._announce_wait_apply("fees", maker, taker)
        self.book.maker_bps, self.book.taker_bps = maker, taker

    @rule(band=BANDS)
    def change_band(self, band):
        """Resting orders left outside never fill: the taker that meets one closes it (reason 9)."""
        self._announce_wait_apply("price_band", *band)
        self.book.floor, self.book.ceiling = band
        if any(not band[0] <= o.price <= band[1] for o in self.book.orders.values()):
            event("orders left outside the band")

    @rule(minimum=st.sampled_from([10, 30]))
    def change_min_order(self, minimum):
        self._announce_wait_apply("min_order_wh", minimum)
        self.book.min_wh = minimum
        self.grandfathered |= {i for i, o in self.book.orders.items() if o.remaining < minimum}

    # ------------------------------------------------------------ the attacks, as sequences

    @rule(seller=st.sampled_from(TRADERS), buyer=st.sampled_from(TRADERS), price=PRICES, extra=st.integers(1, 9))
    def leave_a_remainder_near_the_minimum(self, seller, buyer, price, extra):
        """A maker filled down to less than the minimum: the rest closes (8), it never rests."""
        minimum = self.book.min_wh
        self.place(seller, False, price, minimum + extra, 0, 0)
        self.place(buyer, True, price, minimum, 0, 0)

    @rule(buyer=st.sampled_from(TRADERS[:2]), price=PRICES, wh=st.integers(10, 5_000))
    def debtor_sells_then_runs_dry(self, buyer, price, wh):
        """The shelter attack: an ask placed while paid up never fills once the seller is in arrears;
        the buyer that meets it closes it (7) and goes on."""
        stored_kwh = -(-self.watt.stored_of(DEBTOR) // 1000)
        ten_minutes = stored_kwh * self.watt.rent_rate() * 600 // 86_400 + 1
        self.watt.deposit_rent(self.watt.rent_due(DEBTOR) + ten_minutes, sender=DEBTOR)
        self.place(DEBTOR, False, price, wh, 0, 0)
        boa.env.time_travel(seconds=3_600)
        self.place(buyer, True, self.book.ceiling, wh, 0, 1)

    @rule(band=BANDS, taker=st.sampled_from(TRADERS), wh=st.integers(10, 3_000))
    def change_band_then_meet_both_sides(self, band, taker, wh):
        """Orders left outside the applied band never fill: takers at the new floor and ceiling close them (9)."""
        self.change_band(band)
        self.place(taker, False, band[0], wh, 0, 1)
        self.place(taker, True, band[1], wh, 0, 1)

    @rule(maker=st.sampled_from(TRADERS), taker=st.sampled_from(TRADERS), wh=st.integers(10, 3_000))
    def strand_a_bid_above_the_new_ceiling_then_meet_it(self, maker, taker, wh):
        """The band attack: an in-band ask must not fill a bid resting at the old ceiling."""
        self.place(maker, True, 81_400, wh, 0, 2)  # post-only: rests, or is refused
        self.change_band((80_000, 80_900))
        self.place(taker, False, 80_000, wh, 0, 1)

    @rule(amount=st.integers(1, 10**18))
    def debtor_pays_rent(self, amount):
        self.watt.deposit_rent(amount, sender=DEBTOR)

    @rule(trader=st.sampled_from(TRADERS))
    def release_after_grace(self, trader):
        """`release_unpaid` reaches escrowed WATT: when the free balance is short, every ask closes (7)."""
        self.watt.settle_rent(trader)  # arrears are recorded when touched; the grace period counts from then
        boa.env.time_travel(seconds=GRACE)
        due = self.watt.rent_due(trader)
        recorded, since = self.watt.arrears_of(trader)
        if due == 0:
            with boa.reverts("watt: no arrears"):
                self.watt.release_unpaid(trader, sender=OPERATOR)
            return
        if recorded == 0 or self.now < since + GRACE:  # ran dry during the wait: recorded only now
            with boa.reverts("watt: grace period not over"):
                self.watt.release_unpaid(trader, sender=OPERATOR)
            return
        price = self.watt.release_price()
        needed = -(-due * 1000 // price)
        closed_wh, closes = 0, []
        if needed > self.free[trader]:
            closed_wh, closes = self.book.close_asks_of(trader)
        wh = min(needed, self.free[trader] + closed_wh)
        if wh == 0:
            self.book.watt_refunds = []
            with boa.reverts("watt: nothing to release"):
                self.watt.release_unpaid(trader, sender=OPERATOR)
            return
        assert self.watt.release_unpaid(trader, sender=OPERATOR) == wh
        logs = self.watt.get_logs(include_child_logs=True)
        assert [(c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed"] == closes
        assert all(r == ARREARS for _, r in closes)
        self._apply_watt_refunds()
        self.free[trader] -= wh
        self.released += wh
        self.grandfathered -= {c[0] for c in closes}
        event("released" + (" with asks closed" if closes else ""))

    @rule()
    def claim_fees(self):
        self.treasury_got += self.ex.claim_fees(sender=OPERATOR)
        self.book.fees = 0

    # ------------------------------------------------------------ invariants

    @invariant()
    def book_equals_reference(self):
        for is_buy in (True, False):
            want = self.book.depth(is_buy)[:32]
            assert [tuple(l) for l in self.ex.depth(is_buy, 32)] == want
            best = self.ex.best_bid() if is_buy else self.ex.best_ask()
            assert tuple(best) == (want[0] if want else (0, 0))
        for oid, o in self.book.orders.items():
            v = self.ex.order(oid)
            assert (v.open, str(v.owner), v.is_buy, v.price, v.remaining_wh, v.escrow_quote) == (
                True, o.owner, o.is_buy, o.price, o.remaining, o.escrow
            )

    @invariant()
    def no_order_below_minimum_rests(self):
        minimum = self.ex.min_order_wh()
        assert minimum == self.book.min_wh
        for oid, o in self.book.orders.items():
            assert o.remaining >= minimum or oid in self.grandfathered, (oid, o.remaining, minimum)

    @invariant()
    def never_crossed(self):
        bid, ask = self.ex.best_bid()[0], self.ex.best_ask()[0]
        assert bid == 0 or ask == 0 or bid < ask

    @invariant()
    def quote_is_covered_and_conserved(self):
        held = self.quote.balanceOf(self.ex.address)
        proceeds = sum(self.ex.proceeds_of(t) for t in TRADERS)
        assert proceeds == sum(self.book.proceeds.get(t, 0) for t in TRADERS)
        assert self.ex.bid_escrow_total() == self.book.escrow_total()
        assert self.ex.fees_accrued() == self.book.fees
        assert held == proceeds + self.ex.bid_escrow_total() + self.ex.fees_accrued()
        wallets = [self.quote.balanceOf(t) for t in TRADERS]
        assert wallets == [self.wallet[t] for t in TRADERS]
        assert sum(wallets) + held + self.treasury_got == CASH_EACH * len(TRADERS)

    @invariant()
    def watt_is_conserved(self):
        free = [self.watt.balanceOf(t) for t in TRADERS]
        escrowed = [self.watt.escrowed_of(t) for t in TRADERS]
        assert free == [self.free[t] for t in TRADERS]
        for t, e in zip(TRADERS, escrowed):
            assert e == sum(o.remaining for o in self.book.orders.values() if o.owner == t and not o.is_buy)
        assert sum(free) + sum(escrowed) + self.released == WATT_EACH * len(TRADERS)
        assert sum(free) + sum(escrowed) == self.watt.totalSupply()


TestExchangeMachine = ExchangeMachine.TestCase
