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
        `_clear(slot)` clears every uncleared slot up to `slot` (at most
        `MAX_CATCH_UP` per call, one `AuctionCleared` each): per slot it walks
        the slot's book merged with the standing book over the levels in use
        (never over orders), once, from both best prices to the crossing, picks
        the price, and stores one result word (none when nothing matched);
        nothing moves at clearing.
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
        side, so a slot's clearing reads at most 2 x 2 x MAX_LEVELS level words
        plus the expiry levels, and one call clears at most MAX_CATCH_UP slots.
        Slots are cleared in order (`next_to_clear`), once each.
        A one-shot book's level words live in a ring of SLOT_RING slots,
        tagged with their slot (`_ring`): slot k rewrites
        the words of slot k - SLOT_RING (5,000 gas, not 22,100), which is why an
        order for slot k waits until that slot is cleared (`auction_orders._place`).
        `next_to_clear` shares its storage word with the order counters of
        `auction_orders` (`_state`), so a claim reads both in one slot. The walk reads
        `price_levels`' words directly (its key scheme is part of the contract).
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
# @dev Most slots one `clear` call clears (a day of 30-minute slots); further ones take another call.
MAX_CATCH_UP: public(constant(uint256)) = 48
# the merged walk of one side: the slot's book and the standing book
_MAX_MERGED: constant(uint256) = 256

STANDING_BOOK: public(constant(uint256)) = 2**31
EXPIRY_BASE: public(constant(uint256)) = 2**30
MAX_SLOT: constant(uint256) = 2**28 - 1
# @dev One-shot books keep their level words in a ring of SLOT_RING slots (a day of 30-minute slots):
#      slot k uses the words of slot k - SLOT_RING, so a price in use a day before costs a rewrite, not
#      a new word. An order for slot k waits until slot k - SLOT_RING is cleared.
SLOT_RING: public(constant(uint256)) = 48
# the ring's books: RING_BOOK | slot % SLOT_RING (level words only; bitmaps and counts stay per slot)
RING_BOOK: constant(uint256) = 2**29
# the highest price index (price_levels: 256 leaves of 256 levels)
MAX_INDEX: constant(uint256) = 2**16 - 1

# result word: price index (16) | long side << 16 (2: 0 none, 1 bids, 2 asks) | shared Wh R << 18 (56) |
# long level total A << 74 (56) | matched Wh << 130 (56) | floor index << 186 (16) | ceiling index << 202 (16) |
# fee bps << 218 (8) | cleared flag << 255
LONG_NONE: constant(uint256) = 0
LONG_BIDS: constant(uint256) = 1
LONG_ASKS: constant(uint256) = 2
_CLEARED: constant(uint256) = 1 << 255
_M16: constant(uint256) = 2**16 - 1
_M32: constant(uint256) = 2**32 - 1
_M56: constant(uint256) = 2**56 - 1
_M128: constant(uint256) = 2**128 - 1
_ONE: constant(uint256) = 1


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

# @dev The next slot to clear (32; slots before it are cleared) | the order counters of
#      `auction_orders` << 32 (224, see its Counters): one word read by placements, claims and clears.
_state: uint256

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
    # the first auction is the slot of deployment; order words are keyed from 1 (see auction_orders)
    self._state = slots._current() | (1 << 32)


@external
@view
def next_to_clear() -> uint256:
    """
    @notice The next slot to clear; every slot before it is cleared.
    @return uint256 The 32-byte slot number.
    """
    return self._state & _M32


@internal
@view
def _next() -> uint256:
    return self._state & _M32


# ================================================================ AGGREGATES


@internal
@pure
def _ring(book: uint256, side: uint256, idx: uint256) -> (uint256, uint256):
    """
    @dev A level's word key and the tag its word carries. A one-shot book (`book` a slot) keeps its
         level words in the ring (RING_BOOK | slot % SLOT_RING), tagged with slot + 1: a word with
         another tag is an earlier slot's, already cleared (`auction_orders._place` admits no order
         for slot k before slot k - SLOT_RING is cleared), and holds 0 Wh of this slot. Other books
         key by book, tag 0.
    """
    if book <= MAX_SLOT:
        return ((RING_BOOK | (book % SLOT_RING)) << 17) | (side << 16) | idx, book + 1
    return (book << 17) | (side << 16) | idx, 0


@internal
@view
def _level_word(key: uint256) -> uint256:
    """
    @dev The level `key` names in price_levels' scheme (book << 17 | side << 16 | idx) as total Wh << 128,
         read through the ring for a one-shot book (0 once a later slot took its word).
    """
    k: uint256 = 0
    tag: uint256 = 0
    k, tag = self._ring(key >> 17, (key >> 16) & 1, key & _M16)
    w: uint256 = price_levels._level[k]
    if w & _M128 != tag:
        return 0
    return w ^ tag


