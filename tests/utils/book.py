"""A plain Python reference order book with the exchange's rules (DESIGN.md, EnergyExchange.vy's NatSpec).

A resting order met by a taker is closed instead of filled when it has expired (3), is the
taker's own (5), is priced outside the band in force (9), has less than the minimum left (8), or
is an ask of an account in storage-rent arrears (7); each uses one of `max_fills`. A fill that
leaves a maker below the minimum closes the rest (8); a taker's remainder below the minimum is
not rested (8)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

IOC, POST_ONLY = 1, 2
NO_EXPIRY = 2**40 - 1
FILLED, CANCELLED, EXPIRED, IOC_REST, SELF_TRADE, UNCROSSABLE, ARREARS, BELOW_MINIMUM, OUT_OF_BAND = range(1, 10)


def bid_escrow(wh: int, price: int) -> int:
    base = -(-wh * price // 1000)
    return base + -(-base * 100 // 10_000)


@dataclass
class Order:
    id: int
    owner: str
    is_buy: bool
    price: int
    remaining: int
    expiry: int
    escrow: int = 0


@dataclass
class Book:
    floor: int
    ceiling: int
    tick: int
    min_wh: int
    max_fills: int
    maker_bps: int
    taker_bps: int
    next_id: int = 1
    orders: dict[int, Order] = field(default_factory=dict)
    levels: dict[bool, dict[int, deque]] = field(default_factory=lambda: {True: {}, False: {}})
    proceeds: dict[str, int] = field(default_factory=dict)
    fees: int = 0
    trades: list = field(default_factory=list)
    # WATT an ask's owner got back when the ask closed (cancel, expiry, self-trade): [(owner, wh)]
    watt_refunds: list = field(default_factory=list)

    # ------------------------------------------------------------ views
    def best(self, is_buy: bool):
        lv = self.levels[is_buy]
        if not lv:
            return None
        return max(lv) if is_buy else min(lv)

    def level_total(self, is_buy: bool, price: int) -> int:
        return sum(self.orders[i].remaining for i in self.levels[is_buy].get(price, ()))

    def depth(self, is_buy: bool):
        prices = sorted(self.levels[is_buy], reverse=is_buy)
        return [(p, self.level_total(is_buy, p)) for p in prices]

    def escrow_total(self) -> int:
        return sum(o.escrow for o in self.orders.values() if o.is_buy)

    # ------------------------------------------------------------ actions
    def check(self, is_buy, price, wh, expires, flags, now) -> str | None:
        if flags > 3:
            return "exchange: unknown flags"
        if flags == 3:
            return "exchange: ioc and post-only"
        if not self.floor <= price <= self.ceiling:
            return "exchange: price outside band"
        if price % self.tick:
            return "exchange: price not on tick"
        if wh < self.min_wh:
            return "exchange: order below minimum"
        expiry = expires or NO_EXPIRY
        if expiry <= now:
            return "exchange: expired"
        if flags & POST_ONLY and self._crosses(is_buy, price):
            return "exchange: post-only would cross"
        return None

    def _crosses(self, is_buy, price):
        best = self.best(not is_buy)
        return best is not None and (best <= price if is_buy else best >= price)

    def _close(self, oid, reason, closes):
        o = self.orders.pop(oid)
        q = self.levels[o.is_buy][o.price]
        q.remove(oid)
        if not q:
            del self.levels[o.is_buy][o.price]
        refund = o.escrow if o.is_buy else o.remaining
        if o.is_buy and o.escrow:
            self.proceeds[o.owner] = self.proceeds.get(o.owner, 0) + o.escrow
        if not o.is_buy and o.remaining:
            self.watt_refunds.append((o.owner, o.remaining))
        closes.append((oid, reason))
        return refund

    def place(self, owner, is_buy, price, wh, expires, flags, now, debtors=frozenset()):
        """Returns (order id or 0, quote pulled from a bidder, WATT moves [(from, to, wh)], closes, WATT released).
        `debtors`: the accounts in storage-rent arrears now (their asks close when met)."""
        expiry = expires or NO_EXPIRY
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
                self._close(mid, 3, closes)
                continue
            if m.owner == owner:
                self._close(mid, SELF_TRADE, closes)
                continue
            if not self.floor <= m.price <= self.ceiling:
                self._close(mid, OUT_OF_BAND, closes)
                continue
            if m.remaining < self.min_wh:
                self._close(mid, BELOW_MINIMUM, closes)
                continue
            if is_buy and m.owner in debtors:
                self._close(mid, ARREARS, closes)
                continue
            w = min(remaining, m.remaining)
            q = w * best // 1000
            mf, tf = q * self.maker_bps // 10_000, q * self.taker_bps // 10_000
            self.fees += mf + tf
            if is_buy:
                pulled += q + tf
                self.proceeds[m.owner] = self.proceeds.get(m.owner, 0) + q - mf
                moves.append((m.owner, owner, w))
            else:
                m.escrow -= q + mf
                assert m.escrow >= 0
                self.proceeds[owner] = self.proceeds.get(owner, 0) + q - tf
                moves.append((owner, m.owner, w))
            self.trades.append((mid, tid, best, w, q, mf + tf))
            remaining -= w
            m.remaining -= w
            if m.remaining == 0:
                self._close(mid, FILLED, closes)
            elif m.remaining < self.min_wh:
                self._close(mid, BELOW_MINIMUM, closes)
        crosses = self._crosses(is_buy, price)
        rests = remaining and not (flags & IOC) and not crosses and remaining >= self.min_wh
        released = 0
        if rests:
            escrow = bid_escrow(remaining, price) if is_buy else 0
            pulled += escrow
            self.orders[tid] = Order(tid, owner, is_buy, price, remaining, expiry, escrow)
            self.levels[is_buy].setdefault(price, deque()).append(tid)
            return tid, pulled, moves, closes, 0
        if not is_buy:
            released = remaining
        if remaining == 0:
            reason = FILLED
        elif flags & IOC:
            reason = IOC_REST
        elif crosses:
            reason = UNCROSSABLE
        else:
            reason = BELOW_MINIMUM
        closes.append((tid, reason))
        return 0, pulled, moves, closes, released

    def cancel(self, oid, reason=CANCELLED):
        closes = []
        refund = self._close(oid, reason, closes)
        return refund, closes

    def close_asks_of(self, owner):
        """WATT's `release_unpaid` of an account whose free balance is short: every ask of it closes
        (reason 7); returns the Wh they had left and the closes, oldest first."""
        closes = []
        total = 0
        for oid in sorted(i for i, o in self.orders.items() if o.owner == owner and not o.is_buy):
            total += self.orders[oid].remaining
            self._close(oid, ARREARS, closes)
        return total, closes
