"""One stateful machine for both markets built on contracts/modules/order_book.vy (DESIGN.md invariant 4,
"The book as a module"): the rules and the Python reference book (tests/utils/book.py) live here; a
market subclass is the adapter — how an ask escrows its base asset (WATT, or units of one
certificate id), where a bid's fills and a closed ask's units go, what may not sell (the gate), the
views of its books — and adds its own rules and invariants.

Every call that should succeed is replayed on the reference first; the exchange's Trade and
OrderClosed logs must equal the reference's, in order (same price-time order, across certificate ids
within a class). Every call that should fail is predicted with its exact revert reason. After every
step (invariant 4, on each market): each book equals its reference and is not crossed; no order
below the minimum rests (except one left below a raised minimum and not met since); the exchange's
quote balance equals proceeds + open-bid escrow + unclaimed fees (so it covers them); quote is
conserved across traders, exchange and treasury; the base asset is conserved (the market's
invariant). Every trade is checked when it prints: inside the band in force, and allowed by the
market (`_check_trade`: no seller in arrears, no revoked or expired certificate). At the end of every
example the public auditor folds the chain's events, the fixture's included, and compares what it
recomputed with every view: no failing finding (issue 22: the auditor's recompute on a machine-driven
chain)."""

from __future__ import annotations

import copy

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from tests.unit.audit.boa_capture import BoaLogCapture, audit_in_process, boa_record_contracts
from tests.utils import book as ref
from tests.utils.machine import T0, AnchoredMachine

PICKS = st.integers(0, 11)  # which of the market's books or assets; mapped by the adapter
FLAGS = st.sampled_from([0] * 12 + [1, 1, 2, 2, 3])
TTLS = st.sampled_from([0, 0, 0, 30, 600])
AMOUNTS = st.sampled_from([1, 9] + [10, 11, 19, 31, 57, 100, 333, 1_000, 2_500, 4_999] * 4)
MINIMUMS = st.sampled_from([10, 30])


def exchange_events(logs):
    """The matching engine's logs of one call, in order, as the reference records them."""
    out = []
    for e in logs:
        name = type(e).__name__
        if name == "Trade":
            out.append(("Trade", e.maker_order_id, e.taker_order_id, str(e.maker), e.price, e.amount_wh, e.fee,
                        e.maker_left))
        elif name == "OrderClosed":
            out.append(("OrderClosed", e.order_id, e.reason, e.refunded))
        elif name == "OrderAmended":
            out.append(("OrderAmended", e.order_id, e.price, e.amount_wh))
    return out


