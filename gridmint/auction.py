"""The slot auction in Python: a reference clearing by brute force over orders, and the fill rule.

`clear_slot` finds a slot's clearing price from the orders themselves (every order's limit is
a candidate; demand and supply at each candidate are summed over all orders), independently of
the contract, which clears on per-level aggregates (contracts/modules/auction_clearing.vy).
The stateful machine (tests/fuzz/stateful/test_auction_machine.py) compares the two on every
clearing: the price and each order's fill.

Units: prices in quote base units per kWh (``idx * tick``), amounts in Wh, fees in bps.

The rule (docs/rules.md): among the price levels in use within the band in force at clearing at
which every strictly better order can fill completely, the clearing price maximizes matched Wh;
ties go to the smallest imbalance between demand and supply, then to the lowest price. Orders
better than the price fill completely; at the price the long side shares the short side's
remainder pro rata: a bid gets floor(a * R / A) Wh and pays ceil(a * R * p / (A * 1000)); an ask
delivers ceil(a * R / A) Wh and is paid floor(a * R * p / (A * 1000)). Rounding never creates
value: the WATT dust (< 1 Wh per order at the price) stays with the auction.

`catch_up_calls` plans a late clearing: `clear(k)` clears every uncleared slot up to k, at most
`MAX_CATCH_UP` per call, so catching up on n ended slots takes ceil(n / 48) transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

# MAX_CATCH_UP: most slots one `clear(k)` call clears (a day of 30-minute slots); SLOT_RING: an order for
# slot k waits until slot k - SLOT_RING is cleared (the ring of level words); both generated from the contract
from gridmint.generated.contracts import MAX_CATCH_UP, SLOT_RING
# a bid escrows per slot what a resting bid escrows on the continuous book: the one rule of both
# markets (contracts/modules/book_params.vy `_bid_escrow`)
from gridmint.market import bid_escrow  # noqa: F401

LONG_NONE, LONG_BIDS, LONG_ASKS = 0, 1, 2
BPS = 10_000


@dataclass(frozen=True)
class Order:
    """One order as it joins one auction: side, price index (price = idx * tick), Wh."""

    order_id: int
    is_buy: bool
    idx: int
    amount_wh: int


@dataclass(frozen=True)
class Clearing:
    """A slot's clearing: price index, long side, the Wh shared at the price and that level's
    total (Wh), matched Wh, the band (price indexes) and fee (bps) in force."""

    idx: int
    long_side: int
    shared_wh: int
    level_wh: int
    matched_wh: int
    floor_idx: int
    ceiling_idx: int
    fee_bps: int


def clear_slot(orders: list[Order], floor_idx: int, ceiling_idx: int, fee_bps: int) -> Clearing:
    """Brute force: every candidate price is tried against every order."""
    live = [o for o in orders if floor_idx <= o.idx <= ceiling_idx and o.amount_wh > 0]
    best = None  # (volume, -imbalance, -idx) maximized
    chosen = (0, 0, 0, 0, 0)
    for p in sorted({o.idx for o in live}):
        demand = sum(o.amount_wh for o in live if o.is_buy and o.idx >= p)
        supply = sum(o.amount_wh for o in live if not o.is_buy and o.idx <= p)
        bids_above = sum(o.amount_wh for o in live if o.is_buy and o.idx > p)
        asks_below = sum(o.amount_wh for o in live if not o.is_buy and o.idx < p)
        if bids_above > supply or asks_below > demand:
            continue  # an order strictly better than p could not fill completely
        volume = min(demand, supply)
        if volume == 0:
            continue
        key = (volume, -(max(demand, supply) - volume), -p)
        if best is None or key > best:
            best = key
            chosen = (p, demand, supply, bids_above, asks_below)
    p, demand, supply, bids_above, asks_below = chosen
    volume = min(demand, supply)
    long_side, shared, level = LONG_NONE, 0, 0
    if volume and demand > supply:
        long_side, shared, level = LONG_BIDS, supply - bids_above, demand - bids_above
    elif volume and supply > demand:
        long_side, shared, level = LONG_ASKS, demand - asks_below, supply - asks_below
    return Clearing(p if volume else 0, long_side, shared, level, volume, floor_idx, ceiling_idx, fee_bps)


def fill(c: Clearing, is_buy: bool, idx: int, amount_wh: int, tick: int) -> tuple[int, int]:
    """(Wh filled, quote before fees in base units) of one order in a cleared slot."""
    if c.matched_wh == 0 or not c.floor_idx <= idx <= c.ceiling_idx:
        return 0, 0
    price = c.idx * tick
    at_price = idx == c.idx
    if is_buy:
        if idx < c.idx:
            return 0, 0
        if at_price and c.long_side == LONG_BIDS:
            num = amount_wh * c.shared_wh
            return num // c.level_wh, -(-num * price // (c.level_wh * 1000))
        return amount_wh, -(-amount_wh * price // 1000)
    if idx > c.idx:
        return 0, 0
    if at_price and c.long_side == LONG_ASKS:
        num = amount_wh * c.shared_wh
        return -(-num // c.level_wh), num * price // (c.level_wh * 1000)
    return amount_wh, amount_wh * price // 1000


def fee_of(quote: int, fee_bps: int) -> int:
    """The fee each side pays on its own quote (base units, rounded down)."""
    return quote * fee_bps // BPS


def standing_slots(first_slot: int, until_s: int, slot_s: int) -> range:
    """The slots a standing order placed in `first_slot` joins: those ending by `until_s`."""
    return range(first_slot, until_s // slot_s)


def may_place(next_to_clear: int, slot: int) -> bool:
    """Whether a one-shot order may join `slot` now: slot - SLOT_RING, whose level words it reuses, is cleared."""
    return slot < next_to_clear + SLOT_RING


def catch_up_calls(next_to_clear: int, current_slot: int, most_slots: int | None = None) -> list[int]:
    """The slots k to call `clear(k)` with, in order, to clear every ended slot (those before
    `current_slot`) from `next_to_clear` on, at most `most_slots` of them (all when None): each
    call clears up to MAX_CATCH_UP slots. Empty when nothing has ended."""
    end = current_slot if most_slots is None else min(current_slot, next_to_clear + most_slots)
    return [min(k + MAX_CATCH_UP, end) - 1 for k in range(next_to_clear, end, MAX_CATCH_UP)]
