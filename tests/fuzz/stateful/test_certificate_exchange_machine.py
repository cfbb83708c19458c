"""DESIGN.md invariant 4 on the certificate market, plus its own: the CertificateExchange against the
exchange's Python reference book (tests/utils/book.py), one reference book per class.

Certificates of two classes (solar and wind, one vintage), one id of each per trader. After every
step: each class's book (levels, orders, escrow) equals its reference; it is never crossed; no order
below the minimum rests (except one left below a raised minimum and not met since); the exchange's
quote balance equals proceeds + bid escrow + fees and quote is conserved across traders, exchange
and treasury; units are conserved per id across holders, the exchange (open asks + `units_of`) and
claims; a revoked or expired unit never changes hands (its asks close with reason 10 when met); no
trade prints outside the band in force. Fees, the band and the minimum change only by announce ->
notice -> apply."""

import copy
from collections import deque
from dataclasses import dataclass

import boa
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from oracle.eip712 import Reading
from gridmint.onboarding import Registers, onboard_meter
from gridmint.system import SystemParams, boa_deployer, deploy_system
from tests.utils import book as ref
from tests.utils.machine import T0 as _T0
from tests.utils.machine import AnchoredMachine
from tests.utils.meters import domain_of, meter_signer

OPERATOR = boa.env.generate_address("cx-operator")
TRADERS = [boa.env.generate_address(f"cx-trader-{i}") for i in range(3)]
COMPANY = boa.env.generate_address("cx-company")
UNUSABLE = 10  # OrderClosed reason: the ask's certificate is revoked or expired
NOTICE = 3_600
WINDOW = 2 * 86_400  # claim window: certificates expire two days after their period
SOLAR, WIND = 1, 2
PARAMS = SystemParams(capacity_wh=10**9, max_rated_power_w=10**15, claim_window_s=WINDOW, notice_s=NOTICE,
                      cert_tick=10, cert_floor_price=1_000, cert_ceiling_price=1_200, cert_min_order_wh=10,
                      cert_max_fills=4, cert_maker_fee_bps=10, cert_taker_fee_bps=20, cert_max_fee_bps=100)
UNITS_EACH = 100_000
CASH_EACH = 10**11
_DEPLOY = boa_deployer(OPERATOR)
PRICES = st.sampled_from([1_000 + i * 10 for i in range(6)] * 8 + [990, 1_210, 1_005])
AMOUNTS = st.sampled_from([1, 9] + [10, 11, 19, 31, 57, 100, 333, 1_000, 2_500, 4_999] * 4)
FLAGS = st.sampled_from([0] * 12 + [1, 1, 2, 2, 3])
BANDS = st.sampled_from([(1_000, 1_200), (1_050, 1_200), (1_000, 1_090), (1_060, 1_100)])
TTLS = st.sampled_from([0, 0, 0, 30, 600])


@dataclass
class CertOrder(ref.Order):
    tag: int = 0  # the ask's certificate id


