"""DESIGN.md invariant 4: the exchange against a plain Python reference order book.

After every step: the book (levels, orders, escrow) equals the reference's;
it is never crossed; the exchange's quote balance equals proceeds + bid escrow
+ fees (so it covers all open bids plus unclaimed fees); quote and WATT are
conserved across traders, exchange and treasury; no trade prints outside the
band."""

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils.book import Book
from tests.utils.machine import T0 as _T0
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import domain_of, meter_signer

OPERATOR = boa.env.generate_address("ex-operator")
TRADERS = [boa.env.generate_address(f"ex-trader-{i}") for i in range(3)]
PARAMS = SystemParams(capacity_wh=10**9, rent_rate=0, tick=100, floor_price=80_000, ceiling_price=100_000,
                      min_order_wh=10, max_fills=4, maker_fee_bps=10, taker_fee_bps=20)
WATT_EACH = 200_000
CASH_EACH = 10**11
_DEPLOY = boa_deployer(OPERATOR)
# prices on a narrow band so orders cross often; a few off-band and off-tick ones
PRICES = st.sampled_from([i * 100 for i in range(800, 815)] * 8 + [79_900, 100_100, 85_050])
AMOUNTS = st.sampled_from([1, 9] + [10, 57, 100, 333, 1_000, 2_500, 4_999] * 4)
FLAGS = st.sampled_from([0] * 12 + [1, 1, 2, 2, 3])


class ExchangeMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        self.ex, self.watt, self.quote, reg = self.sys.exchange, self.sys.watt, self.sys.quote, self.sys.registry
        domain = domain_of(reg)
        for i, t in enumerate(TRADERS):
            m = meter_signer(f"ex-meter-{i}")
            reg.register_meter(m.address, t, 1, 10**15, "m", sender=OPERATOR)
            for ts, exp in ((_T0, 0), (_T0 + 1, WATT_EACH)):
                boa.env.evm.patch.timestamp = ts
                r = Reading(m.address, ts, 0, 0, exp, 0)
                reg.submit_readings([r.as_call_arg()], [m.sign(r, domain)])
            self.quote.mint(t, CASH_EACH, sender=OPERATOR)
            self.quote.approve(self.ex.address, 2**256 - 1, sender=t)
        self.book = Book(80_000, 100_000, 100, 10, 4, 10, 20)
        self.wallet = {t: CASH_EACH for t in TRADERS}
        self.free = {t: WATT_EACH for t in TRADERS}
        self.treasury_got = 0

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
        reason = self.book.check(is_buy, price, wh, expires, flags, self.now)
        if reason is None and not is_buy and wh > self.free[trader]:
            reason = "watt: escrow exceeds balance"
        if reason:
            with boa.reverts(reason):
                self.ex.place_order(is_buy, price, wh, expires, flags, sender=trader)
            event(f"rejected: {reason}")
            return
        oid, pulled, moves, closes, released = self.book.place(trader, is_buy, price, wh, expires, flags, self.now)
        got = self.ex.place_order(is_buy, price, wh, expires, flags, sender=trader)
        logs = self.ex.get_logs()
        assert got == oid
        trades = [(t.maker_order_id, t.taker_order_id, t.price, t.amount_wh, t.quote_amount, t.fee) for t in logs if type(t).__name__ == "Trade"]
        assert trades == self.book.trades
        for t in trades:
            assert 80_000 <= t[2] <= 100_000, "trade outside the band"
        self.book.trades = []
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
        self._apply_watt_refunds()
        event("cancelled")

    @precondition(lambda self: any(o.expiry <= self.now for o in self.book.orders.values()))
    @rule(data=st.data(), by=st.sampled_from(TRADERS))
    def cancel_expired(self, data, by):
        oid = data.draw(st.sampled_from(sorted(i for i, o in self.book.orders.items() if o.expiry <= self.now)))
        self.book.cancel(oid, 3)
        self.ex.cancel_expired(oid, sender=by)
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

    @rule(maker=st.integers(0, 100), taker=st.integers(0, 100))
    def set_fees(self, maker, taker):
        self.ex.set_fees(maker, taker, sender=OPERATOR)
        self.book.maker_bps, self.book.taker_bps = maker, taker

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
        assert sum(free) + sum(escrowed) == WATT_EACH * len(TRADERS) == self.watt.totalSupply()


TestExchangeMachine = ExchangeMachine.TestCase