@internal
def _add(book: uint256, side: uint256, idx: uint256, wh: uint256):
    """
    @dev Adds `wh` to a level of `book`, activating it (bounded by MAX_LEVELS). A one-shot book's
         word keeps its tag when it empties: never 0 again, the next slot that uses it rewrites it
         (5,000 gas) instead of creating it (22,100).
    """
    key: uint256 = 0
    tag: uint256 = 0
    key, tag = self._ring(book, side, idx)
    w: uint256 = price_levels._level[key]
    total: uint256 = 0
    if w & _M128 == tag:
        total = w >> 128
    if total == 0:
        n: uint256 = self._levels_in_use[(book << 1) | side]
        assert n < MAX_LEVELS, "auction: too many price levels"
        self._levels_in_use[(book << 1) | side] = n + 1
        price_levels._set_bit(book, side, idx)
    price_levels._level[key] = ((total + wh) << 128) | tag


@internal
def _sub(book: uint256, side: uint256, idx: uint256, wh: uint256):
    """
    @dev Takes `wh` off a level of `book` (its word is this book's: it holds `wh`), deactivating it at zero.
    """
    key: uint256 = 0
    tag: uint256 = 0
    key, tag = self._ring(book, side, idx)
    total: uint256 = (price_levels._level[key] >> 128) - wh
    price_levels._level[key] = (total << 128) | tag
    if total == 0:
        self._levels_in_use[(book << 1) | side] -= 1
        price_levels._clear_bit(book, side, idx)


# ================================================================ CLEARING


@internal
def _apply_expiries(slot: uint256):
    """
    @dev Takes the standing Wh whose last slot was `slot - 1` off the standing book (and empties
         the expiry book): a walk over the expiry book alone (`_step` with no standing bits).
    """
    # no standing order in force, no expiry (an expiry book's Wh are in the standing book until applied):
    # these two words, read here, are the ones the walk's `_start` reads next (warm then)
    if price_levels._root[(STANDING_BOOK << 1) | BID] | price_levels._root[(STANDING_BOOK << 1) | ASK] == 0:
        return
    book: uint256 = EXPIRY_BASE | slot
    for side: uint256 in [BID, ASK]:
        c: Cursor = empty(Cursor)
        c.rs = price_levels._root[(book << 1) | side]
        if c.rs == 0:
            continue
        c.hi = MAX_INDEX
        c = self._step(book, side, c)
        for _: uint256 in range(MAX_LEVELS):
            if not c.found:
                break
            self._sub(STANDING_BOOK, side, c.idx, c.wh)
            # the cursor keeps its own copy of the leaf and root bits: clearing them here is safe
            self._sub(book, side, c.idx, c.wh)
            c = self._step(book, side, c)


# @dev A walk over one side of a slot (its one-shot book merged with the standing book), level by
#      level away from the best price, within the band: the current leaf's remaining bits of each
#      book, the leaves not yet loaded (root bits), and the level it stands on (price index, Wh,
#      its bit in the leaf).
struct Cursor:
    found: bool
    idx: uint256
    wh: uint256
    leaf: uint256
    ws: uint256
    wt: uint256
    rs: uint256
    rt: uint256
    m: uint256
    lo: uint256
    hi: uint256


@internal
@pure
def _msb(x: uint256) -> uint256:
    """
    @dev Index of the highest set bit of a non-zero word (binary search, unchecked: x < 2**256).
    """
    v: uint256 = x
    r: uint256 = 0
    if v >= 2**128:
        v >>= 128
        r = 128
    if v >= 2**64:
        v >>= 64
        r = unsafe_add(r, 64)
    if v >= 2**32:
        v >>= 32
        r = unsafe_add(r, 32)
    if v >= 2**16:
        v >>= 16
        r = unsafe_add(r, 16)
    if v >= 2**8:
        v >>= 8
        r = unsafe_add(r, 8)
    if v >= 2**4:
        v >>= 4
        r = unsafe_add(r, 4)
    if v >= 2**2:
        v >>= 2
        r = unsafe_add(r, 2)
    if v >= 2:
        r = unsafe_add(r, 1)
    return r


@internal
@pure
def _upto(bit: uint256) -> uint256:
    """
    @dev The mask of bits 0..`bit` (bit < 256).
    """
    return unsafe_sub(_ONE << bit, 1) | (_ONE << bit)


