# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Order book: the matching engine of gridmint's markets
@custom:contract-name order_book
@license GNU Affero General Public License v3.0 only
@notice A continuous double auction of a base asset in Wh against a quote
        token, price in quote base units per kWh: price-time priority,
        partial fills, execution at the resting (maker) order's price, bounded
        matching, internal proceeds and refunds, fees, expiry, self-trade,
        band and minimum-order rules. Generic over what is traded: it keeps
        books (`book`, 0 for a single-book market; a certificate class on the
        certificate market), orders carry a `tag` (what an ask escrows: 0 for
        WATT, the certificate id for certificates), and it never moves the
        base asset itself. `_match` returns a settlement list (fills and
        refunds of closed asks) that the deployable carries out after all
        effects; the deployable escrows the base asset of an ask.
        The one question it asks outside before filling a resting ask, "can
        this ask still sell?", goes to `GATE` by `GATE_KIND`: 1 the WATT
        token's `in_arrears(seller)` (closed with reason 7), 2 the
        certificate contract's `trade_info(id)` (revoked or expired units:
        reason 10); one staticcall per resting ask met.
        Used by `EnergyExchange` and `CertificateExchange` with
        `initializes: order_book[ownable := ownable, pausable := pausable, notice := notice]`.
        Exported externals: `withdraw_proceeds`, `claim_fees`,
        `announce_price_band`/`apply_price_band`, `announce_fees`/
        `apply_fees`, `announce_min_order_wh`/`apply_min_order_wh` (each
        applies `NOTICE_S` after its announcement within deploy-time limits),
        `set_max_fills`, `set_treasury`, `pause`, `unpause`, the parameter
        views, `next_order_id`, `bid_escrow_total`, `fees_accrued`, `open_orders`.
        `OrderClosed` reasons: 1 filled, 2 cancelled, 3 expired, 4 IOC
        remainder, 5 self-trade, 6 uncrossable remainder, 7 seller in rent
        arrears, 8 below the minimum, 9 outside the price band in force,
        10 certificate revoked or expired.
@custom:security Rounding: a fill of w Wh at price p costs floor(w * p / 1000)
        quote base units; a bid escrows ceil(amount * p / 1000) plus 1%,
        which always covers its fills and fees (both fees are capped at 100
        bps); the unused part goes to `proceeds_of` when it closes.
        Each book keeps per side a two-level bitmap of active price indexes
        (a root word over 256 leaf words) and a FIFO doubly-linked list per
        level: finding the best level costs 2 storage reads; no call walks
        the book. A level's head keeps whatever `prev` link it had (never
        read), so a fill that pops the head writes neither its successor's
        order word nor anything but the level word. The next id, the bid
        escrow total and the accrued fees share one word (`_counters`),
        read and written once per call. Worst case per call: `max_fills` (<= 64) maker orders
        visited. Never crossed: a taker meeting its own resting order
        cancels it; a remainder still crossing after `max_fills` is dropped.
        Matching credits quote internally and returns base deliveries: no
        token is pushed to a maker from inside the loop.
        With GATE_SELLER_ARREARS (WATT) each account's asks are also linked
        (at most 64 open), so `_close_asks_of` closes them in one bounded
        call; other markets skip that bookkeeping (~5k gas per ask placed
        or closed).
