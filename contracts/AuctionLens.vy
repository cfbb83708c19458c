# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Auction lens: the slot auction's aggregate price levels, for the app and the CLI
@custom:contract-name AuctionLens
@license GNU Affero General Public License v3.0 only
@notice Read-only views over one EnergyAuction's price-level index, moved out
        of the auction for code size (EIP-170: the auction keeps 24,576 bytes
        for its rules): `levels(slot, is_buy, n)`, the one-shot orders of a
        slot, and `standing_levels(is_buy, n)`, the standing orders in force,
        each up to `n` (<= 32) levels best first, price in quote base units
        per kWh and Wh (per slot for standing orders). It reads the index
        words through the auction's `index_word(kind, key)` (kind 0 root,
        1 leaf, 2 level; keys as in contracts/modules/price_levels.vy) and
        walks them as `price_levels._depth` does. No state, no externals
        that change anything.
"""

# @dev The auction's raw index reads and its tick.
interface IAuctionIndex:
    def index_word(kind: uint256, key: uint256) -> uint256: view
    def TICK() -> uint256: view


# @dev One price level: price in quote base units per kWh, Wh.
struct Level:
    price: uint256
    amount_wh: uint256


MAX_DEPTH: constant(uint256) = 32
BID: constant(uint256) = 0
ASK: constant(uint256) = 1
# the book of the standing orders in force (contracts/modules/auction_clearing.vy)
STANDING_BOOK: constant(uint256) = 2**31
_ROOT: constant(uint256) = 0
_LEAF: constant(uint256) = 1
_LEVEL: constant(uint256) = 2

# @dev The EnergyAuction this lens reads.
AUCTION: public(immutable(IAuctionIndex))


@deploy
def __init__(auction_: IAuctionIndex):
    """
    @param auction_ The 20-byte EnergyAuction.
    """
    AUCTION = auction_


@external
@view
def levels(slot: uint256, is_buy: bool, n: uint256) -> DynArray[Level, MAX_DEPTH]:
    """
    @notice Up to `n` (<= 32) price levels of the one-shot orders of `slot`, best first; a
            level whose word slot + SLOT_RING (48) took reads 0 Wh.
    @param slot The 32-byte slot number.
    @param is_buy True for bids, false for asks.
    @param n The 32-byte number of levels wanted.
    @return DynArray The levels (price in quote base units per kWh, Wh).
    """
    return self._depth(slot, BID if is_buy else ASK, n)


@external
@view
def standing_levels(is_buy: bool, n: uint256) -> DynArray[Level, MAX_DEPTH]:
    """
    @notice Up to `n` (<= 32) price levels of the standing orders in force, best first (Wh per slot).
    @param is_buy True for bids, false for asks.
    @param n The 32-byte number of levels wanted.
    @return DynArray The levels (price in quote base units per kWh, Wh).
    """
    return self._depth(STANDING_BOOK, BID if is_buy else ASK, n)


@internal
@view
def _word(kind: uint256, key: uint256) -> uint256:
    return staticcall AUCTION.index_word(kind, key)


@internal
@view
def _depth(book: uint256, side: uint256, n: uint256) -> DynArray[Level, MAX_DEPTH]:
    out: DynArray[Level, MAX_DEPTH] = []
    root: uint256 = self._word(_ROOT, (book << 1) | side)
    if root == 0:
        return out
    tick: uint256 = staticcall AUCTION.TICK()
    base: uint256 = (book << 9) | (side << 8)
    # the levels' bits still to visit, leaf by leaf, best first
    leaf: uint256 = 0
    bits: uint256 = 0
    for _: uint256 in range(MAX_DEPTH):
        if len(out) >= n:
            break
        if bits == 0:
            if root == 0:
                break
            leaf = self._lsb(root) if side == ASK else self._msb(root)
            root ^= 1 << leaf
            bits = self._word(_LEAF, base | leaf)
        b: uint256 = self._lsb(bits) if side == ASK else self._msb(bits)
        bits ^= 1 << b
        idx: uint256 = (leaf << 8) | b
        out.append(Level(price=idx * tick, amount_wh=self._word(_LEVEL, (book << 17) | (side << 16) | idx) >> 128))
    return out


@internal
@pure
def _lsb(x: uint256) -> uint256:
    # the lowest set bit of a non-zero word: the highest bit of that bit alone
    return self._msb(x & unsafe_sub(0, x))


@internal
@pure
def _msb(x: uint256) -> uint256:
    # the highest set bit of a non-zero word (binary search)
    r: uint256 = 0
    v: uint256 = x
    for s: uint256 in [128, 64, 32, 16, 8, 4, 2, 1]:
        if v >= 1 << s:
            r += s
            v >>= s
    return r
