"""A plain Python reference of the matching engine (contracts/modules/order_book.vy, DESIGN.md
"The book as a module"): one engine with one or more books (0 for the energy market; one per
certificate class on the certificate market), one order-id counter, one proceeds ledger and one fee
pot across them, as on chain.

A resting order met by a taker is closed instead of filled when it has expired (3), is the taker's
own (5), is priced outside the band in force (9), has less than the minimum left (8), or — asks
met by a buyer only — the market's gate says it may not sell: its seller is in storage-rent
arrears (7, energy) or its certificate is revoked or expired (10, certificates). Each visit uses
one of `max_fills`. A fill that leaves a maker below the minimum closes the rest (8); a taker's
remainder below the minimum is not rested (8).

What the engine does to the base asset (WATT, certificate units) is left to the market: `place`
returns the fills (seller, buyer, Wh, tag) and `refunds` collects (owner, Wh, tag) for every ask
closed with units left, in the order the contract settles them.

Order ids as on chain: every order gets the next number (`seq`, from 1); a resting order occupies an
order word (key), reused once its order closes (a stack of free keys over the never-used ones from
`fresh`); its id is the number alone when it equals the key, else number | key << 32. An order takes
the word on top when it is placed; makers it closes go on top of that word, which it leaves if it
rests."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

# what the contract says (flags, close reasons, the fee cap), as generated from it: the reference
# keeps its own rules, not its own copy of the numbers that name them
from gridmint.generated.contracts import (
    CLOSE_ARREARS as ARREARS,
    CLOSE_BELOW_MINIMUM as BELOW_MINIMUM,
    CLOSE_CANCELLED as CANCELLED,
    CLOSE_EXPIRED as EXPIRED,
    CLOSE_FILLED as FILLED,
    CLOSE_IOC as IOC_REST,
    CLOSE_OUT_OF_BAND as OUT_OF_BAND,
    CLOSE_SELF_TRADE as SELF_TRADE,
    CLOSE_UNCROSSABLE as UNCROSSABLE,
    FEE_BPS_CAP,
    FLAG_IOC as IOC,
    FLAG_POST_ONLY as POST_ONLY,
)

# "no expiry": the largest expiry an order word holds (40 bits of seconds)
NO_EXPIRY = 2**40 - 1


def quote_of(wh: int, price: int) -> int:
    """What a fill of `wh` at `price` moves, quote base units: rounded down."""
    return wh * price // 1000


class TradeLog(NamedTuple):
    """A `Trade` as the exchange logs it (a tuple: the machine compares it with the chain's)."""

    kind: str
    maker_order_id: int
    taker_order_id: int
    maker: str
    price: int
    amount_wh: int
    fee: int
    maker_left: int


def bid_escrow(wh: int, price: int) -> int:
    """What a bid escrows, quote base units: its cost rounded up, plus the fee cap on it, rounded up."""
    base = -(-wh * price // 1000)
    return base + -(-base * FEE_BPS_CAP // 10_000)


@dataclass
class Order:
    id: int
    owner: str
    is_buy: bool
    price: int
    remaining: int
    expiry: int
    escrow: int = 0
    book: int = 0
    tag: int = 0  # what an ask escrows: 0 for WATT, the certificate id for certificates
    key: int = 0  # its order word


def order_id(key: int, seq: int) -> int:
    """The id of order number `seq` in word `key` (order_book._id)."""
    return seq if key == seq else seq | key << 32


@dataclass(frozen=True)
class Fill:
    seller: str
    buyer: str
    wh: int
    tag: int


@dataclass
class Placement:
    order_id: int  # 0 unless it rests
    pulled: int  # quote pulled from a bidder's wallet: fills, taker fees, a resting bid's escrow, less what its proceeds paid
    fills: list[Fill]
    dropped: int  # Wh of an ask that neither filled nor rested (never leaves the seller)
    paid: int = 0  # what a bid costs in all: fills, taker fees, a resting bid's escrow (proceeds first, then `pulled`)


@dataclass
class Book:
    floor: int
    ceiling: int
    tick: int
    min_wh: int
    max_fills: int
    maker_bps: int
    taker_bps: int
    next_seq: int = 1
    fresh: int = 1  # the first never-used order word
    free: list = field(default_factory=list)  # reused words, the top last
    orders: dict[int, Order] = field(default_factory=dict)
    # (book, is_buy) -> price -> FIFO of order ids
    levels: dict[tuple[int, bool], dict[int, deque]] = field(default_factory=dict)
    proceeds: dict[str, int] = field(default_factory=dict)
    fees: int = 0
    # what the exchange logs, in order: `TradeLog`s (not the taker nor the quote, which the taker's
    # OrderPlaced and the price say) and ("OrderClosed", id, reason, refunded), the latter not for a fill
    # that closes an order with nothing to give back, nor for a taker filled in full; the machine compares
    # and clears it
    log: list = field(default_factory=list)
    # asks closed with units left, in settlement order: [(owner, Wh, tag)]; cleared by the market
    refunds: list = field(default_factory=list)

    # ------------------------------------------------------------ views
    def side(self, book: int, is_buy: bool) -> dict[int, deque]:
        return self.levels.setdefault((book, is_buy), {})

    def best(self, is_buy: bool, book: int = 0):
        lv = self.side(book, is_buy)
        if not lv:
            return None
        return max(lv) if is_buy else min(lv)

    def level_total(self, is_buy: bool, price: int, book: int = 0) -> int:
        return sum(self.orders[i].remaining for i in self.side(book, is_buy).get(price, ()))

    def depth(self, is_buy: bool, book: int = 0):
        prices = sorted(self.side(book, is_buy), reverse=is_buy)
        return [(p, self.level_total(is_buy, p, book)) for p in prices]

    def escrow_total(self) -> int:
        return sum(o.escrow for o in self.orders.values() if o.is_buy)

    def head_key(self) -> int:
        return self.free[-1] if self.free else self.fresh

    @property
    def next_id(self) -> int:
        return order_id(self.head_key(), self.next_seq)

    def trades(self):
        return [e for e in self.log if e[0] == "Trade"]

    # ------------------------------------------------------------ actions
    def check(self, is_buy, price, wh, expires, flags, now, book=0) -> str | None:
        """The revert reason of `_check_order` (after pause), or None."""
        if flags > IOC | POST_ONLY:
            return "exchange: unknown flags"
        if flags == IOC | POST_ONLY:
            return "exchange: ioc and post-only"
        if reason := self._terms(price, wh):
            return reason
        expiry = expires or NO_EXPIRY
        if expiry <= now:
            return "exchange: expired"
        if flags & POST_ONLY and self._crosses(is_buy, price, book):
            return "exchange: post-only would cross"
        return None

    def _terms(self, price, wh) -> str | None:
        """`_check_terms`: the band in force, the tick, the minimum (a new order's and an amend's)."""
        if not self.floor <= price <= self.ceiling:
            return "exchange: price outside band"
        if price % self.tick:
            return "exchange: price not on tick"
        if wh < self.min_wh:
            return "exchange: order below minimum"
        return None

    def _crosses(self, is_buy, price, book=0):
        best = self.best(not is_buy, book)
        return best is not None and (best <= price if is_buy else best >= price)

    def _close(self, oid, reason):
        o = self.orders.pop(oid)
        self.free.append(o.key)
        q = self.side(o.book, o.is_buy)[o.price]
        q.remove(oid)
        if not q:
            del self.side(o.book, o.is_buy)[o.price]
        if o.is_buy:
            refunded = o.escrow
            if o.escrow:
                self.proceeds[o.owner] = self.proceeds.get(o.owner, 0) + o.escrow
        else:
            refunded = o.remaining
            if o.remaining:
                self.refunds.append((o.owner, o.remaining, o.tag))
        if reason != FILLED or refunded:
            # a fill that closed it with nothing to give back: `Trade`'s maker_left 0 says so
            self.log.append(("OrderClosed", oid, reason, refunded))
        return refunded

    def place(self, owner, is_buy, price, wh, expires, flags, now, book=0, tag=0,
              gate: Callable[[Order], int] | None = None) -> Placement:
        """All effects of a checked order. `gate(ask) -> reason or 0` is asked, for a buyer only,
        whether a resting ask may still sell (after the expiry, self-trade, band and minimum rules)."""
        expiry = expires or NO_EXPIRY
        key = self.head_key()
        tid = order_id(key, self.next_seq)
        self.next_seq += 1
        remaining, pulled, fills = wh, 0, []
        budget = self.max_fills
        while remaining and budget and self.best(not is_buy, book) is not None:
            best = self.best(not is_buy, book)
            if (is_buy and best > price) or (not is_buy and best < price):
                break
            budget -= 1
            mid = self.side(book, not is_buy)[best][0]
            m = self.orders[mid]
            reason = 0
            if m.expiry <= now:
                reason = EXPIRED
            elif m.owner == owner:
                reason = SELF_TRADE
            elif not self.floor <= m.price <= self.ceiling:
                reason = OUT_OF_BAND
            elif m.remaining < self.min_wh:
                reason = BELOW_MINIMUM
            elif is_buy and gate is not None:
                reason = gate(m)
            if reason:
                self._close(mid, reason)
                continue
            w = min(remaining, m.remaining)
            q = quote_of(w, best)
            mf, tf = q * self.maker_bps // 10_000, q * self.taker_bps // 10_000
            self.fees += mf + tf
            if is_buy:
                pulled += q + tf
                self.proceeds[m.owner] = self.proceeds.get(m.owner, 0) + q - mf
                fills.append(Fill(m.owner, owner, w, m.tag))
            else:
                m.escrow -= q + mf
                assert m.escrow >= 0, "a bid's escrow did not cover its fill"
                self.proceeds[owner] = self.proceeds.get(owner, 0) + q - tf
                fills.append(Fill(owner, m.owner, w, tag))
            remaining -= w
            m.remaining -= w
            self.log.append(TradeLog("Trade", mid, tid, m.owner, best, w, mf + tf, m.remaining))
            if m.remaining == 0:
                self._close(mid, FILLED)
            elif m.remaining < self.min_wh:
                self._close(mid, BELOW_MINIMUM)
        crosses = self._crosses(is_buy, price, book)
        if remaining and not (flags & IOC) and not crosses and remaining >= self.min_wh:
            escrow = bid_escrow(remaining, price) if is_buy else 0
            pulled += escrow
            self.orders[tid] = Order(tid, owner, is_buy, price, remaining, expiry, escrow, book, tag if not is_buy else 0, key)
            if key == self.fresh and key not in self.free:
                self.fresh += 1
            else:
                self.free.remove(key)
            self.side(book, is_buy).setdefault(price, deque()).append(tid)
            return Placement(tid, self._pay_in(owner, pulled), fills, 0, pulled)
        if remaining == 0:
            reason = FILLED
        elif flags & IOC:
            reason = IOC_REST
        elif crosses:
            reason = UNCROSSABLE
        else:
            reason = BELOW_MINIMUM
        if reason != FILLED:
            # a taker filled in full: its `Trade`s add up to its amount
            self.log.append(("OrderClosed", tid, reason, 0))
        return Placement(0, self._pay_in(owner, pulled), fills, 0 if is_buy else remaining, pulled)

    def _pay_in(self, owner, amount) -> int:
        """A bidder pays `amount` out of its proceeds first (proceeds._pay_in); returns the rest, pulled
        from its wallet."""
        use = min(self.proceeds.get(owner, 0), amount)
        if use:
            self.proceeds[owner] -= use
        return amount - use

    def amend_check(self, oid, owner, price, wh, now) -> str | None:
        """The revert reason of `_amend` (after pause), or None."""
        o = self.orders.get(oid)
        if o is None:
            return "exchange: unknown order"
        if o.owner != owner:
            return "exchange: caller is not the order owner"
        if o.expiry <= now:
            return "exchange: order expired"
        if reason := self._terms(price, wh):
            return reason
        if price == o.price and wh == o.remaining:
            return "exchange: nothing to amend"
        if price != o.price and self._crosses(o.is_buy, price, o.book):
            return "exchange: amend would cross"
        return None

    def amend(self, oid, price, wh) -> tuple[int, int]:
        """A checked amend: the order keeps its id; a price change or an increase moves it to the tail
        of its (new) level, a decrease at the same price keeps its place. A bid's escrow becomes
        `bid_escrow(wh, price)`: returns (quote pulled from the owner's wallet, its proceeds paying first; Wh an ask escrows more; negative:
        given back); a bid's surplus escrow goes to its proceeds."""
        o = self.orders[oid]
        if price != o.price or wh > o.remaining:
            q = self.side(o.book, o.is_buy)[o.price]
            q.remove(oid)
            if not q:
                del self.side(o.book, o.is_buy)[o.price]
            self.side(o.book, o.is_buy).setdefault(price, deque()).append(oid)
        delta_wh = wh - o.remaining
        o.price, o.remaining = price, wh
        self.log.append(("OrderAmended", oid, price, wh))
        if not o.is_buy:
            return 0, delta_wh
        new = bid_escrow(wh, price)
        pulled = max(new - o.escrow, 0)
        if new < o.escrow:
            self.proceeds[o.owner] = self.proceeds.get(o.owner, 0) + o.escrow - new
        o.escrow = new
        return self._pay_in(o.owner, pulled), 0

    def cancel(self, oid, reason=CANCELLED):
        return self._close(oid, reason)

    def close_asks_of(self, owner):
        """WATT's `release_unpaid` of an account whose free balance is short: every ask of it closes
        (reason 7), newest first (the owner's ask list is walked from its head); the Wh they had
        left go to WATT itself, not to `refunds`. Returns that total."""
        total = 0
        mine = (i for i, o in self.orders.items() if o.owner == owner and not o.is_buy)
        for oid in sorted(mine, key=lambda i: i & (2**32 - 1), reverse=True):
            o = self.orders[oid]
            total += o.remaining
            self._close(oid, ARREARS)
            if o.remaining:
                self.refunds.pop()
        return total