@internal
@view
def _start(slot: uint256, side: uint256, lo: uint256, hi: uint256) -> Cursor:
    """
    @dev A walk over one side of `slot` within price indexes [lo, hi], standing on its best level.
    """
    keep: uint256 = self._upto(hi >> 8) & ~unsafe_sub(_ONE << (lo >> 8), 1)
    c: Cursor = empty(Cursor)
    c.rs = price_levels._root[(slot << 1) | side] & keep
    c.rt = price_levels._root[(STANDING_BOOK << 1) | side] & keep
    c.lo = lo
    c.hi = hi
    return self._step(slot, side, c)


@internal
@view
def _step(slot: uint256, side: uint256, c_in: Cursor) -> Cursor:
    """
    @dev Moves a walk to its next level away from the best price (asks up, bids down): one
         level word read per book holding that level, one leaf word per leaf entered.
    """
    c: Cursor = c_in
    if c.ws | c.wt == 0:
        # a leaf holds no level in the band only at the band's edges: at most 3 leaves are entered
        for _: uint256 in range(3):
            if c.ws | c.wt != 0:
                break
            r: uint256 = c.rs | c.rt
            if r == 0:
                c.found = False
                return c
            leaf: uint256 = 0
            if side == ASK:
                leaf = self._msb(r & unsafe_sub(0, r))
            else:
                leaf = self._msb(r)
            bit: uint256 = _ONE << leaf
            keep: uint256 = max_value(uint256)
            if leaf == c.lo >> 8:
                keep = ~unsafe_sub(_ONE << (c.lo & 255), 1)
            if leaf == c.hi >> 8:
                keep &= self._upto(c.hi & 255)
            c.ws = 0
            c.wt = 0
            if c.rs & bit != 0:
                c.ws = price_levels._leaf[(slot << 9) | (side << 8) | leaf] & keep
                c.rs ^= bit
            if c.rt & bit != 0:
                c.wt = price_levels._leaf[(STANDING_BOOK << 9) | (side << 8) | leaf] & keep
                c.rt ^= bit
            c.leaf = leaf
            c.m = 0
    w: uint256 = c.ws | c.wt
    if w == 0:
        c.found = False
        return c
    # the next bit of the leaf: the one beside the last level's when the levels are adjacent
    # ticks (the common case near the price), else a bit search
    b: uint256 = 0
    m: uint256 = 0
    if side == ASK:
        m = w & unsafe_sub(0, w)
        if m == c.m << 1:
            b = unsafe_add(c.idx & 255, 1)
        else:
            b = self._msb(m)
    else:
        m = c.m >> 1
        if w & m != 0:
            b = unsafe_sub(c.idx & 255, 1)
        else:
            b = self._msb(w)
            m = _ONE << b
    c.m = m
    c.idx = (c.leaf << 8) | b
    c.wh = 0
    if c.ws & m != 0:
        # the word of a level whose bit is set in this slot's bitmap is this slot's own (`_ring`): no
        # later slot takes it before this one is cleared, and adding to it replaced any earlier slot's
        lb: uint256 = slot
        if slot <= MAX_SLOT:
            lb = RING_BOOK | (slot % SLOT_RING)
        c.wh = price_levels._level[(lb << 17) | (side << 16) | c.idx] >> 128
        c.ws ^= m
    if c.wt & m != 0:
        c.wh = unsafe_add(c.wh, price_levels._level[(STANDING_BOOK << 17) | (side << 16) | c.idx] >> 128)
        c.wt ^= m
    c.found = True
    return c