"""

from ethereum.ercs import IERC20

from ..interfaces import IWattEscrow
from ..interfaces import ICertificateMarket

# @dev Operator role (the deployable initializes it).
from snekmate.auth import ownable

uses: ownable

# @dev Pause: new orders stop; cancels, withdrawals and claims never do.
from snekmate.utils import pausable

uses: pausable

# @dev Announce-then-apply after NOTICE_S for the band, fees and minimum.
from . import notice

uses: notice


struct Level:
    price: uint256
    amount_wh: uint256


# ---------------------------------------------------------------- CONSTANTS

FLAG_IOC: constant(uint256) = 1
FLAG_POST_ONLY: constant(uint256) = 2
# the fee cap of DESIGN.md; bids escrow for it, MAX_FEE_BPS (deploy-time) is <= it
FEE_BPS_CAP: constant(uint256) = 100
MAX_FILLS_CAP: constant(uint256) = 64
# settlement entries of one call: a visit settles at most a fill and a refund
MAX_SETTLE: constant(uint256) = 128
# open asks per account: bounds WATT's `release_unpaid` -> `close_asks_of`
MAX_ASKS_PER_OWNER: public(constant(uint256)) = 64
MAX_DEPTH: constant(uint256) = 32
MAX_OPEN_SCAN: constant(uint256) = 4_096
MAX_INDEX: constant(uint256) = 65_535

CLOSE_FILLED: constant(uint8) = 1
CLOSE_CANCELLED: constant(uint8) = 2
CLOSE_EXPIRED: constant(uint8) = 3
CLOSE_IOC: constant(uint8) = 4
CLOSE_SELF_TRADE: constant(uint8) = 5
CLOSE_UNCROSSABLE: constant(uint8) = 6
CLOSE_ARREARS: constant(uint8) = 7
CLOSE_BELOW_MINIMUM: constant(uint8) = 8
CLOSE_OUT_OF_BAND: constant(uint8) = 9
CLOSE_UNIT_UNUSABLE: constant(uint8) = 10

# parameter ids of announced changes (see `pending_change`)
PARAM_PRICE_BAND: public(constant(uint256)) = 1
PARAM_MIN_ORDER: public(constant(uint256)) = 2
PARAM_FEES: public(constant(uint256)) = 3

# what `GATE` is
GATE_NONE: constant(uint256) = 0
GATE_SELLER_ARREARS: constant(uint256) = 1
GATE_CERTIFICATE: constant(uint256) = 2

BID: constant(uint256) = 0
ASK: constant(uint256) = 1

# settlement word: account (160) | Wh << 160 (56) | tag << 216 (39) | refund flag << 255
SETTLE_REFUND: constant(uint256) = 1 << 255
MAX_TAG: constant(uint256) = 2**39 - 1
MAX_BOOK: constant(uint256) = 2**32 - 1

_M39: constant(uint256) = 2**39 - 1
_M40: constant(uint256) = 2**40 - 1
_M56: constant(uint256) = 2**56 - 1
_M64: constant(uint256) = 2**64 - 1
_M96: constant(uint256) = 2**96 - 1
_M120: constant(uint256) = 2**120 - 1
_M128: constant(uint256) = 2**128 - 1
_M160: constant(uint256) = 2**160 - 1
_NO_EXPIRY: constant(uint256) = 2**40 - 1

# ---------------------------------------------------------------- IMMUTABLES

# @dev The quote token (a stablecoin).
QUOTE: public(immutable(IERC20))

# @dev Price granularity in quote base units per kWh; prices are multiples of it.
TICK: public(immutable(uint256))

# @dev Highest maker or taker fee an announcement may set, bps (<= 100).
MAX_FEE_BPS: public(immutable(uint256))

# @dev Lowest floor price an announcement may set, quote base units per kWh.
MIN_FLOOR_PRICE: public(immutable(uint256))

# @dev Highest ceiling price an announcement may set, quote base units per kWh.
MAX_CEILING_PRICE: public(immutable(uint256))

# @dev Largest `min_order_wh` an announcement may set, Wh.
MAX_MIN_ORDER_WH: public(immutable(uint256))

# @dev Who answers "can this resting ask still sell?" (see GATE_KIND).
_GATE: immutable(address)

# @dev 0 none, 1 WATT `in_arrears(seller)`, 2 certificate `trade_info(id)`.
_GATE_KIND: immutable(uint256)

# ---------------------------------------------------------------- STORAGE

# @dev Trading parameters in one word, read once per call: floor price (64) |
# ceiling price << 64 (64) | min order Wh << 128 (56) | max fills << 184 (8) |
# maker fee bps << 192 (8) | taker fee bps << 200 (8). See the views of the same names.
_params: uint256

# @dev Where claimed fees go.
treasury: public(address)

# @dev Owner => quote base units withdrawable (sale proceeds and refunds).
proceeds_of: public(HashMap[address, uint256])

# @dev Next order id (40) | quote escrowed by all open bids << 40 (120) | fees accrued and not
#      yet claimed << 160 (96), quote base units: one word, read and written once per call.
_counters: uint256

# @dev Order id => owner (160) | is_buy << 160 | price index << 168 (16) | expires_at << 184 (40) | book << 224 (32).
_order_a: HashMap[uint256, uint256]

# @dev Order id => remaining Wh (56) | prev << 56 (40) | next << 96 (40) | then for a bid:
#      quote escrow << 136 (120); for an ask: the owner's previous ask << 136 (40) |
#      next ask << 176 (40) (both 0 without owner lists) | tag << 216 (40).
_order_b: HashMap[uint256, uint256]

# @dev Owner => newest open ask (40) | number of open asks << 40: the head of the owner's ask list
#      (kept only with GATE_SELLER_ARREARS: WATT's `release_unpaid` closes an account's asks).
_asks_of: HashMap[address, uint256]

# @dev (book << 17 | side << 16 | price index) => head (64) | tail << 64 (64) | total Wh << 128 (128).
_level: HashMap[uint256, uint256]

# @dev (book << 1 | side) => root bitmap: bit i set when leaf i has an active level.
_root: HashMap[uint256, uint256]

# @dev (book << 9 | side << 8 | leaf) => leaf bitmap: bit j set when price index leaf * 256 + j is active.
_leaf: HashMap[uint256, uint256]

# ---------------------------------------------------------------- EVENTS


event Trade:
    maker_order_id: indexed(uint256)
    taker_order_id: indexed(uint256)
    maker: address
    taker: address
    price: uint256
    amount_wh: uint256
    quote_amount: uint256
    fee: uint256


event OrderClosed:
    order_id: indexed(uint256)
    reason: uint8
    refunded: uint256


event ProceedsWithdrawn:
    owner: indexed(address)
    amount: uint256


event FeesClaimed:
    treasury: indexed(address)
    amount: uint256


event UpdatePriceBand:
    floor_price: uint256
    ceiling_price: uint256


event UpdateMinOrder:
    min_order_wh: uint256


event UpdateMaxFills:
    max_fills: uint256


event UpdateFees:
    maker_fee_bps: uint256
    taker_fee_bps: uint256


event UpdateTreasury:
    treasury: indexed(address)


event UpdatePriceBandAnnounced:
    floor_price: uint256
    ceiling_price: uint256
    effective_at: uint256


event UpdateMinOrderAnnounced:
    min_order_wh: uint256
    effective_at: uint256


event UpdateFeesAnnounced:
    maker_fee_bps: uint256
    taker_fee_bps: uint256
    effective_at: uint256


@deploy
def __init__(
    quote_: IERC20,
    tick_: uint256,
    floor_price_: uint256,
    ceiling_price_: uint256,
    min_order_wh_: uint256,
    max_fills_: uint256,
    maker_fee_bps_: uint256,
    taker_fee_bps_: uint256,
    max_fee_bps_: uint256,
    min_floor_price_: uint256,
    max_ceiling_price_: uint256,
    max_min_order_wh_: uint256,
    gate_: address,
    gate_kind_: uint256,
):
    """
    @dev The deployer becomes the treasury. The limits are immutable: no
         later call can widen them.
    @param quote_ The 20-byte quote token.
    @param tick_ The 32-byte price granularity, quote base units per kWh.
    @param floor_price_ The 32-byte lowest price, >= `min_floor_price_`.
    @param ceiling_price_ The 32-byte highest price, <= `max_ceiling_price_`.
    @param min_order_wh_ The 32-byte smallest order in Wh, 1..`max_min_order_wh_`.
    @param max_fills_ The 32-byte most maker orders one call visits (1..64).
    @param maker_fee_bps_ The 32-byte maker fee in bps (<= `max_fee_bps_`).
    @param taker_fee_bps_ The 32-byte taker fee in bps (<= `max_fee_bps_`).
    @param max_fee_bps_ The 32-byte highest fee ever allowed, bps (<= 100).
    @param min_floor_price_ The 32-byte lowest floor ever allowed, quote base units per kWh (>= 1).
    @param max_ceiling_price_ The 32-byte highest ceiling ever allowed, quote base units per kWh
           (< 2**64 and at most 65,535 ticks).
    @param max_min_order_wh_ The 32-byte largest minimum order ever allowed, Wh (< 2**56).
    @param gate_ The 20-byte contract asked before a resting ask fills.
    @param gate_kind_ The 32-byte kind of `gate_`: 0 none, 1 WATT arrears, 2 certificate status.
    """
    assert tick_ != 0, "exchange: zero tick"
    assert max_fee_bps_ <= FEE_BPS_CAP, "exchange: max fee above 100 bps"
    assert min_floor_price_ != 0 and min_floor_price_ <= max_ceiling_price_, "exchange: bad band limits"
    assert max_ceiling_price_ // tick_ <= MAX_INDEX, "exchange: ceiling beyond tick range"
    assert max_ceiling_price_ <= _M64, "exchange: ceiling too large"
    assert max_min_order_wh_ <= _M56, "exchange: max minimum too large"
    assert gate_kind_ <= GATE_CERTIFICATE, "exchange: unknown gate"
    QUOTE = quote_
    TICK = tick_
    MAX_FEE_BPS = max_fee_bps_
    MIN_FLOOR_PRICE = min_floor_price_
    MAX_CEILING_PRICE = max_ceiling_price_
    MAX_MIN_ORDER_WH = max_min_order_wh_
    _GATE = gate_
    _GATE_KIND = gate_kind_
    self.treasury = msg.sender
    self._counters = 1
    self._check_band(floor_price_, ceiling_price_)
    self._check_min_order(min_order_wh_)
    self._check_fees(maker_fee_bps_, taker_fee_bps_)
    self._set_band(floor_price_, ceiling_price_)
    self._set_min_order(min_order_wh_)
    self._set_max_fills(max_fills_)
    self._set_fees(maker_fee_bps_, taker_fee_bps_)
    log UpdateTreasury(treasury=msg.sender)


# ================================================================ EXTERNAL


@external
@nonreentrant
def withdraw_proceeds(amount: uint256):
    """
    @notice Withdraws quote from the caller's internal balance (works while paused).
    @param amount The 32-byte amount in quote base units.
    """
    balance: uint256 = self.proceeds_of[msg.sender]
    assert amount <= balance, "exchange: amount exceeds proceeds"
    self.proceeds_of[msg.sender] = unsafe_sub(balance, amount)
    log ProceedsWithdrawn(owner=msg.sender, amount=amount)
    assert extcall QUOTE.transfer(msg.sender, amount, default_return_value=True), "exchange: quote transfer failed"


@external
@nonreentrant
def claim_fees() -> uint256:
    """
    @notice Sends accrued fees to the treasury (operator only).
    @return uint256 The 32-byte amount claimed, quote base units.
    """
    ownable._check_owner()
    counters: uint256 = self._counters
    amount: uint256 = counters >> 160
    self._counters = counters & _M160
    log FeesClaimed(treasury=self.treasury, amount=amount)
    assert extcall QUOTE.transfer(self.treasury, amount, default_return_value=True), "exchange: quote transfer failed"
    return amount


@external
def announce_price_band(floor_price_: uint256, ceiling_price_: uint256):
    """
    @notice Announces a new price band (operator only); it may apply
            `NOTICE_S` seconds from now. Bounds: `MIN_FLOOR_PRICE` <= floor
            <= ceiling <= `MAX_CEILING_PRICE`. Once applied, resting orders
            outside it never fill: a taker that meets one closes and refunds
            it (reason 9).
    @param floor_price_ The 32-byte lowest price, quote base units per kWh.
    @param ceiling_price_ The 32-byte highest price, quote base units per kWh.
    """
    ownable._check_owner()
    self._check_band(floor_price_, ceiling_price_)
    effective_at: uint256 = notice._announce(PARAM_PRICE_BAND, floor_price_ | (ceiling_price_ << 128))
    log UpdatePriceBandAnnounced(floor_price=floor_price_, ceiling_price=ceiling_price_, effective_at=effective_at)


@external
def apply_price_band():
    """
    @notice Applies the announced price band once its notice is over (operator only).
    """
    ownable._check_owner()
    band: uint256 = notice._take(PARAM_PRICE_BAND)
    self._set_band(band & _M128, band >> 128)


@external
def announce_min_order_wh(min_order_wh_: uint256):
    """
    @notice Announces a new smallest order (operator only); it may apply
            `NOTICE_S` seconds from now. Bounds: 1 <= minimum <=
            `MAX_MIN_ORDER_WH`. Once applied, a resting order with less left
            never fills: a taker that meets one closes and refunds it (reason 8).
    @param min_order_wh_ The 32-byte minimum in Wh.
    """
    ownable._check_owner()
    self._check_min_order(min_order_wh_)
    log UpdateMinOrderAnnounced(min_order_wh=min_order_wh_, effective_at=notice._announce(PARAM_MIN_ORDER, min_order_wh_))


@external
def apply_min_order_wh():
    """
    @notice Applies the announced minimum once its notice is over (operator only).
    """
    ownable._check_owner()
    self._set_min_order(notice._take(PARAM_MIN_ORDER))


@external
def set_max_fills(max_fills_: uint256):
    """
    @notice Sets the most maker orders one call visits (operator only, 1..64).
            Takes effect at once: it bounds gas, and a remainder it leaves
            is refunded, never lost.
    @param max_fills_ The 32-byte bound (count of orders).
    """
    ownable._check_owner()
    self._set_max_fills(max_fills_)


@external
def announce_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    """
    @notice Announces new maker and taker fees (operator only); they may
            apply `NOTICE_S` seconds from now. Bound: each <= `MAX_FEE_BPS`.
    @param maker_fee_bps_ The 32-byte maker fee in bps.
    @param taker_fee_bps_ The 32-byte taker fee in bps.
    """
    ownable._check_owner()
    self._check_fees(maker_fee_bps_, taker_fee_bps_)
    effective_at: uint256 = notice._announce(PARAM_FEES, maker_fee_bps_ | (taker_fee_bps_ << 128))
    log UpdateFeesAnnounced(maker_fee_bps=maker_fee_bps_, taker_fee_bps=taker_fee_bps_, effective_at=effective_at)


@external
def apply_fees():
    """
    @notice Applies the announced fees once their notice is over (operator only).
    """
    ownable._check_owner()
    fees: uint256 = notice._take(PARAM_FEES)
    self._set_fees(fees & _M128, fees >> 128)


@external
def set_treasury(treasury_: address):
    """
    @notice Sets where fees are claimed to (operator only).
    @param treasury_ The 20-byte treasury.
    """
    ownable._check_owner()
    assert treasury_ != empty(address), "exchange: zero treasury"
    self.treasury = treasury_
    log UpdateTreasury(treasury=treasury_)


@external
def pause():
    """
    @notice Stops new orders (operator only); cancels, withdrawals and claims keep working.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes new orders (operator only).
    """
    ownable._check_owner()
    pausable._unpause()


@external
@view
def floor_price() -> uint256:
    """
    @notice Lowest price accepted, quote base units per kWh.
    @return uint256 The 32-byte price.
    """
    return self._params & _M64


@external
@view
def ceiling_price() -> uint256:
    """
    @notice Highest price accepted, quote base units per kWh.
    @return uint256 The 32-byte price.
    """
    return (self._params >> 64) & _M64


@external
@view
def min_order_wh() -> uint256:
    """
    @notice Smallest order in Wh.
    @return uint256 The 32-byte minimum.
    """
    return (self._params >> 128) & _M56


@external
@view
def max_fills() -> uint256:
    """
    @notice Most maker orders one call may visit.
    @return uint256 The 32-byte bound.
    """
    return (self._params >> 184) & 255


@external
@view
def maker_fee_bps() -> uint256:
    """
    @notice Fee of the resting side, basis points of the quote amount.
    @return uint256 The 32-byte fee.
    """
    return (self._params >> 192) & 255


@external
@view
def taker_fee_bps() -> uint256:
    """
    @notice Fee of the incoming side, basis points of the quote amount.
    @return uint256 The 32-byte fee.
    """
    return (self._params >> 200) & 255


@external
@view
def next_order_id() -> uint256:
    """
    @notice The id the next order gets.
    @return uint256 The 32-byte id.
    """
    return self._counters & _M40


@external
@view
def bid_escrow_total() -> uint256:
    """
    @notice Quote base units escrowed by all open bids.
    @return uint256 The 32-byte amount.
    """
    return (self._counters >> 40) & _M120


@external
@view
def fees_accrued() -> uint256:
    """
    @notice Fees accrued and not yet claimed, quote base units.
    @return uint256 The 32-byte amount.
    """
    return self._counters >> 160


@external
@view
def open_orders(owner: address) -> DynArray[uint256, 128]:
    """
    @notice Open order ids of `owner` among the newest 4,096 orders (newest
            first, at most 128). Older orders: follow `OrderPlaced` events.
    @param owner The 20-byte owner.
    @return DynArray The order ids.
    """
    out: DynArray[uint256, 128] = []
    id: uint256 = self._counters & _M40
    for _: uint256 in range(MAX_OPEN_SCAN):
        if id <= 1 or len(out) == 128:
            break
        id -= 1
        a: uint256 = self._order_a[id]
        if a != 0 and self._owner(a) == owner:
            out.append(id)
    return out


# ================================================================ PLACEMENT


@internal
def _check_order(is_buy: bool, book: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> (uint256, uint256, uint256):
    """
    @dev The checks every new order passes (pause, flags, band, tick,
         minimum, expiry, post-only); returns the parameters word, the
         price index and the expiry (NO_EXPIRY for 0). Reserves nothing.
    """
    pausable._require_not_paused()
    params: uint256 = self._params
    assert flags <= FLAG_IOC | FLAG_POST_ONLY, "exchange: unknown flags"
    assert flags != FLAG_IOC | FLAG_POST_ONLY, "exchange: ioc and post-only"
    assert price >= params & _M64 and price <= (params >> 64) & _M64, "exchange: price outside band"
    assert price % TICK == 0, "exchange: price not on tick"
    assert amount_wh >= (params >> 128) & _M56, "exchange: order below minimum"
    assert amount_wh <= _M56, "exchange: order too large"
    expiry: uint256 = convert(expires_at, uint256)
    if expiry == 0:
        expiry = _NO_EXPIRY
    assert expiry > block.timestamp, "exchange: expired"
    assert expiry <= _NO_EXPIRY, "exchange: expiry too far"
    idx: uint256 = price // TICK
    if flags & FLAG_POST_ONLY != 0:
        assert not self._crosses(book, is_buy, idx), "exchange: post-only would cross"
    return params, idx, expiry


@internal
@view
def _peek_id() -> uint256:
    """
    @dev The id the order being placed gets (for the deployable's `OrderPlaced`).
    """
    order_id: uint256 = self._counters & _M40
    assert order_id < _M40, "exchange: order ids exhausted"
    return order_id


@internal
def _place(
    book: uint256,
    tag: uint256,
    is_buy: bool,
    price: uint256,
    amount_wh: uint256,
    expiry: uint256,
    flags: uint256,
    params: uint256,
    idx: uint256,
) -> (uint256, uint256, uint256, DynArray[uint256, MAX_SETTLE]):
    """
    @dev All effects of a checked order (`_check_order`, `OrderPlaced`
         logged by the deployable): matches, then rests the remainder unless
         IOC, still crossing or below the minimum. Returns the order id (0
         if it did not rest), the Wh that neither filled nor rested (an
         ask's escrow to give back), the quote to pull from a bidder (fills,
         taker fees and a resting bid's escrow; `_pull_quote` it last) and
         the settlement list of base-asset moves for the deployable.
    """
    assert book <= MAX_BOOK, "exchange: book out of range"
    assert tag <= MAX_TAG, "exchange: tag out of range"
    counters: uint256 = self._counters
    order_id: uint256 = counters & _M40
    limit_idx: uint256 = idx
    taker_tag: uint256 = tag
    # ---- matching (inlined: the settlement list is built once, in this frame): takes from the
    # opposite side while it crosses `idx`, visiting at most `max_fills` maker orders; applies every
    # effect on makers and credits quote internally; collects the base-asset settlement list: fills
    # (maker | Wh | tag) and refunds of closed asks (owner | Wh | tag | SETTLE_REFUND)
    side: uint256 = BID
    if is_buy:
        side = ASK
    remaining: uint256 = amount_wh
    taker_quote: uint256 = 0
    settle: DynArray[uint256, MAX_SETTLE] = []
    budget: uint256 = (params >> 184) & 255
    min_wh: uint256 = (params >> 128) & _M56
    fees: uint256 = 0
    escrow_paid: uint256 = 0
    root_key: uint256 = (book << 1) | side
    for _: uint256 in range(MAX_FILLS_CAP):
        if remaining == 0 or budget == 0 or self._root[root_key] == 0:
            break
        lvl: uint256 = self._best(book, side)
        if (is_buy and lvl > limit_idx) or (not is_buy and lvl < limit_idx):
            break
        budget -= 1
        key: uint256 = (book << 17) | (side << 16) | lvl
        maker_id: uint256 = self._level[key] & _M64
        a: uint256 = self._order_a[maker_id]
        maker: address = self._owner(a)
        reason: uint8 = 0
        px: uint256 = lvl * TICK
        b: uint256 = self._order_b[maker_id]
        maker_left: uint256 = b & _M56
        if (a >> 184) & _M40 <= block.timestamp:
            reason = CLOSE_EXPIRED
        elif maker == msg.sender:
            reason = CLOSE_SELF_TRADE
        elif px < params & _M64 or px > (params >> 64) & _M64:
            # left outside by a band change: no trade prints outside the band in force
            reason = CLOSE_OUT_OF_BAND
        elif maker_left < min_wh:
            # left below a raised minimum
            reason = CLOSE_BELOW_MINIMUM
        elif is_buy:
            reason = self._gate(maker, b >> 216)
        if reason != 0:
            refund: uint256 = self._close_at(maker_id, a, b, reason, maker_left)
            if refund != 0:
                settle.append(refund)
            continue
        w: uint256 = min(remaining, maker_left)
        q: uint256 = w * px // 1000
        maker_fee: uint256 = q * ((params >> 192) & 255) // 10_000
        taker_fee: uint256 = q * ((params >> 200) & 255) // 10_000
        fees += maker_fee + taker_fee
        maker_escrow: uint256 = b >> 136
        if is_buy:
            # taker buys from a resting ask: pays q + its fee; the seller earns q - its fee
            taker_quote += q + taker_fee
            self.proceeds_of[maker] += q - maker_fee
        else:
            # taker sells to a resting bid: the bid's escrow pays q + its fee (covered: see _bid_escrow)
            maker_escrow -= q + maker_fee
            escrow_paid += q + maker_fee
            taker_quote += q - taker_fee
        remaining -= w
        maker_left -= w
        # w < 2**56 and the tag < 2**39 (checked when the order was placed): the
        # units of an ask maker's tag, or of the taker's own tag for a bid maker
        fill_tag: uint256 = taker_tag
        if is_buy:
            fill_tag = b >> 216
        settle.append(convert(maker, uint256) | (w << 160) | (fill_tag << 216))
        log Trade(
            maker_order_id=maker_id,
            taker_order_id=order_id,
            maker=maker,
            taker=msg.sender,
            price=px,
            amount_wh=w,
            quote_amount=q,
            fee=maker_fee + taker_fee,
        )
        # the order word after the fill; for an ask maker_escrow is its owner-list links and tag, unchanged
        b = (b & ~(_M56 | (_M120 << 136))) | maker_left | (maker_escrow << 136)
        if maker_left == 0:
            # filled: unlinking takes its w off the level total; nothing to refund but a bid's unused escrow
            self._close_at(maker_id, a, b, CLOSE_FILLED, w)
        elif maker_left < min_wh:
            # no order below the minimum rests: the rest is refunded
            refund: uint256 = self._close_at(maker_id, a, b, CLOSE_BELOW_MINIMUM, w + maker_left)
            if refund != 0:
                settle.append(refund)
        else:
            # partly filled and still resting: the level total shrinks by w
            self._level[key] -= w << 128
            self._order_b[maker_id] = b
    if not is_buy and taker_quote != 0:
        self.proceeds_of[msg.sender] += taker_quote

    spent: uint256 = taker_quote

    rests: bool = False
    reason: uint8 = CLOSE_FILLED
    if remaining != 0:
        if flags & FLAG_IOC != 0:
            reason = CLOSE_IOC
        elif self._crosses(book, is_buy, idx):
            reason = CLOSE_UNCROSSABLE
        elif remaining < (params >> 128) & _M56:
            reason = CLOSE_BELOW_MINIMUM
        else:
            rests = True
    rest_escrow: uint256 = 0
    if rests and is_buy:
        rest_escrow = self._bid_escrow(remaining, price)
        assert rest_escrow <= _M120, "exchange: order too large"
    # one write for the new id, the escrow total and the fees (closes during matching may have
    # refunded escrow: read the word again, warm); escrow_paid was taken from the escrow of open bids
    counters = self._counters
    escrow_total: uint256 = ((counters >> 40) & _M120) - escrow_paid + rest_escrow
    fees += counters >> 160
    assert escrow_total <= _M120 and fees <= _M96, "exchange: counters overflow"
    self._counters = (order_id + 1) | (escrow_total << 40) | (fees << 160)
    if rests:
        self._insert(order_id, book, tag, msg.sender, is_buy, idx, expiry, remaining, rest_escrow)
        if is_buy:
            return order_id, 0, spent + rest_escrow, settle
        return order_id, 0, 0, settle
    log OrderClosed(order_id=order_id, reason=reason, refunded=0)
    if is_buy:
        return 0, 0, spent, settle
    return 0, remaining, 0, settle


@internal
def _pull_quote(amount: uint256):
    """
    @dev Pulls a bidder's quote (last, after every effect).
    """
    if amount != 0:
        assert extcall QUOTE.transferFrom(msg.sender, self, amount, default_return_value=True), "exchange: quote transfer failed"


# ================================================================ MATCHING


@internal
@view
def _gate(maker: address, tag: uint256) -> uint8:
    """
    @dev Why a resting ask may not sell now (0 when it may): its seller is
         in rent arrears (7), or its certificate is revoked or expired (10).
    """
    if _GATE_KIND == GATE_SELLER_ARREARS:
        if staticcall IWattEscrow(_GATE).in_arrears(maker):
            return CLOSE_ARREARS
    elif _GATE_KIND == GATE_CERTIFICATE:
        method: uint8 = 0
        period_end: uint64 = 0
        revoked: bool = False
        expires_at: uint64 = 0
        method, period_end, revoked, expires_at = staticcall ICertificateMarket(_GATE).trade_info(tag)
        if revoked or block.timestamp > convert(expires_at, uint256):
            return CLOSE_UNIT_UNUSABLE
    return 0


@internal
def _close(order_id: uint256, reason: uint8) -> uint256:
    """
    @dev Closes an order as stored (see `_close_at`).
    """
    b: uint256 = self._order_b[order_id]
    return self._close_at(order_id, self._order_a[order_id], b, reason, b & _M56)


@internal
def _close_at(order_id: uint256, a: uint256, b: uint256, reason: uint8, counted: uint256) -> uint256:
    """
    @dev Unlinks an order, refunds what is left and deletes it. `a`, `b`
         are its words as they are now (a fill may have changed `b` in
         memory only) and `counted` the Wh its level total still holds for
         it. A bid's quote is credited to `proceeds_of`; an ask's base asset
         is returned as a settlement word (owner | Wh | tag | SETTLE_REFUND),
         0 when nothing is left, for the deployable to give back.
    """
    owner: address = self._owner(a)
    is_buy: bool = (a >> 160) & 1 == 1
    side: uint256 = ASK
    if is_buy:
        side = BID
    left: uint256 = b & _M56
    self._unlink(order_id, a >> 224, side, (a >> 168) & 65535, b, counted)
    self._order_a[order_id] = 0
    self._order_b[order_id] = 0
    if is_buy:
        refunded: uint256 = b >> 136
        if refunded != 0:
            self._counters -= refunded << 40
            self.proceeds_of[owner] += refunded
        log OrderClosed(order_id=order_id, reason=reason, refunded=refunded)
        return 0
    if _GATE_KIND == GATE_SELLER_ARREARS:
        self._unlink_ask(owner, b)
    log OrderClosed(order_id=order_id, reason=reason, refunded=left)
    if left == 0:
        return 0
    return convert(owner, uint256) | (left << 160) | ((b >> 216) << 216) | SETTLE_REFUND


@internal
def _cancel(order_id: uint256) -> (address, uint256):
    """
    @dev `cancel_order`: the caller's own open order; returns the owner
         and the ask's settlement word (0 for a bid or nothing left).
    """
    a: uint256 = self._order_a[order_id]
    assert a != 0, "exchange: unknown order"
    assert self._owner(a) == msg.sender, "exchange: caller is not the order owner"
    return msg.sender, self._close(order_id, CLOSE_CANCELLED)


@internal
def _cancel_expired(order_id: uint256) -> uint256:
    """
    @dev `cancel_expired`: anyone closes an expired order; returns the
         ask's settlement word (0 for a bid or nothing left).
    """
    a: uint256 = self._order_a[order_id]
    assert a != 0, "exchange: unknown order"
    assert (a >> 184) & _M40 <= block.timestamp, "exchange: order not expired"
    return self._close(order_id, CLOSE_EXPIRED)


@internal
def _close_asks_of(account: address) -> uint256:
    """
    @dev Closes every open ask of `account` (reason 7) without returning
         the escrow (the caller, WATT, takes it itself); returns the Wh left.
    """
    order_id: uint256 = self._asks_of[account] & _M40
    total: uint256 = 0
    for _: uint256 in range(MAX_ASKS_PER_OWNER):
        if order_id == 0:
            break
        a: uint256 = self._order_a[order_id]
        b: uint256 = self._order_b[order_id]
        left: uint256 = b & _M56
        self._unlink(order_id, a >> 224, ASK, (a >> 168) & 65535, b, left)
        self._order_a[order_id] = 0
        self._order_b[order_id] = 0
        log OrderClosed(order_id=order_id, reason=CLOSE_ARREARS, refunded=left)
        # each ask < 2**56 Wh, at most 64 of them
        total = unsafe_add(total, left)
        order_id = (b >> 176) & _M40
    self._asks_of[account] = 0
    return total


@internal
def _insert(
    order_id: uint256, book: uint256, tag: uint256, owner: address, is_buy: bool, idx: uint256, expiry: uint256, amount: uint256, escrow: uint256
):
    side: uint256 = ASK
    buy_bit: uint256 = 0
    if is_buy:
        side = BID
        buy_bit = 1
    key: uint256 = (book << 17) | (side << 16) | idx
    level: uint256 = self._level[key]
    prev: uint256 = 0
    if level == 0:
        self._level[key] = order_id | (order_id << 64) | (amount << 128)
        self._set_bit(book, side, idx)
    else:
        prev = (level >> 64) & _M64
        # the old tail points forward to the new order
        self._order_b[prev] = self._order_b[prev] | (order_id << 96)
        self._level[key] = (level & _M64) | (order_id << 64) | (((level >> 128) + amount) << 128)
    links: uint256 = escrow
    if not is_buy:
        links = tag << 80
    if not is_buy and _GATE_KIND == GATE_SELLER_ARREARS:
        # push on the owner's ask list (kept where WATT's `release_unpaid` needs
        # `_close_asks_of`): the new ask becomes its head
        own: uint256 = self._asks_of[owner]
        count: uint256 = own >> 40
        assert count < MAX_ASKS_PER_OWNER, "exchange: too many open asks"
        old_head: uint256 = own & _M40
        if old_head != 0:
            self._order_b[old_head] = self._order_b[old_head] | (order_id << 136)
        self._asks_of[owner] = order_id | ((count + 1) << 40)
        links = old_head << 40
    self._order_a[order_id] = convert(owner, uint256) | (buy_bit << 160) | (idx << 168) | (expiry << 184) | (book << 224)
    self._order_b[order_id] = amount | (prev << 56) | (links << 136)


@internal
def _unlink_ask(owner: address, b: uint256):
    """
    @dev Removes an ask (its order word `b`) from its owner's ask list.
    """
    oprev: uint256 = (b >> 136) & _M40
    onext: uint256 = (b >> 176) & _M40
    if oprev != 0:
        self._order_b[oprev] = (self._order_b[oprev] & ~(_M40 << 176)) | (onext << 176)
    if onext != 0:
        self._order_b[onext] = (self._order_b[onext] & ~(_M40 << 136)) | (oprev << 136)
    own: uint256 = self._asks_of[owner]
    head: uint256 = own & _M40
    if oprev == 0:
        head = onext
    # the ask is on the list: its count is >= 1
    count: uint256 = unsafe_sub(own >> 40, 1)
    if count == 0:
        self._asks_of[owner] = 0
    else:
        self._asks_of[owner] = head | (count << 40)


@internal
def _unlink(order_id: uint256, book: uint256, side: uint256, idx: uint256, b: uint256, counted: uint256):
    """
    @dev Takes an order off its level. The `prev` link of a level's head is
         never read (it may name an order that is gone): removing the head,
         which is what every fill does, writes only the level word and not
         the next order's word.
    """
    key: uint256 = (book << 17) | (side << 16) | idx
    level: uint256 = self._level[key]
    prev: uint256 = (b >> 56) & _M40
    nxt: uint256 = (b >> 96) & _M40
    head: uint256 = level & _M64
    tail: uint256 = (level >> 64) & _M64
    if head == order_id:
        # the next order becomes the head: its stale `prev` is never read
        head = nxt
        if nxt == 0:
            tail = 0
    else:
        self._order_b[prev] = (self._order_b[prev] & ~(_M40 << 96)) | (nxt << 96)
        if nxt != 0:
            self._order_b[nxt] = (self._order_b[nxt] & ~(_M40 << 56)) | (prev << 56)
        else:
            tail = prev
    if head == 0:
        self._level[key] = 0
        self._clear_bit(book, side, idx)
    else:
        self._level[key] = head | (tail << 64) | (((level >> 128) - counted) << 128)


@internal
@view
def _crosses(book: uint256, is_buy: bool, idx: uint256) -> bool:
    if is_buy:
        return self._root[(book << 1) | ASK] != 0 and self._best(book, ASK) <= idx
    return self._root[(book << 1) | BID] != 0 and self._best(book, BID) >= idx


@internal
@pure
def _bid_escrow(wh: uint256, price: uint256) -> uint256:
    base: uint256 = (wh * price + 999) // 1000
    return base + (base * FEE_BPS_CAP + 9_999) // 10_000


@internal
@pure
def _owner(a: uint256) -> address:
    return convert(convert(a & _M160, uint160), address)


# ================================================================ VIEWS (internal)


@internal
@view
def _order_fields(order_id: uint256) -> (address, bool, uint256, uint256, uint64, uint256, uint256, uint256):
    """
    @dev An open order's owner, side, price (quote base units per kWh),
         remaining Wh, expiry, quote escrow (bids), book and tag (asks);
         all zero once closed.
    """
    a: uint256 = self._order_a[order_id]
    if a == 0:
        return empty(address), False, 0, 0, 0, 0, 0, 0
    b: uint256 = self._order_b[order_id]
    is_buy: bool = (a >> 160) & 1 == 1
    escrow: uint256 = b >> 136
    tag: uint256 = 0
    if not is_buy:
        escrow = 0
        tag = b >> 216
    return self._owner(a), is_buy, ((a >> 168) & 65535) * TICK, b & _M56, convert((a >> 184) & _M40, uint64), escrow, a >> 224, tag


@internal
@view
def _top(book: uint256, is_buy: bool) -> (uint256, uint256):
    """
    @dev The best level of one side of `book`: price and Wh; zeros if empty.
    """
    side: uint256 = ASK
    if is_buy:
        side = BID
    if self._root[(book << 1) | side] == 0:
        return 0, 0
    idx: uint256 = self._best(book, side)
    return idx * TICK, self._level[(book << 17) | (side << 16) | idx] >> 128


@internal
@view
def _depth(book: uint256, is_buy: bool, levels: uint256) -> DynArray[Level, MAX_DEPTH]:
    side: uint256 = ASK
    if is_buy:
        side = BID
    out: DynArray[Level, MAX_DEPTH] = []
    if self._root[(book << 1) | side] == 0:
        return out
    idx: uint256 = self._best(book, side)
    found: bool = True
    for _: uint256 in range(MAX_DEPTH):
        if len(out) >= levels or not found:
            break
        out.append(Level(price=idx * TICK, amount_wh=self._level[(book << 17) | (side << 16) | idx] >> 128))
        found, idx = self._next_level(book, side, idx)
    return out


# ================================================================ BITMAPS


@internal
@view
def _best(book: uint256, side: uint256) -> uint256:
    """
    @dev Best active price index of a side (lowest ask, highest bid); the side must not be empty.
    """
    root: uint256 = self._root[(book << 1) | side]
    base: uint256 = (book << 9) | (side << 8)
    if side == ASK:
        leaf: uint256 = self._lsb(root)
        return (leaf << 8) | self._lsb(self._leaf[base | leaf])
    leaf: uint256 = self._msb(root)
    return (leaf << 8) | self._msb(self._leaf[base | leaf])


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


# ================================================================ SETTERS


@internal
@view
def _check_band(floor_price_: uint256, ceiling_price_: uint256):
    assert floor_price_ >= MIN_FLOOR_PRICE, "exchange: floor below limit"
    assert ceiling_price_ <= MAX_CEILING_PRICE, "exchange: ceiling above limit"
    assert floor_price_ <= ceiling_price_, "exchange: bad price band"


@internal
@view
def _check_min_order(min_order_wh_: uint256):
    assert min_order_wh_ != 0, "exchange: zero minimum"
    assert min_order_wh_ <= MAX_MIN_ORDER_WH, "exchange: minimum above limit"


@internal
@view
def _check_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    assert maker_fee_bps_ <= MAX_FEE_BPS and taker_fee_bps_ <= MAX_FEE_BPS, "exchange: fee above limit"


@internal
def _set_band(floor_price_: uint256, ceiling_price_: uint256):
    # within MIN_FLOOR_PRICE..MAX_CEILING_PRICE (< 2**64, <= 65,535 ticks): checked on announce
    self._params = (self._params & ~_M128) | floor_price_ | (ceiling_price_ << 64)
    log UpdatePriceBand(floor_price=floor_price_, ceiling_price=ceiling_price_)


@internal
def _set_min_order(min_order_wh_: uint256):
    # 1..MAX_MIN_ORDER_WH (< 2**56): checked on announce
    self._params = (self._params & ~(_M56 << 128)) | (min_order_wh_ << 128)
    log UpdateMinOrder(min_order_wh=min_order_wh_)


@internal
def _set_max_fills(max_fills_: uint256):
    assert max_fills_ != 0 and max_fills_ <= MAX_FILLS_CAP, "exchange: bad max fills"
    self._params = (self._params & ~(255 << 184)) | (max_fills_ << 184)
    log UpdateMaxFills(max_fills=max_fills_)


@internal
def _set_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    # each <= MAX_FEE_BPS <= 100: checked on announce
    self._params = (self._params & ~(65535 << 192)) | (maker_fee_bps_ << 192) | (taker_fee_bps_ << 200)
    log UpdateFees(maker_fee_bps=maker_fee_bps_, taker_fee_bps=taker_fee_bps_)