class ClassBook(ref.Book):
    """The reference book with the certificate market's gate: an ask whose certificate is in
    `unusable` (revoked or expired) closes with reason 10 when met; moves and refunds carry the id."""

    def _close(self, oid, reason, closes):
        o = self.orders[oid]
        refund = super()._close(oid, reason, closes)
        if not o.is_buy and o.remaining:
            self.watt_refunds[-1] = (o.owner, o.remaining, o.tag)
        return refund

    def place(self, owner, is_buy, price, wh, expires, flags, now, tag=0, unusable=frozenset()):
        expiry = expires or ref.NO_EXPIRY
        tid = self.next_id
        self.next_id += 1
        remaining, pulled, moves, closes = wh, 0, [], []
        budget = self.max_fills
        while remaining and budget and self.best(not is_buy) is not None:
            best = self.best(not is_buy)
            if (is_buy and best > price) or (not is_buy and best < price):
                break
            budget -= 1
            mid = self.levels[not is_buy][best][0]
            m = self.orders[mid]
            if m.expiry <= now:
                self._close(mid, ref.EXPIRED, closes)
                continue
            if m.owner == owner:
                self._close(mid, ref.SELF_TRADE, closes)
                continue
            if not self.floor <= m.price <= self.ceiling:
                self._close(mid, ref.OUT_OF_BAND, closes)
                continue
            if m.remaining < self.min_wh:
                self._close(mid, ref.BELOW_MINIMUM, closes)
                continue
            if is_buy and m.tag in unusable:
                self._close(mid, UNUSABLE, closes)
                continue
            w = min(remaining, m.remaining)
            q = w * best // 1000
            mf, tf = q * self.maker_bps // 10_000, q * self.taker_bps // 10_000
            self.fees += mf + tf
            if is_buy:
                pulled += q + tf
                self.proceeds[m.owner] = self.proceeds.get(m.owner, 0) + q - mf
                moves.append((m.owner, owner, w, m.tag))
            else:
                m.escrow -= q + mf
                assert m.escrow >= 0
                self.proceeds[owner] = self.proceeds.get(owner, 0) + q - tf
                moves.append((owner, m.owner, w, tag))
            self.trades.append((mid, tid, best, w, q, mf + tf))
            remaining -= w
            m.remaining -= w
            if m.remaining == 0:
                self._close(mid, ref.FILLED, closes)
            elif m.remaining < self.min_wh:
                self._close(mid, ref.BELOW_MINIMUM, closes)
        crosses = self._crosses(is_buy, price)
        rests = remaining and not (flags & ref.IOC) and not crosses and remaining >= self.min_wh
        if rests:
            escrow = ref.bid_escrow(remaining, price) if is_buy else 0
            pulled += escrow
            self.orders[tid] = CertOrder(tid, owner, is_buy, price, remaining, expiry, escrow, tag)
            self.levels[is_buy].setdefault(price, deque()).append(tid)
            return tid, pulled, moves, closes, 0
        reason = ref.FILLED if remaining == 0 else ref.IOC_REST if flags & ref.IOC else ref.UNCROSSABLE if crosses else ref.BELOW_MINIMUM
        closes.append((tid, reason))
        return 0, pulled, moves, closes, 0 if is_buy else remaining