@internal
def _clear_one(slot: uint256, lo: uint256, hi: uint256, fee_bps: uint256, tick: uint256):
    """
    @dev Clears one ended slot on its aggregates in one pass over its levels, from both best
         prices towards the crossing (no intermediate arrays), and stores its result word;
         moves nothing. A slot where nothing matches stores no word: its result reads as
         cleared with nothing matched (`_load_result`).
         The walk classifies levels by f(p) = demand(p) - supply(p), which falls as p rises:
         the lowest unwalked ask is below the crossing (f >= 0) once the bids walked plus the
         next bid level (when at or above it) cover the asks up to it; otherwise the highest
         unwalked bid is above it (f < 0). It stops when neither is decided, i.e. once the two
         cursors have passed each other. Of the levels below the crossing the highest is the
         best (volume = supply rises, imbalance falls), of those above the lowest; so the
         price is one of those two (or, on a tie in volume and imbalance, the level just
         below: lowest price), each feasible exactly when the other side's walked Wh fits.
    """
    self._apply_expiries(slot)
    a: Cursor = self._start(slot, ASK, lo, hi)
    b: Cursor = self._start(slot, BID, lo, hi)
    if not a.found or not b.found:
        # one side empty within the band: nothing can match (an unmatched slot stores no word)
        log AuctionCleared(slot=slot, price=0, matched_wh=0, demand_wh=0, supply_wh=0, long_side=LONG_NONE)
        return
    # Wh sums below 2**137 (at most 512 levels of < 2**128 Wh): unchecked adds
    sc: uint256 = 0  # asks walked (all asks at or below the last one walked)
    bc: uint256 = 0  # bids walked (all bids at or above the last one walked)
    a_last: uint256 = 0
    a_walked: bool = False
    b_last: uint256 = 0
    b_walked: bool = False
    for _: uint256 in range(2 * _MAX_MERGED):
        if a.found:
            covered: uint256 = bc
            if b.found and b.idx >= a.idx:
                covered = unsafe_add(covered, b.wh)
            if covered >= unsafe_add(sc, a.wh):
                sc = unsafe_add(sc, a.wh)
                a_last = a.idx
                a_walked = True
                a = self._step(slot, ASK, a)
                continue
        if b.found:
            asked: uint256 = sc
            if a.found and a.idx <= b.idx:
                asked = unsafe_add(asked, a.wh)
            if unsafe_add(bc, b.wh) < asked:
                bc = unsafe_add(bc, b.wh)
                b_last = b.idx
                b_walked = True
                b = self._step(slot, BID, b)
                continue
        break
    # below the crossing: the highest of the last ask walked and the next bid; above: the lowest
    # of the last bid walked and the next ask. Demand and supply there follow from the walk.
    best_v: uint256 = 0
    best_imb: uint256 = 0
    best_idx: uint256 = 0
    best_d: uint256 = 0
    best_s: uint256 = 0
    long_side: uint256 = LONG_NONE
    shared: uint256 = 0
    level: uint256 = 0
    if (a_walked or b.found) and bc <= sc:
        pl: uint256 = a_last
        dl: uint256 = bc
        if b.found and (not a_walked or b.idx >= a_last):
            pl = b.idx
            dl = bc + b.wh
        best_v = min(dl, sc)
        if best_v != 0:
            best_imb = dl - best_v
            best_idx = pl
            best_d = dl
            best_s = sc
            if dl > sc:
                long_side = LONG_BIDS
                shared = sc - bc
                level = dl - bc
            elif pl != a_last and a_walked:
                # a bid-only level with no imbalance ties the ask level just below it when no bid
                # lies between: the lowest price wins
                nb: Cursor = self._step(slot, BID, b)
                if not nb.found or nb.idx < a_last:
                    best_idx = a_last
    if (b_walked or a.found) and sc <= bc:
        pr: uint256 = b_last
        sr: uint256 = sc
        if a.found and (not b_walked or a.idx <= b_last):
            pr = a.idx
            sr = sc + a.wh
        v: uint256 = min(bc, sr)
        imb: uint256 = sr - v
        if v != 0 and (v > best_v or (v == best_v and imb < best_imb)):
            best_v = v
            best_imb = imb
            best_idx = pr
            best_d = bc
            best_s = sr
            long_side = LONG_NONE
            shared = 0
            level = 0
            if sr > bc:
                long_side = LONG_ASKS
                shared = bc - sc
                level = sr - sc
    if best_v == 0:
        best_idx = 0
        best_d = 0
        best_s = 0
    else:
        self._result[slot] = (
            best_idx
            | (long_side << 16)
            | (shared << 18)
            | (level << 74)
            | (best_v << 130)
            | (lo << 186)
            | (hi << 202)
            | (fee_bps << 218)
            | _CLEARED
        )
    log AuctionCleared(
        slot=slot, price=best_idx * tick, matched_wh=best_v, demand_wh=best_d, supply_wh=best_s, long_side=long_side
    )


@internal
def _clear(slot: uint256) -> uint256:
    """
    @dev Clears every slot not yet cleared up to `slot` (ended), in order, each as it would have
         cleared on time with the band and fee in force now; at most MAX_CATCH_UP slots per call
         (a `slot` further on reverts: clear an earlier one first). Returns the number cleared.
    """
    state: uint256 = self._state
    first: uint256 = state & _M32
    assert slot >= first, "auction: slot already cleared"
    assert slot < first + MAX_CATCH_UP, "auction: too many slots to catch up"
    assert slots._has_ended(slot), "auction: slot not ended"
    p: book_params.Params = book_params._load()
    tick: uint256 = book_params.TICK
    lo: uint256 = (p.floor_price + tick - 1) // tick
    hi: uint256 = p.ceiling_price // tick
    for k: uint256 in range(first, first + MAX_CATCH_UP, bound=MAX_CATCH_UP):
        if k > slot:
            break
        self._clear_one(k, lo, hi, p.taker_fee_bps, tick)
    # slot < first + MAX_CATCH_UP and first < 2**32: no carry into the counters
    self._state = (state & ~_M32) | (slot + 1)
    return slot + 1 - first


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
        cleared=w & _CLEARED != 0 or slot < self._state & _M32,
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
