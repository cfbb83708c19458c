# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Price-level index: which price levels of a book are active, and what each holds
@custom:contract-name price_levels
@license GNU Affero General Public License v3.0 only
@notice The index a market keeps per book (`book`, a 32-bit number chosen
        by the market) and side (0 bid, 1 ask) over price indexes 0..65,535
        (a price is `index * TICK`, kept by the market):
        - a two-level bitmap of active levels (a root word over 256 leaf
          words): the best level costs 2 storage reads, the next one away
          from it at most 3, and no call walks the book; whether a price
          crosses the other side (`_crossing`, the one place that decides
          it) costs 1 read when the root alone shows that side's best leaf
          beyond the price's leaf;
        - per level one word: the first and last order id of the level's
          FIFO queue and the level's total Wh, the aggregate a call auction
          clears on (`_next_level` walks the levels, never the orders).
        The orders' own links (previous, next) live in the market's order
        words, so the continuous book (`order_book`) keeps each level's
        FIFO and total itself, updating the level word in place with the
        bitmap maintained through `_set_bit`/`_clear_bit`. Measured: moving
        that into calls here over a decoded level struct (`_append`/
        `_remove`, tried) cost up to +724 gas per resting order and +414 per
        maker filled (titanoboa, same book), and CertificateExchange has
        no code size to spare on paris; so the level word has no codec
        here yet: the per-slot auction adds one with its own aggregate
        updates.
        No externals: markets expose `best_bid`/`best_ask` (`_top`) and
        `depth` (`_depth`) in their own terms.
@custom:security The `prev` link of a level's head is never read (it may
        name an order that is gone). A level's total is the sum of what its
        orders still count for; the market keeps it exact (a partial fill
        takes its Wh off, a removal what the order still counted for).
        Index words are keyed (book << 17 | side << 16 | index),
        (book << 9 | side << 8 | leaf) and (book << 1 | side): `book` <
        2**32 keeps them apart.