class ExchangeMachine(AnchoredMachine):
    """The market-independent body. A subclass sets the class attributes below and implements the
    adapter methods (`_market_build`, `_ask_target`, `_bid_book`, `_ask_precheck`, `_ask_postcheck`,
    `_send_ask`, `_send_bid`, `_gate`, `_settle_ask`, `_settle_bid`, `_take_refunds`, `_check_trade`,
    `_depth`, `_best`, `_order_view`, `_order_want`)."""

    OPERATOR: str
    TRADERS: list
    NOTICE: int
    PRICES = None  # strategy
    BANDS = None  # strategy
    TIME_STEPS = st.integers(1, 900)
    PARAMS = None  # (floor, ceiling, tick, min_wh, max_fills, maker_bps, taker_bps)
    START = T0  # chain time when an example starts
    # ------------------------------------------------------------ the fixture, built once per test run

    @classmethod
    def _fixture_build(cls):
        """The market deployed and funded (`_market_build`), with its logs: the auditor folds them
        before each example's own."""
        with BoaLogCapture(boa.env) as capture:
            fx = cls._market_build()
        fx["fixture_logs"] = capture.raw
        return fx

    def __init__(self):
        fx = self._fixture()
        super().__init__()
        boa.env.evm.patch.timestamp = self.START
        self.__dict__.update(fx)
        self.book = ref.Book(*self.PARAMS)
        self.wallet = {t: self.quote.balanceOf(t) for t in self.TRADERS}
        self.quote_total = self.quote.totalSupply()
        self.treasury_got = 0
        self.grandfathered = set()  # orders left below a raised minimum, not met since
        self._init_market()
        self.capture = BoaLogCapture(boa.env).__enter__()

    def teardown(self):
        """The auditor on this example's chain (its events after the fixture's): what it recomputes
        from the events agrees with every view, before the example is rolled back."""
        try:
            self.capture.__exit__(None, None, None)
            self.capture.raw[:0] = self.fixture_logs
            events = self.capture.events(boa_record_contracts(self.sys))
            _, failing = audit_in_process(self.sys, events)
            assert failing == [], failing[:5]
        finally:
            super().teardown()

    # ------------------------------------------------------------ the body

    def _expect(self, logs):
        got = exchange_events(logs)
        assert got == self.book.log, (got, self.book.log)
        for e in self.book.trades():
            assert self.book.floor <= e.price <= self.book.ceiling, "trade outside the band in force"
        for e in self.book.log:
            if e[0] == "OrderClosed":
                self.grandfathered.discard(e[1])
                if e[2] not in (ref.FILLED,):
                    event(f"closed with reason {e[2]}")
        self.book.log = []

    def _reverts(self, reason, fn, *args, **kw):
        with boa.reverts(reason):
            fn(*args, **kw)
        event(f"rejected: {reason}")

    def place(self, trader, is_buy, pick, price, wh, ttl, flags):
        expires = self.now + ttl if ttl else 0
        if is_buy:
            book, tag = self._bid_book(pick), 0
        else:
            book, tag = self._ask_target(trader, pick)
        reason = None if is_buy else self._ask_precheck(trader, tag)
        reason = reason or self.book.check(is_buy, price, wh, expires, flags, self.now, book)
        before = dict(self.book.orders)
        gate = self._gate()
        if reason is None and not is_buy:
            trial = copy.deepcopy(self.book)
            p = trial.place(trader, False, price, wh, expires, flags, self.now, book, tag, gate)
            reason = self._ask_postcheck(trader, tag, wh, p.dropped)
        if reason:
            if is_buy:
                self._reverts(reason, self._send_bid, trader, book, price, wh, expires, flags)
            else:
                self._reverts(reason, self._send_ask, trader, book, tag, price, wh, expires, flags)
            return
        p = self.book.place(trader, is_buy, price, wh, expires, flags, self.now, book, tag, gate)
        if is_buy:
            got = self._send_bid(trader, book, price, wh, expires, flags)
        else:
            got = self._send_ask(trader, book, tag, price, wh, expires, flags)
        assert got == p.order_id
        for f in p.fills:
            self._check_trade(f, before)
        self._expect(self.ex.get_logs())
        self.wallet[trader] -= p.pulled
        if is_buy:
            self._settle_bid(trader, p)
        else:
            self._settle_ask(trader, tag, wh, p)
        self._take_refunds("matched")
        event(f"trades: {min(len(p.fills), 3)}{'+' if len(p.fills) > 3 else ''}")
        if p.order_id:
            event("rested")

    @rule(trader=st.sampled_from(range(3)), is_buy=st.booleans(), pick=PICKS, price=st.data(), wh=AMOUNTS, ttl=TTLS, flags=FLAGS)
    def place_order(self, trader, is_buy, pick, price, wh, ttl, flags):
        self.place(self.TRADERS[trader], is_buy, pick, price.draw(self.PRICES), wh, ttl, flags)

    # trading is most of what happens on a book: more ways to draw a placement
    place_often = rule(trader=st.sampled_from(range(3)), is_buy=st.booleans(), pick=PICKS, price=st.data(), wh=AMOUNTS,
                       ttl=TTLS, flags=FLAGS)(lambda self, **kw: self.place_order(**kw))
    place_more = rule(trader=st.sampled_from(range(3)), is_buy=st.booleans(), pick=PICKS, price=st.data(), wh=AMOUNTS,
                      ttl=TTLS, flags=FLAGS)(lambda self, **kw: self.place_order(**kw))

    @precondition(lambda self: self.book.orders)
    @rule(data=st.data(), by_owner=st.booleans())
    def cancel(self, data, by_owner):
        oid = data.draw(st.sampled_from(sorted(self.book.orders)))
        o = self.book.orders[oid]
        if not by_owner:
            who = data.draw(st.sampled_from([t for t in self.TRADERS if t != o.owner]))
            self._reverts("exchange: caller is not the order owner", self.ex.cancel_order, oid, sender=who)
            return
        self.book.cancel(oid)
        self.ex.cancel_order(oid, sender=o.owner)
        self._expect(self.ex.get_logs())
        self._take_refunds("cancelled")
        event("cancelled")

    AMENDS = False  # the market has `amend_order` (adapter: `_send_amend`, `_amend_postcheck`, `_settle_amend`)

    @precondition(lambda self: self.AMENDS and self.book.orders)
    @rule(data=st.data(), by_owner=st.sampled_from([True] * 5 + [False]), price=st.data(),
          how=st.sampled_from(["price", "price", "up", "down", "down", "both", "same"]))
    def amend(self, data, by_owner, price, how):
        """Amend in place: the id stays; a price change or an increase goes to the level's tail (the
        reference's FIFO and the Trade order show it), a decrease keeps its place; every rule of a new
        order applies; a new price never crosses."""
        oid = data.draw(st.sampled_from(sorted(self.book.orders)))
        o = self.book.orders[oid]
        who = o.owner if by_owner else data.draw(st.sampled_from([t for t in self.TRADERS if t != o.owner]))
        new_price = price.draw(self.PRICES) if how in ("price", "both") else o.price
        new_wh = o.remaining
        if how in ("up", "both"):
            new_wh = o.remaining + data.draw(AMOUNTS)
        elif how == "down":
            new_wh = max(o.remaining - data.draw(AMOUNTS), 1)
        reason = self.book.amend_check(oid, who, new_price, new_wh, self.now)
        if reason is None and not o.is_buy:
            reason = self._amend_postcheck(o, new_wh - o.remaining)
        if reason:
            self._reverts(reason, self._send_amend, who, oid, new_price, new_wh)
            return
        pulled, delta_wh = self.book.amend(oid, new_price, new_wh)
        self._send_amend(who, oid, new_price, new_wh)
        self._expect(self.ex.get_logs())
        self.wallet[who] -= pulled
        self._settle_amend(o, delta_wh)
        event(f"amended: {how}")

    @precondition(lambda self: self.book.orders)
    @rule(data=st.data(), by=st.sampled_from(range(3)))
    def cancel_expired(self, data, by):
        oid = data.draw(st.sampled_from(sorted(self.book.orders)))
        if self.book.orders[oid].expiry > self.now:
            self._reverts("exchange: order not expired", self.ex.cancel_expired, oid, sender=self.TRADERS[by])
            return
        self.book.cancel(oid, ref.EXPIRED)
        self.ex.cancel_expired(oid, sender=self.TRADERS[by])
        self._expect(self.ex.get_logs())
        self._take_refunds("expired")

    @rule(data=st.data())
    def advance_time(self, data):
        boa.env.time_travel(seconds=data.draw(self.TIME_STEPS))

    def _expiring(self):
        return sorted(i for i, o in self.book.orders.items() if o.expiry != ref.NO_EXPIRY and o.expiry > self.now)

    @precondition(lambda self: self._expiring())
    @rule(data=st.data(), then=st.sampled_from(["meet", "meet", "cancel_expired", "nothing"]))
    def land_on_an_expiry(self, data, then):
        """Time lands on exactly a resting order's `expires_at`: from that second on it is expired (one
        boundary, live iff now < expires_at) for a taker that meets it and for `cancel_expired` alike."""
        oid = data.draw(st.sampled_from(self._expiring()))
        o = self.book.orders[oid]
        boa.env.time_travel(seconds=o.expiry - self.now)
        assert self.now == o.expiry
        event("landed on an expiry")
        if then == "cancel_expired":
            self.book.cancel(oid, ref.EXPIRED)
            self.ex.cancel_expired(oid, sender=self.TRADERS[0])
            self._expect(self.ex.get_logs())
            self._take_refunds("expired")
        elif then == "meet":
            taker = data.draw(st.sampled_from([t for t in self.TRADERS if t != o.owner]))
            wh = max(o.remaining, self.book.min_wh)
            if o.is_buy:
                picks = [q for q in range(12) if self._ask_target(taker, q)[0] == o.book]
                self.place(taker, False, data.draw(st.sampled_from(picks)), o.price, wh, 0, ref.IOC)
            else:
                self.place(taker, True, self.BOOK_KEYS.index(o.book), o.price, wh, 0, ref.IOC)

    @rule(trader=st.sampled_from(range(3)), frac=st.sampled_from([0, 0.3, 1, 1, 2]))
    def withdraw_proceeds(self, trader, frac):
        t = self.TRADERS[trader]
        have = self.book.proceeds.get(t, 0)
        amount = int(have * frac) if frac <= 1 else have + 1
        if amount > have:
            self._reverts("exchange: amount exceeds proceeds", self.ex.withdraw_proceeds, amount, sender=t)
            return
        self.ex.withdraw_proceeds(amount, sender=t)
        self.book.proceeds[t] = have - amount
        self.wallet[t] += amount

    @rule(n=st.integers(1, 6))
    def set_max_fills(self, n):
        self.ex.set_max_fills(n, sender=self.OPERATOR)
        self.book.max_fills = n

    def _announce_wait_apply(self, thing, *values):
        getattr(self.ex, f"announce_{thing}")(*values, sender=self.OPERATOR)
        boa.env.time_travel(seconds=self.NOTICE - 1)
        with boa.reverts("notice: not yet effective"):
            getattr(self.ex, f"apply_{thing}")(sender=self.OPERATOR)
        boa.env.time_travel(seconds=1)
        getattr(self.ex, f"apply_{thing}")(sender=self.OPERATOR)

    @rule(maker=st.integers(0, 100), taker=st.integers(0, 100))
    def change_fees(self, maker, taker):
        self._announce_wait_apply("fees", maker, taker)
        self.book.maker_bps, self.book.taker_bps = maker, taker

    @rule(data=st.data())
    def change_band(self, data, band=None):
        """Resting orders left outside never fill: the taker that meets one closes it (reason 9)."""
        band = band or data.draw(self.BANDS)
        self._announce_wait_apply("price_band", *band)
        self.book.floor, self.book.ceiling = band
        if any(not band[0] <= o.price <= band[1] for o in self.book.orders.values()):
            event("orders left outside the band")

    @rule(minimum=MINIMUMS)
    def change_min_order(self, minimum):
        self._announce_wait_apply("min_order_wh", minimum)
        self.book.min_wh = minimum
        self.grandfathered |= {i for i, o in self.book.orders.items() if o.remaining < minimum}

    @rule()
    def claim_fees(self):
        self.treasury_got += self.ex.claim_fees(sender=self.OPERATOR)
        self.book.fees = 0

    @rule(data=st.data())
    def pause_then_cancel_and_withdraw(self, data):
        """Pause stops new orders; cancels and withdrawals still work."""
        self.ex.pause(sender=self.OPERATOR)
        t = self.TRADERS[0]
        self._reverts("pausable: contract is paused", self._send_bid, t, self._bid_book(0), self.book.ceiling, 100, 0, 0)
        if self.book.orders:
            self.cancel(data, True)
        self.withdraw_proceeds(1, 1)
        self.ex.unpause(sender=self.OPERATOR)

    # ------------------------------------------------------------ the attacks, as sequences

    def _same_class(self, trader, pick):
        """The bid pick of the book that trader `trader`'s ask `pick` rests in."""
        return self.BOOK_KEYS.index(self._ask_target(self.TRADERS[trader], pick)[0])

    @rule(seller=st.sampled_from(range(3)), buyer=st.sampled_from(range(3)), pick=PICKS, data=st.data(), extra=st.integers(1, 9))
    def leave_a_remainder_near_the_minimum(self, seller, buyer, pick, data, extra):
        """A maker filled down to less than the minimum: the rest closes (8), it never rests."""
        price, minimum = data.draw(self.PRICES), self.book.min_wh
        self.place(self.TRADERS[seller], False, pick, price, minimum + extra, 0, 0)
        self.place(self.TRADERS[buyer], True, self._same_class(seller, pick), price, minimum, 0, 0)

    @rule(a=st.sampled_from(range(3)), b=st.sampled_from(range(3)), buyer=st.sampled_from(range(3)), pick=PICKS,
          data=st.data(), wh=st.integers(10, 3_000))
    def queue_two_asks_then_sweep(self, a, b, buyer, pick, data, wh):
        """Time priority within a level (across certificate ids of a class): two asks at one price, then a
        bid that takes both; the older fills first."""
        price = data.draw(self.PRICES)
        book, _ = self._ask_target(self.TRADERS[a], pick)
        pick2 = data.draw(st.sampled_from([q for q in range(12) if self._ask_target(self.TRADERS[b], q)[0] == book]))
        self.place(self.TRADERS[a], False, pick, price, wh, 0, 0)
        self.place(self.TRADERS[b], False, pick2, price, wh, 0, 0)
        self.place(self.TRADERS[buyer], True, self.BOOK_KEYS.index(book), price, wh + wh // 2, 0, data.draw(FLAGS))

    @precondition(lambda self: self.AMENDS)
    @rule(a=st.sampled_from(range(3)), b=st.sampled_from(range(3)), buyer=st.sampled_from(range(3)), pick=PICKS,
          data=st.data(), wh=st.integers(10, 3_000), up=st.booleans())
    def queue_two_asks_amend_the_older_then_sweep(self, a, b, buyer, pick, data, wh, up):
        """Time priority after an amend: the older of two asks at one price is amended (more Wh: it goes
        behind the younger; fewer: it keeps its place), then a bid takes both."""
        price = data.draw(self.PRICES)
        book, _ = self._ask_target(self.TRADERS[a], pick)
        pick2 = data.draw(st.sampled_from([q for q in range(12) if self._ask_target(self.TRADERS[b], q)[0] == book]))
        self.place(self.TRADERS[a], False, pick, price, wh, 0, 0)
        self.place(self.TRADERS[b], False, pick2, price, wh, 0, 0)
        older = [i for i, o in self.book.orders.items() if not o.is_buy and o.owner == self.TRADERS[a]
                 and o.price == price and o.book == book]
        if older:
            oid = older[-1]
            o = self.book.orders[oid]
            new_wh = o.remaining + wh if up else max(o.remaining // 2, self.book.min_wh)
            reason = self.book.amend_check(oid, o.owner, price, new_wh, self.now)
            reason = reason or self._amend_postcheck(o, new_wh - o.remaining)
            if reason:
                self._reverts(reason, self._send_amend, o.owner, oid, price, new_wh)
            else:
                _, delta_wh = self.book.amend(oid, price, new_wh)
                self._send_amend(o.owner, oid, price, new_wh)
                self._expect(self.ex.get_logs())
                self._settle_amend(o, delta_wh)
                event("amended in a queue, then swept")
        self.place(self.TRADERS[buyer], True, self.BOOK_KEYS.index(book), price, 3 * wh, 0, ref.IOC)

    place_again = rule(trader=st.sampled_from(range(3)), is_buy=st.booleans(), pick=PICKS, price=st.data(), wh=AMOUNTS,
                       ttl=TTLS, flags=FLAGS)(lambda self, **kw: self.place_order(**kw))

    @rule(data=st.data(), taker=st.sampled_from(range(3)), pick=PICKS, wh=st.integers(10, 3_000))
    def change_band_then_meet_both_sides(self, data, taker, pick, wh):
        """Orders left outside the applied band never fill: takers at the new floor and ceiling close them (9)."""
        band = data.draw(self.BANDS)
        self.change_band(data, band)
        self.place(self.TRADERS[taker], False, pick, band[0], wh, 0, 1)
        self.place(self.TRADERS[taker], True, self._same_class(taker, pick), band[1], wh, 0, 1)

    @rule(maker=st.sampled_from(range(3)), taker=st.sampled_from(range(3)), pick=PICKS, wh=st.integers(10, 3_000))
    def strand_a_bid_above_the_new_ceiling_then_meet_it(self, maker, taker, pick, wh):
        """The band attack: an in-band ask must not fill a bid resting at the old ceiling."""
        lo, hi = self.STRAND
        self.place(self.TRADERS[maker], True, self._same_class(taker, pick), hi + self.PARAMS[2] * 5, wh, 0, 2)  # post-only: rests, or is refused
        self.change_band(None, (lo, hi))
        self.place(self.TRADERS[taker], False, pick, lo, wh, 0, 1)

    # ------------------------------------------------------------ invariant 4

    @invariant()
    def books_equal_reference_and_never_cross(self):
        for book in self.BOOK_KEYS:
            for is_buy in (True, False):
                want = self.book.depth(is_buy, book)[:32]
                assert self._depth(book, is_buy) == want, (book, is_buy)
                assert self._best(book, is_buy) == (want[0] if want else (0, 0))
            bid, ask = self.book.best(True, book), self.book.best(False, book)
            assert bid is None or ask is None or bid < ask, "crossed"
        for oid, o in self.book.orders.items():
            assert self._order_view(oid) == self._order_want(o)

    @invariant()
    def no_order_below_minimum_rests(self):
        minimum = self.ex.min_order_wh()
        assert minimum == self.book.min_wh
        for oid, o in self.book.orders.items():
            assert o.remaining >= minimum or oid in self.grandfathered, (oid, o.remaining, minimum)

    @invariant()
    def quote_is_covered_and_conserved(self):
        held = self.quote.balanceOf(self.ex.address)
        proceeds = [self.ex.proceeds_of(t) for t in self.TRADERS]
        assert proceeds == [self.book.proceeds.get(t, 0) for t in self.TRADERS]
        escrow, fees = self.ex.bid_escrow_total(), self.ex.fees_accrued()
        assert escrow == self.book.escrow_total() and fees == self.book.fees
        assert held >= escrow + fees
        assert held == sum(proceeds) + escrow + fees
        wallets = [self.quote.balanceOf(t) for t in self.TRADERS]
        assert wallets == [self.wallet[t] for t in self.TRADERS]
        treasury = self.quote.balanceOf(self.OPERATOR)
        assert treasury == self.treasury_got
        assert sum(wallets) + held + treasury == self.quote_total == self.quote.totalSupply()