class CertificateExchangeMachine(AnchoredMachine):
    def __init__(self):
        super().__init__()
        self.sys = deploy_system(_DEPLOY, OPERATOR, PARAMS)
        self.cx, self.cert, self.quote, reg = self.sys.certificate_exchange, self.sys.certificate, self.sys.quote, self.sys.registry
        domain = domain_of(reg)
        self.ids = {}  # (trader, method) -> certificate id
        boa.env.evm.patch.timestamp = _T0
        for i, t in enumerate(TRADERS):
            for method in (SOLAR, WIND):
                m = meter_signer(f"cx-meter-{i}-{method}")
                onboard_meter(reg, OPERATOR, t, m.address, method, 10**15, "plant", Registers(_T0 - 1))
                for ts, gen in ((_T0, 0), (_T0 + 1, UNITS_EACH)):
                    boa.env.evm.patch.timestamp = ts
                    r = Reading(m.address, ts, gen, 0, 0, 0)
                    reg.submit_readings([r.as_call_arg()], [m.sign(r, domain)])
                self.ids[(t, method)] = self.sys.certificate.issue(m.address, sender=t)
                boa.env.evm.patch.timestamp = _T0
            self.cert.setApprovalForAll(self.cx.address, True, sender=t)
            self.quote.mint(t, CASH_EACH, sender=OPERATOR)
            self.quote.approve(self.cx.address, 2**256 - 1, sender=t)
        self.vintage = self.cx.vintage_of(_T0 + 1)
        self.method_of = {id: method for (_, method), id in self.ids.items()}
        self.expiry = {id: self.cert.certificate(id).expires_at for id in self.method_of}
        self.books = {method: ClassBook(1_000, 1_200, 10, 10, 4, 10, 20) for method in (SOLAR, WIND)}
        self.wallet = {t: CASH_EACH for t in TRADERS}
        self.units = {(t, id): 0 for t in TRADERS + [COMPANY] for id in self.method_of}  # certificate balances
        for (t, _), id in self.ids.items():
            self.units[(t, id)] = UNITS_EACH
        self.held_for = {}  # (owner, id) -> units_of
        self.claimed = {id: 0 for id in self.method_of}
        self.revoked = set()
        self.treasury_got = 0
        self.grandfathered = set()
        self.next_id = 1

    # ------------------------------------------------------------ helpers

    def _unusable(self):
        return frozenset(id for id in self.method_of if id in self.revoked or self.now > self.expiry[id])

    def _refunds(self, book):
        for owner, wh, tag in book.watt_refunds:
            self.held_for[(owner, tag)] = self.held_for.get((owner, tag), 0) + wh
        book.watt_refunds = []

    def _check_trades(self, logs, book):
        trades = [(t.maker_order_id, t.taker_order_id, t.price, t.amount_wh, t.quote_amount, t.fee) for t in logs if type(t).__name__ == "Trade"]
        assert trades == book.trades
        for t in trades:
            assert book.floor <= t[2] <= book.ceiling, "trade outside the band in force"
        book.trades = []
        return trades

    def _book_of_order(self, oid):
        for method, book in self.books.items():
            if oid in book.orders:
                return book
        return None

    def _all_orders(self):
        return {oid: o for b in self.books.values() for oid, o in b.orders.items()}

    # ------------------------------------------------------------ rules

    @rule(trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]), price=PRICES, wh=AMOUNTS, ttl=TTLS, flags=FLAGS)
    def place_ask(self, trader, method, price, wh, ttl, flags):
        id = self.ids[(trader, method)]
        book = self.books[method]
        expires = self.now + ttl if ttl else 0
        reason = None
        if id in self.revoked:
            reason = "certificate_exchange: certificate revoked"
        elif self.now > self.expiry[id]:
            reason = "certificate_exchange: certificate expired"
        else:
            reason = book.check(False, price, wh, expires, flags, self.now)
        book.next_id = self.next_id  # one id counter across the class books, as on chain
        if reason is None:
            trial = copy.deepcopy(book)
            _, _, _, _, dropped = trial.place(trader, False, price, wh, expires, flags, self.now, id)
            if wh - dropped > self.units[(trader, id)]:
                reason = "erc1155: insufficient balance for transfer"
        if reason:
            with boa.reverts(reason):
                self.cx.place_ask(id, price, wh, expires, flags, sender=trader)
            event(f"ask rejected: {reason}")
            return
        oid, _, moves, closes, dropped = book.place(trader, False, price, wh, expires, flags, self.now, id)
        self.next_id = book.next_id
        got = self.cx.place_ask(id, price, wh, expires, flags, sender=trader)
        logs = self.cx.get_logs()
        assert got == oid
        self._check_trades(logs, book)
        assert [(c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed"] == closes
        self.units[(trader, id)] -= wh - dropped
        for _, maker, w, tag in moves:
            assert tag not in self.revoked, "a revoked unit changed hands"
            self.held_for[(maker, tag)] = self.held_for.get((maker, tag), 0) + w
        self._refunds(book)
        self.grandfathered -= {c[0] for c in closes}
        event(f"ask trades: {min(len(moves), 3)}")
        if oid:
            event("ask rested")

    def _bid(self, trader, method, price, wh, expires, flags, beneficiary=None):
        book = self.books[method]
        unusable = self._unusable()
        book.next_id = self.next_id
        oid, pulled, moves, closes, _ = book.place(trader, True, price, wh, expires, flags, self.now, 0, unusable)
        self.next_id = book.next_id
        if beneficiary is None:
            got = self.cx.place_bid(method, self.vintage, price, wh, expires, flags, sender=trader)
            assert got == oid
        else:
            got = self.cx.buy_and_claim(method, self.vintage, price, wh, beneficiary, "machine", sender=trader)
            assert got == sum(m[2] for m in moves)
        logs = self.cx.get_logs()
        self._check_trades(logs, book)
        assert [(c.order_id, c.reason) for c in logs if type(c).__name__ == "OrderClosed"] == closes
        for reason in {c[1] for c in closes} - {1}:
            event(f"closed with reason {reason}")
        self.wallet[trader] -= pulled
        event(f"bid fills from {min(len({m[3] for m in moves}), 3)} ids")
        for seller, _, w, tag in moves:
            assert tag not in unusable, "a revoked or expired unit changed hands"
            if beneficiary is None:
                self.units[(trader, tag)] += w
            else:
                self.claimed[tag] += w
        self._refunds(book)
        self.grandfathered -= {c[0] for c in closes}

    @rule(trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]), price=PRICES, wh=AMOUNTS, ttl=TTLS, flags=FLAGS)
    def place_bid(self, trader, method, price, wh, ttl, flags):
        expires = self.now + ttl if ttl else 0
        reason = self.books[method].check(True, price, wh, expires, flags, self.now)
        if reason:
            with boa.reverts(reason):
                self.cx.place_bid(method, self.vintage, price, wh, expires, flags, sender=trader)
            return
        self._bid(trader, method, price, wh, expires, flags)

    @rule(trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]), price=PRICES, wh=AMOUNTS)
    def buy_and_claim(self, trader, method, price, wh):
        reason = self.books[method].check(True, price, wh, 0, ref.IOC, self.now)
        if reason:
            with boa.reverts(reason):
                self.cx.buy_and_claim(method, self.vintage, price, wh, COMPANY, "machine", sender=trader)
            return
        self._bid(trader, method, price, wh, 0, ref.IOC, beneficiary=COMPANY)
        event("bought and claimed")

    # trading is most of what happens on a book: more ways to draw a placement
    ask_often = rule(
        trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]), price=PRICES, wh=AMOUNTS, ttl=TTLS, flags=FLAGS
    )(lambda self, **kw: self.place_ask(**kw))
    bid_often = rule(
        trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]), price=PRICES, wh=AMOUNTS, ttl=TTLS, flags=FLAGS
    )(lambda self, **kw: self.place_bid(**kw))

    @precondition(lambda self: self._all_orders())
    @rule(data=st.data())
    def cancel(self, data):
        oid = data.draw(st.sampled_from(sorted(self._all_orders())))
        book = self._book_of_order(oid)
        o = book.orders[oid]
        book.cancel(oid)
        self.cx.cancel_order(oid, sender=o.owner)
        if not o.is_buy:
            (_, wh, tag), = book.watt_refunds
            book.watt_refunds = []
            if tag in self._unusable():
                self.held_for[(o.owner, tag)] = self.held_for.get((o.owner, tag), 0) + wh
                event("cancelled an unusable ask")
            else:
                self.units[(o.owner, tag)] += wh
        self.grandfathered.discard(oid)

    @precondition(lambda self: any(o.expiry <= self.now for o in self._all_orders().values()))
    @rule(data=st.data(), by=st.sampled_from(TRADERS))
    def cancel_expired(self, data, by):
        oid = data.draw(st.sampled_from(sorted(i for i, o in self._all_orders().items() if o.expiry <= self.now)))
        book = self._book_of_order(oid)
        book.cancel(oid, ref.EXPIRED)
        self.cx.cancel_expired(oid, sender=by)
        self._refunds(book)
        self.grandfathered.discard(oid)

    @precondition(lambda self: any(v for v in self.held_for.values()))
    @rule(data=st.data(), frac=st.floats(0, 1))
    def withdraw_units(self, data, frac):
        owner, id = data.draw(st.sampled_from(sorted(k for k, v in self.held_for.items() if v)))
        amount = max(1, int(self.held_for[(owner, id)] * frac))
        if id in self._unusable():
            with boa.reverts("certificate: revoked" if id in self.revoked else "certificate: expired"):
                self.cx.withdraw_units(id, amount, sender=owner)
            return
        self.cx.withdraw_units(id, amount, sender=owner)
        self.held_for[(owner, id)] -= amount
        self.units[(owner, id)] += amount

    @rule(trader=st.sampled_from(TRADERS), frac=st.floats(0, 1))
    def withdraw_proceeds(self, trader, frac):
        book_total = sum(b.proceeds.get(trader, 0) for b in self.books.values())
        amount = int(book_total * frac)
        self.cx.withdraw_proceeds(amount, sender=trader)
        left = amount
        for b in self.books.values():
            take = min(left, b.proceeds.get(trader, 0))
            b.proceeds[trader] = b.proceeds.get(trader, 0) - take
            left -= take
        self.wallet[trader] += amount

    @precondition(lambda self: len(self.revoked) < 2)
    @rule(trader=st.sampled_from(TRADERS), method=st.sampled_from([SOLAR, WIND]))
    def revoke(self, trader, method):
        id = self.ids[(trader, method)]
        if id in self.revoked:
            return
        self.cert.revoke(id, "machine", sender=OPERATOR)
        self.revoked.add(id)

    @rule(seconds=st.sampled_from([1, 30, 300, 900] * 6 + [WINDOW]))
    def advance_time(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @rule(n=st.integers(1, 6))
    def set_max_fills(self, n):
        self.cx.set_max_fills(n, sender=OPERATOR)
        for b in self.books.values():
            b.max_fills = n

    def _announce_wait_apply(self, thing, *values):
        getattr(self.cx, f"announce_{thing}")(*values, sender=OPERATOR)
        boa.env.time_travel(seconds=NOTICE - 1)
        with boa.reverts("notice: not yet effective"):
            getattr(self.cx, f"apply_{thing}")(sender=OPERATOR)
        boa.env.time_travel(seconds=1)
        getattr(self.cx, f"apply_{thing}")(sender=OPERATOR)

    @rule(maker=st.integers(0, 100), taker=st.integers(0, 100))
    def change_fees(self, maker, taker):
        self._announce_wait_apply("fees", maker, taker)
        for b in self.books.values():
            b.maker_bps, b.taker_bps = maker, taker

    @rule(band=BANDS)
    def change_band(self, band):
        self._announce_wait_apply("price_band", *band)
        for b in self.books.values():
            b.floor, b.ceiling = band

    @rule(minimum=st.sampled_from([10, 30]))
    def change_min_order(self, minimum):
        self._announce_wait_apply("min_order_wh", minimum)
        for b in self.books.values():
            b.min_wh = minimum
        self.grandfathered |= {i for i, o in self._all_orders().items() if o.remaining < minimum}

    @rule()
    def claim_fees(self):
        self.treasury_got += self.cx.claim_fees(sender=OPERATOR)
        for b in self.books.values():
            b.fees = 0

    # ------------------------------------------------------------ invariants

    @invariant()
    def books_equal_reference_and_never_cross(self):
        for method, book in self.books.items():
            for is_buy in (True, False):
                want = book.depth(is_buy)[:32]
                assert [tuple(level) for level in self.cx.depth(method, self.vintage, is_buy, 32)] == want
                best = self.cx.best_bid(method, self.vintage) if is_buy else self.cx.best_ask(method, self.vintage)
                assert tuple(best) == (want[0] if want else (0, 0))
            bid, ask = self.cx.best_bid(method, self.vintage)[0], self.cx.best_ask(method, self.vintage)[0]
            assert bid == 0 or ask == 0 or bid < ask
            for oid, o in book.orders.items():
                v = self.cx.order(oid)
                assert (v.open, str(v.owner), v.is_buy, v.price, v.remaining_wh, v.escrow_quote, v.certificate_id, v.method) == (
                    True, o.owner, o.is_buy, o.price, o.remaining, o.escrow, o.tag, method
                )

    @invariant()
    def no_order_below_minimum_rests(self):
        minimum = self.cx.min_order_wh()
        for oid, o in self._all_orders().items():
            assert o.remaining >= minimum or oid in self.grandfathered

    @invariant()
    def quote_is_covered_and_conserved(self):
        held = self.quote.balanceOf(self.cx.address)
        proceeds = sum(self.cx.proceeds_of(t) for t in TRADERS)
        assert proceeds == sum(b.proceeds.get(t, 0) for b in self.books.values() for t in TRADERS)
        assert self.cx.bid_escrow_total() == sum(b.escrow_total() for b in self.books.values())
        assert self.cx.fees_accrued() == sum(b.fees for b in self.books.values())
        assert held == proceeds + self.cx.bid_escrow_total() + self.cx.fees_accrued()
        wallets = [self.quote.balanceOf(t) for t in TRADERS]
        assert wallets == [self.wallet[t] for t in TRADERS]
        assert sum(wallets) + held + self.treasury_got == CASH_EACH * len(TRADERS)

    @invariant()
    def units_are_conserved(self):
        orders = self._all_orders()
        for id in self.method_of:
            holders = {t: self.cert.balanceOf(t, id) for t in TRADERS + [COMPANY]}
            assert holders == {t: self.units[(t, id)] for t in TRADERS + [COMPANY]}
            escrowed = sum(o.remaining for o in orders.values() if not o.is_buy and o.tag == id)
            credited = sum(self.cx.units_of(t, id) for t in TRADERS)
            assert credited == sum(self.held_for.get((t, id), 0) for t in TRADERS)
            assert self.cert.balanceOf(self.cx.address, id) == escrowed + credited
            assert self.cert.claimed_balance_of(COMPANY, id) == self.claimed[id]
            assert sum(holders.values()) + escrowed + credited + self.claimed[id] == UNITS_EACH


TestCertificateExchangeMachine = CertificateExchangeMachine.TestCase
