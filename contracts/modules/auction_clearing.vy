# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Slot auction clearing: per-level aggregates, one price per slot, the fill rule
@custom:contract-name auction_clearing
@license GNU Affero General Public License v3.0 only
@notice The aggregates a call auction clears on, kept in the book's price-level
        index (`price_levels`: a two-level bitmap of active levels per book
        and side, one word per level whose high 128 bits are its total Wh):
        - book `slot` (< 2**28): the one-shot orders placed during that slot;
        - book `STANDING_BOOK`: the standing orders in force now;
        - book `EXPIRY_BASE | slot`: the standing Wh that stop joining at
          `slot` (their last slot was `slot - 1`), taken off the standing
          book when `slot` is cleared.
        `_clear(slot)` merges the slot's book with the standing book over
        the levels in use (never over orders), picks the price, and stores one
        result word per slot; nothing moves at clearing.
        Clearing price (docs/rules.md): among the price levels in use within
        the band in force at clearing at which every strictly better order can
        fill completely, the one that maximizes matched Wh; ties go to the
        smallest imbalance between demand and supply there, then to the
        lowest price. Fill rule (`_fill`): orders better than the price fill
        completely; at the price the long side shares the short side's
        remainder pro rata, bids rounded down and asks rounded up to the
        Wh (the long side always gets the rounding against it); the quote is
        the order's exact share, rounded up for a buyer and down for a
        seller: rounding never creates value; WATT dust (< 1 Wh per order
        at the price) stays with the auction and goes to the treasury.
@custom:security Bounded: at most `MAX_LEVELS` levels in use per book and
        side, so `_clear` walks at most 2 x 2 x MAX_LEVELS level words plus the
        expiry levels. Slots are cleared in order (`next_to_clear`), once each.
