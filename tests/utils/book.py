"""A plain Python reference order book with the exchange's rules (DESIGN.md, EnergyExchange.vy's NatSpec)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

IOC, POST_ONLY = 1, 2
NO_EXPIRY = 2**40 - 1


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

    def place(self, owner, is_buy, price, wh, expires, flags, now):
        """Returns (order id or 0, quote pulled from a bidder, WATT moves [(from, to, wh)], closes, WATT released)."""
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
                self._close(mid, 5, closes)
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
                self._close(mid, 1, closes)
        rests = remaining and not (flags & IOC) and not self._crosses(is_buy, price)
        released = 0
        if rests:
            escrow = bid_escrow(remaining, price) if is_buy else 0
            pulled += escrow
            self.orders[tid] = Order(tid, owner, is_buy, price, remaining, expiry, escrow)
            self.levels[is_buy].setdefault(price, deque()).append(tid)
            return tid, pulled, moves, closes, 0
        if not is_buy:
            released = remaining
        closes.append((tid, 1 if remaining == 0 else (4 if flags & IOC else 6)))
        return 0, pulled, moves, closes, released

    def cancel(self, oid, reason=2):
        closes = []
        refund = self._close(oid, reason, closes)
        return refund, closes
