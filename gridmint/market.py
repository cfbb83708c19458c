"""The order math of both markets (the WATT exchange and the certificate exchange), once.

As contracts/modules/order_book.vy does it: a fill of w Wh at p quote base units per kWh moves
floor(w * p / 1000); maker and taker fees are floor(quote * bps / 10,000) per fill; a bid escrows
ceil(w * p / 1000) plus ceil(that * FEE_BPS_CAP / 10,000), its unused part refunded to the
bidder's proceeds when it closes. The flags and the fee cap come from the contracts
(gridmint/generated/contracts.py); `preview` is what an order would do against the book now.
app/src/market.ts is the same module for the member app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .generated.contracts import FEE_BPS_CAP, FLAG_IOC, FLAG_POST_ONLY
from .units import WH_PER_KWH, UnitError

BPS_DENOMINATOR = 10_000


def quote_for(wh: int, price_per_kwh: int) -> int:
    """Quote base units a fill of `wh` at `price_per_kwh` moves (rounded down, as a fill moves it: `Trade` does not log it)."""
    return wh * price_per_kwh // WH_PER_KWH


def takers_of(placed) -> dict[int, str]:
    """Order id -> owner from `OrderPlaced` events: the taker a `Trade` names by `taker_order_id` (the
    book's `Trade` does not repeat it: the taker's order was placed earlier in the same transaction)."""
    return {int(e.order_id): str(e.owner) for e in placed}


def bps(amount: int, fee_bps: int) -> int:
    """A fee of `fee_bps` basis points on `amount` quote base units (rounded down, as the book does)."""
    return amount * fee_bps // BPS_DENOMINATOR


def bid_escrow(wh: int, price_per_kwh: int) -> int:
    """Quote base units a bid of `wh` at `price_per_kwh` escrows when it rests, on either market:
    price x amount rounded up, plus the fee cap (`FEE_BPS_CAP` bps) of that, rounded up."""
    base = -(-wh * price_per_kwh // WH_PER_KWH)
    return base + -(-base * FEE_BPS_CAP // BPS_DENOMINATOR)


def from_wallet(pay: int, balance: int) -> int:
    """What a bid paying `pay` (quote base units) takes from the bidder's wallet: its balance on the market
    (`proceeds_of`) pays first (contracts/modules/proceeds.vy `_pay_in`)."""
    return pay - min(balance, pay)


def order_flags(ioc: bool, post_only: bool) -> int:
    """The markets' `flags`: `FLAG_IOC` immediate-or-cancel, `FLAG_POST_ONLY` post-only (never both)."""
    if ioc and post_only:
        raise UnitError("--ioc and --post-only exclude each other")
    return (FLAG_IOC if ioc else 0) | (FLAG_POST_ONLY if post_only else 0)


@dataclass(frozen=True)
class Level:
    """One price level of a side of the book, as `depth()` returns it (the member's own orders included)."""

    price: int  # quote base units per kWh
    amount_wh: int


@dataclass(frozen=True)
class Preview:
    """What an order would do against the book as it stands (see `preview`); quote in base units."""

    is_buy: bool
    fill_wh: int  # trades at once
    quote: int  # what those fills move, before fees
    taker_fee: int  # the order's fee on its fills
    rest_wh: int  # rests in the book
    dropped_wh: int  # neither trades nor rests: an IOC remainder or a remainder below the minimum
    escrow: int  # what a resting bid escrows (bid_escrow of rest_wh at the limit)
    own_closed_wh: int  # the member's own resting orders met on the way: closed, not traded (self-trade)
    own_maybe_wh: int  # own Wh at the level where the order stops: closed only if queued before the fill ends
    post_only_crosses: bool  # a post-only order that would trade at once: the book refuses it

    @property
    def pay(self) -> int:
        """A bid: the most quote that leaves the bidder's wallet (fills, taker fee, a resting bid's escrow)."""
        return self.quote + self.taker_fee + self.escrow if self.is_buy else 0

    @property
    def receive(self) -> int:
        """An ask: quote credited to the seller's proceeds for the fills (after the taker fee)."""
        return 0 if self.is_buy else self.quote - self.taker_fee


def _crosses(is_buy: bool, limit: int, level_price: int) -> bool:
    return level_price <= limit if is_buy else level_price >= limit


def preview(
    is_buy: bool,
    limit: int,
    amount_wh: int,
    flags: int,
    opposite: Sequence[Level],
    own: Mapping[int, int],
    taker_bps: int,
    min_order_wh: int,
) -> Preview:
    """An order of `amount_wh` at `limit` (quote base units per kWh) against `opposite` (the other
    side's levels, best first, as `depth()` reports them) by a member whose own orders on that side
    hold `own[price]` Wh. As the book matches: levels best first while they cross the limit, each
    fill at the resting order's price; a resting order of the member's own is never traded but
    closed and refunded (`OrderClosed` reason self-trade), so it neither fills the order nor stays
    in the book; a post-only order that crosses anything (its own orders included) is refused; the
    remainder rests unless it is IOC or below the minimum.

    Exact when each level holds at most one order of other members; with several, the book rounds
    each fill down, so `quote` and `taker_fee` may be up to one base unit per extra order high (a
    bidder pays at most what is shown). Not modelled (depth shows neither): resting orders that
    have expired, are outside a changed band or below a raised minimum, or whose seller cannot sell
    (rent arrears, revoked certificate) are closed instead of filled, and one call meets at most
    `max_fills` resting orders."""
    crosses = any(_crosses(is_buy, limit, lvl.price) for lvl in opposite if lvl.amount_wh)
    if flags & FLAG_POST_ONLY:
        rest = amount_wh if not crosses and amount_wh >= min_order_wh else 0
        return Preview(is_buy, 0, 0, 0, rest, amount_wh - rest, bid_escrow(rest, limit) if is_buy and rest else 0,
                       0, 0, crosses)
    left, quote, fee, own_closed, own_maybe = amount_wh, 0, 0, 0, 0
    for lvl in opposite:
        if left == 0 or not _crosses(is_buy, limit, lvl.price):
            break
        mine = min(own.get(lvl.price, 0), lvl.amount_wh)
        others = lvl.amount_wh - mine
        if left > others:
            own_closed += mine  # every order of the level is met: the member's own are closed
        else:
            own_maybe += mine  # the order stops inside this level
        w = min(left, others)
        q = quote_for(w, lvl.price)
        quote += q
        fee += bps(q, taker_bps)
        left -= w
    rest = 0 if flags & FLAG_IOC or left < min_order_wh else left
    escrow = bid_escrow(rest, limit) if is_buy and rest else 0
    return Preview(is_buy, amount_wh - left, quote, fee, rest, left - rest, escrow, own_closed, own_maybe, False)