"""

# @dev Band and fees in force at clearing; tick.
from . import book_params

uses: book_params

# @dev The one slot boundary.
from . import slots

uses: slots

# @dev The bitmap and level words.
from . import price_levels

uses: price_levels

# ---------------------------------------------------------------- CONSTANTS

BID: constant(uint256) = 0
ASK: constant(uint256) = 1

# @dev Most price levels in use per book and side (a placement at a new level beyond it reverts).
MAX_LEVELS: public(constant(uint256)) = 128
# the merged walk of one side: the slot's book and the standing book
_MAX_MERGED: constant(uint256) = 256

STANDING_BOOK: public(constant(uint256)) = 2**31
EXPIRY_BASE: public(constant(uint256)) = 2**30
MAX_SLOT: constant(uint256) = 2**28 - 1

# result word: price index (16) | long side << 16 (2: 0 none, 1 bids, 2 asks) | shared Wh R << 18 (56) |
# long level total A << 74 (56) | matched Wh << 130 (56) | floor index << 186 (16) | ceiling index << 202 (16) |
# fee bps << 218 (8) | cleared flag << 255
LONG_NONE: constant(uint256) = 0
LONG_BIDS: constant(uint256) = 1
LONG_ASKS: constant(uint256) = 2
_CLEARED: constant(uint256) = 1 << 255
_M16: constant(uint256) = 2**16 - 1
_M56: constant(uint256) = 2**56 - 1
_M128: constant(uint256) = 2**128 - 1


# @dev One slot's clearing, decoded: price index, long side, the Wh the long side at the price
#      shares and that level's total, matched Wh, band indexes and fee (bps) in force at clearing.
struct Result:
    idx: uint256
    long_side: uint256
    shared_wh: uint256
    level_wh: uint256
    matched_wh: uint256
    floor_idx: uint256
    ceiling_idx: uint256
    fee_bps: uint256
    cleared: bool


# ---------------------------------------------------------------- STORAGE

# @dev The next slot to clear; slots before it are cleared.
next_to_clear: public(uint256)

# @dev Slot => result word (see Result).
_result: HashMap[uint256, uint256]

# @dev (book << 1 | side) => number of price levels in use.
_levels_in_use: HashMap[uint256, uint256]

# ---------------------------------------------------------------- EVENTS


event AuctionCleared:
    slot: indexed(uint256)
    price: uint256
    matched_wh: uint256
    demand_wh: uint256
    supply_wh: uint256
    long_side: uint256


@deploy
def __init__():
    # the first auction is the slot of deployment
    self.next_to_clear = slots._current()


# ================================================================ AGGREGATES


@internal
@view
def _level_wh(book: uint256, side: uint256, idx: uint256) -> uint256:
    return price_levels._level[(book << 17) | (side << 16) | idx] >> 128


@internal
def _add(book: uint256, side: uint256, idx: uint256, wh: uint256):
    """
    @dev Adds `wh` to a level of `book`, activating it (bounded by MAX_LEVELS).
    """
    key: uint256 = (book << 17) | (side << 16) | idx
    total: uint256 = price_levels._level[key] >> 128
    if total == 0:
        n: uint256 = self._levels_in_use[(book << 1) | side]
        assert n < MAX_LEVELS, "auction: too many price levels"
        self._levels_in_use[(book << 1) | side] = n + 1
        price_levels._set_bit(book, side, idx)
    price_levels._level[key] = (total + wh) << 128


@internal
def _sub(book: uint256, side: uint256, idx: uint256, wh: uint256):
    """
    @dev Takes `wh` off a level of `book`, deactivating it at zero.
    """
    key: uint256 = (book << 17) | (side << 16) | idx
    total: uint256 = (price_levels._level[key] >> 128) - wh
    price_levels._level[key] = total << 128
    if total == 0:
        self._levels_in_use[(book << 1) | side] -= 1
        price_levels._clear_bit(book, side, idx)


# ================================================================ CLEARING


@internal
def _apply_expiries(slot: uint256):
    """
    @dev Takes the standing Wh whose last slot was `slot - 1` off the standing book.
    """
    book: uint256 = EXPIRY_BASE | slot
    for side: uint256 in [BID, ASK]:
        root: uint256 = price_levels._root[(book << 1) | side]
        if root == 0:
            continue
        idx: uint256 = price_levels._best(book, side, root)
        found: bool = True
        for _: uint256 in range(MAX_LEVELS):
            if not found:
                break
            wh: uint256 = self._level_wh(book, side, idx)
            self._sub(STANDING_BOOK, side, idx, wh)
            nxt: uint256 = 0
            found, nxt = price_levels._next_level(book, side, idx)
            self._sub(book, side, idx, wh)
            idx = nxt


@internal
@view
def _merged(slot: uint256, side: uint256, lo: uint256, hi: uint256) -> DynArray[uint256, _MAX_MERGED]:
    """
    @dev The levels of one side of `slot` (its one-shot book plus the standing
         book) within price indexes [lo, hi], best first, merged by index:
         each entry is index | Wh << 16.
    """
    out: DynArray[uint256, _MAX_MERGED] = []
    a_found: bool = False
    a: uint256 = 0
    b_found: bool = False
    b: uint256 = 0
    root: uint256 = price_levels._root[(slot << 1) | side]
    if root != 0:
        a_found = True
        a = price_levels._best(slot, side, root)
    root = price_levels._root[(STANDING_BOOK << 1) | side]
    if root != 0:
        b_found = True
        b = price_levels._best(STANDING_BOOK, side, root)
    for _: uint256 in range(_MAX_MERGED):
        if not a_found and not b_found:
            break
        # the better of the two heads (asks: lower index; bids: higher)
        take_a: bool = a_found and (not b_found or (a <= b if side == ASK else a >= b))
        take_b: bool = b_found and (not a_found or a == b or not take_a)
        idx: uint256 = a if take_a else b
        wh: uint256 = 0
        if take_a:
            wh += self._level_wh(slot, side, a)
            a_found, a = price_levels._next_level(slot, side, a)
        if take_b:
            wh += self._level_wh(STANDING_BOOK, side, b)
            b_found, b = price_levels._next_level(STANDING_BOOK, side, b)
        if idx >= lo and idx <= hi:
            out.append(idx | (wh << 16))
    return out


@internal
def _clear(slot: uint256) -> Result:
    """
    @dev Clears `slot` (ended, the next in order) on its aggregates and
         stores its result word; moves nothing.
    """
    assert slot >= self.next_to_clear, "auction: slot already cleared"
    assert slot == self.next_to_clear, "auction: clear the earlier slots first"
    assert slots._has_ended(slot), "auction: slot not ended"
    self._apply_expiries(slot)
    p: book_params.Params = book_params._load()
    tick: uint256 = book_params.TICK
    lo: uint256 = (p.floor_price + tick - 1) // tick
    hi: uint256 = p.ceiling_price // tick
    asks: DynArray[uint256, _MAX_MERGED] = self._merged(slot, ASK, lo, hi)
    bids: DynArray[uint256, _MAX_MERGED] = self._merged(slot, BID, lo, hi)
    demand: uint256 = 0
    for w: uint256 in bids:
        demand += w >> 16
    # walk candidate prices upwards: asks ascending (asks[i]), bids descending (from the end)
    best_v: uint256 = 0
    best_imb: uint256 = 0
    best_idx: uint256 = 0
    best_d: uint256 = 0
    best_s: uint256 = 0
    best_bid_at: uint256 = 0
    best_ask_at: uint256 = 0
    supply: uint256 = 0
    d: uint256 = demand
    i: uint256 = 0
    j: uint256 = len(bids)
    for _: uint256 in range(2 * _MAX_MERGED):
        if i >= len(asks) and j == 0:
            break
        # next candidate: the lower of the next ask level and the lowest remaining bid level
        idx: uint256 = max_value(uint256)
        if i < len(asks):
            idx = asks[i] & _M16
        if j > 0 and bids[j - 1] & _M16 < idx:
            idx = bids[j - 1] & _M16
        ask_at: uint256 = 0
        bid_at: uint256 = 0
        if i < len(asks) and asks[i] & _M16 == idx:
            ask_at = asks[i] >> 16
            i += 1
        if j > 0 and bids[j - 1] & _M16 == idx:
            bid_at = bids[j - 1] >> 16
            j -= 1
        supply += ask_at
        # demand at idx = bids at >= idx; d holds that before removing this level
        # every strictly better order must fit: bids above <= supply, asks below <= demand
        if d - bid_at <= supply and supply - ask_at <= d:
            v: uint256 = min(d, supply)
            imb: uint256 = max(d, supply) - v
            if v > best_v or (v == best_v and v != 0 and imb < best_imb):
                best_v = v
                best_imb = imb
                best_idx = idx
                best_d = d
                best_s = supply
                best_bid_at = bid_at
                best_ask_at = ask_at
        d -= bid_at
    r: Result = Result(
        idx=best_idx,
        long_side=LONG_NONE,
        shared_wh=0,
        level_wh=0,
        matched_wh=best_v,
        floor_idx=lo,
        ceiling_idx=hi,
        fee_bps=p.taker_fee_bps,
        cleared=True,
    )
    if best_v != 0 and best_d > best_s:
        r.long_side = LONG_BIDS
        r.shared_wh = best_s - (best_d - best_bid_at)
        r.level_wh = best_bid_at
    elif best_v != 0 and best_s > best_d:
        r.long_side = LONG_ASKS
        r.shared_wh = best_d - (best_s - best_ask_at)
        r.level_wh = best_ask_at
    self._result[slot] = (
        r.idx
        | (r.long_side << 16)
        | (r.shared_wh << 18)
        | (r.level_wh << 74)
        | (r.matched_wh << 130)
        | (r.floor_idx << 186)
        | (r.ceiling_idx << 202)
        | (r.fee_bps << 218)
        | _CLEARED
    )
    self.next_to_clear = slot + 1
    log AuctionCleared(
        slot=slot, price=best_idx * tick, matched_wh=best_v, demand_wh=best_d, supply_wh=best_s, long_side=r.long_side
    )
    return r


@internal
@view
def _load_result(slot: uint256) -> Result:
    w: uint256 = self._result[slot]
    return Result(
        idx=w & _M16,
        long_side=(w >> 16) & 3,
        shared_wh=(w >> 18) & _M56,
        level_wh=(w >> 74) & _M56,
        matched_wh=(w >> 130) & _M56,
        floor_idx=(w >> 186) & _M16,
        ceiling_idx=(w >> 202) & _M16,
        fee_bps=(w >> 218) & 255,
        cleared=w & _CLEARED != 0,
    )


@internal
@pure
def _fill(r: Result, is_buy: bool, idx: uint256, amount_wh: uint256, tick: uint256) -> (uint256, uint256):
    """
    @dev The Wh an order of `amount_wh` at price index `idx` fills in a
         cleared slot and its quote before fees (base units): a buyer's
         rounded up, a seller's rounded down. (0, 0) when it does not fill.
    """
    if r.matched_wh == 0 or idx < r.floor_idx or idx > r.ceiling_idx:
        return 0, 0
    price: uint256 = r.idx * tick
    if is_buy:
        if idx < r.idx:
            return 0, 0
        if idx == r.idx and r.long_side == LONG_BIDS:
            # exact share amount * R / A Wh: Wh rounded down, quote rounded up
            num: uint256 = amount_wh * r.shared_wh
            return num // r.level_wh, (num * price + r.level_wh * 1000 - 1) // (r.level_wh * 1000)
        return amount_wh, (amount_wh * price + 999) // 1000
    if idx > r.idx:
        return 0, 0
    if idx == r.idx and r.long_side == LONG_ASKS:
        # exact share: Wh rounded up (delivered), quote rounded down (paid)
        num: uint256 = amount_wh * r.shared_wh
        return (num + r.level_wh - 1) // r.level_wh, num * price // (r.level_wh * 1000)
    return amount_wh, amount_wh * price // 1000