"""

# the most levels `_depth` returns
MAX_DEPTH: constant(uint256) = 32

BID: constant(uint256) = 0
ASK: constant(uint256) = 1

# the last price index
MAX_INDEX: constant(uint256) = 2**16 - 1
# `_crossing`'s answer when no level crosses: above every price index
NOT_CROSSING: constant(uint256) = MAX_INDEX + 1



# @dev One price level as the market shows it: price in quote base units per kWh, Wh resting.
struct Level:
    price: uint256
    amount_wh: uint256


# ---------------------------------------------------------------- STORAGE

# @dev (book << 17 | side << 16 | price index) => head (64) | tail << 64 (64) | total Wh << 128 (128).
_level: HashMap[uint256, uint256]

# @dev (book << 1 | side) => root bitmap: bit i set when leaf i has an active level.
_root: HashMap[uint256, uint256]

# @dev (book << 9 | side << 8 | leaf) => leaf bitmap: bit j set when price index leaf * 256 + j is active.
_leaf: HashMap[uint256, uint256]


# ================================================================ BITMAPS


@internal
@view
def _best(book: uint256, side: uint256) -> uint256:
    """
    @dev Best active price index of a side (lowest ask, highest bid), NOT_CROSSING if it is empty:
         every level crosses the side's worst index (the last for asks, 0 for bids).
    """
    return self._crossing(book, side, side * MAX_INDEX)


@internal
@view
def _crossing(book: uint256, side: uint256, limit: uint256) -> uint256:
    """
    @dev The best active level of a side if it crosses price index `limit`
         (an ask at or below it, a bid at or above it), else NOT_CROSSING:
         the one place a book's crossing is decided. The best leaf is read
         only when the root does not already show it beyond `limit`'s leaf:
         an order resting more than a leaf (256 ticks) from the other
         side's best reads one word less.
    """
    root: uint256 = self._root[(book << 1) | side]
    if root != 0:
        base: uint256 = (book << 9) | (side << 8)
        if side == ASK:
            leaf: uint256 = self._lsb(root)
            if leaf <= limit >> 8:
                idx: uint256 = (leaf << 8) | self._lsb(self._leaf[base | leaf])
                if idx <= limit:
                    return idx
        else:
            leaf: uint256 = self._msb(root)
            if leaf >= limit >> 8:
                idx: uint256 = (leaf << 8) | self._msb(self._leaf[base | leaf])
                if idx >= limit:
                    return idx
    return NOT_CROSSING


@internal
@view
def _next_level(book: uint256, side: uint256, idx: uint256) -> (bool, uint256):
    """
    @dev The next active index after `idx` going away from the best price.
    """
    leaf: uint256 = idx >> 8
    bit: uint256 = idx & 255
    base: uint256 = (book << 9) | (side << 8)
    word: uint256 = self._leaf[base | leaf]
    root: uint256 = self._root[(book << 1) | side]
    if side == ASK:
        # higher bits in this leaf, then higher leaves
        if bit < 255:
            rest: uint256 = word & ~((2 << bit) - 1)
            if rest != 0:
                return True, (leaf << 8) | self._lsb(rest)
        if leaf < 255:
            higher: uint256 = root & ~((2 << leaf) - 1)
            if higher != 0:
                nl: uint256 = self._lsb(higher)
                return True, (nl << 8) | self._lsb(self._leaf[base | nl])
        return False, 0
    rest: uint256 = word & ((1 << bit) - 1)
    if rest != 0:
        return True, (leaf << 8) | self._msb(rest)
    lower: uint256 = root & ((1 << leaf) - 1)
    if lower != 0:
        nl: uint256 = self._msb(lower)
        return True, (nl << 8) | self._msb(self._leaf[base | nl])
    return False, 0


@internal
@view
def _top(book: uint256, side: uint256, tick: uint256) -> (uint256, uint256):
    """
    @dev The best level of one side of `book`: price (index x `tick`) and Wh; zeros if empty.
    """
    idx: uint256 = self._best(book, side)
    if idx == NOT_CROSSING:
        return 0, 0
    return idx * tick, self._level[(book << 17) | (side << 16) | idx] >> 128


@internal
@view
def _depth(book: uint256, side: uint256, levels: uint256, tick: uint256) -> DynArray[Level, MAX_DEPTH]:
    """
    @dev Up to `levels` (<= MAX_DEPTH) active levels of one side, best first.
    """
    out: DynArray[Level, MAX_DEPTH] = []
    idx: uint256 = self._best(book, side)
    found: bool = idx != NOT_CROSSING
    for _: uint256 in range(MAX_DEPTH):
        if len(out) >= levels or not found:
            break
        out.append(Level(price=idx * tick, amount_wh=self._level[(book << 17) | (side << 16) | idx] >> 128))
        found, idx = self._next_level(book, side, idx)
    return out


@internal
def _set_bit(book: uint256, side: uint256, idx: uint256):
    leaf: uint256 = idx >> 8
    key: uint256 = (book << 9) | (side << 8) | leaf
    word: uint256 = self._leaf[key]
    if word == 0:
        self._root[(book << 1) | side] |= 1 << leaf
    self._leaf[key] = word | (1 << (idx & 255))


@internal
def _clear_bit(book: uint256, side: uint256, idx: uint256):
    leaf: uint256 = idx >> 8
    key: uint256 = (book << 9) | (side << 8) | leaf
    word: uint256 = self._leaf[key] & ~(1 << (idx & 255))
    self._leaf[key] = word
    if word == 0:
        self._root[(book << 1) | side] &= ~(1 << leaf)


@internal
@pure
def _lsb(x: uint256) -> uint256:
    """
    @dev Index of the lowest set bit of a non-zero word: the highest bit of
         that bit alone (x & -x, two's complement; one code path for both).
    """
    return self._msb(x & unsafe_sub(0, x))


@internal
@pure
def _msb(x: uint256) -> uint256:
    """
    @dev Index of the highest set bit of a non-zero word (binary search, 8 steps).
    """
    r: uint256 = 0
    v: uint256 = x
    if v >= 2**128:
        r += 128
        v >>= 128
    if v >= 2**64:
        r += 64
        v >>= 64
    if v >= 2**32:
        r += 32
        v >>= 32
    if v >= 2**16:
        r += 16
        v >>= 16
    if v >= 2**8:
        r += 8
        v >>= 8
    if v >= 2**4:
        r += 4
        v >>= 4
    if v >= 2**2:
        r += 2
        v >>= 2
    if v >= 2:
        r += 1
    return r
