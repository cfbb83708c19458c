# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Energy exchange: a continuous double auction for WATT against a stablecoin
@custom:contract-name EnergyExchange
@license GNU Affero General Public License v3.0 only
@notice Limit orders in Wh at a price in quote base units per kWh, price-time
        priority, partial fills, execution at the resting (maker) order's
        price. Flags: 1 immediate-or-cancel, 2 post-only. Bids escrow quote
        (price x amount rounded up, plus the 100 bps fee cap) at placement;
        asks escrow WATT through the WATT token (the seller keeps paying rent).
        Proceeds and refunds go to an internal balance (`proceeds_of`,
        `withdraw_proceeds`): matching never pushes a token to a maker.
        Non-standard functions: `place_order`, `cancel_order`,
        `cancel_expired`, `withdraw_proceeds`, `claim_fees`, `close_asks_of`
        (WATT only); operator: `announce_price_band`/`apply_price_band`,
        `announce_fees`/`apply_fees`, `announce_min_order_wh`/
        `apply_min_order_wh` (each applies `NOTICE_S` seconds after its
        announcement, within limits fixed at deploy: `MIN_FLOOR_PRICE`,
        `MAX_CEILING_PRICE`, `MAX_FEE_BPS`, `MAX_MIN_ORDER_WH`),
        `set_max_fills`, `set_treasury`, `pause`, `unpause`; views `order`,
        `best_bid`, `best_ask`, `depth`, `open_orders`, `pending_change`.
        `OrderClosed` reasons: 1 filled, 2 cancelled, 3 expired, 4 IOC
        remainder, 5 self-trade, 6 uncrossable remainder, 7 seller in rent
        arrears (met, or closed by WATT's `release_unpaid`), 8 below the
        minimum (a remainder, or a resting order left below a raised
        minimum), 9 outside the price band in force.
@custom:security Rounding: a fill of w Wh at price p costs floor(w * p / 1000)
        quote base units (in the buyer's favour by < 1 unit); a bid escrows
        ceil(amount * p / 1000) plus 1%, which always covers its fills and
        fees; the unused part is refunded to `proceeds_of` when it closes.
        Fees (floor of bps) are paid by each side on its own quote flow: the
        buyer on top of the price, the seller out of its proceeds.
        Book: prices are multiples of `TICK`; each side keeps a two-level
        bitmap of active price levels (a root word over 256 leaf words, so at
        most 65,536 ticks) and a FIFO doubly-linked list of orders per level.
        Finding the best level costs 2 storage reads, inserting at a new price
        at most 2 bitmap writes: no call walks the book. Worst case per call:
        `max_fills` (<= 64) maker orders visited, each filled, expired or
        self-trade-cancelled.
        Never crossed: a taker meeting its own resting order cancels that
        order; a remainder that still crosses after `max_fills` is dropped
        (refunded), never rested.
        The book keeps its rules after every call: a resting order met by a
        taker is closed and refunded, not filled, when its price is outside
        the band in force (after an applied band change), when it has less
        than `min_order_wh` left, or when it is an ask of an account in
        storage-rent arrears (WATT's `in_arrears`); each uses one unit of
        `max_fills`. A fill that leaves a maker, or a taker's remainder,
        below `min_order_wh` closes and refunds the rest.
        Asks per account: at most 64 open at once (each account's asks are
        linked, so WATT's `release_unpaid` can close them all in one
        bounded call).
"""

from ethereum.ercs import IERC20

from .interfaces import IWattEscrow

from .interfaces import IAskBook

implements: IAskBook

# @dev Operator role: bounds, fees, pause.
from snekmate.auth import ownable

initializes: ownable

# @dev Stops new orders; cancels and withdrawals always work.
from snekmate.utils import pausable

initializes: pausable

# @dev Announce-then-apply after NOTICE_S for the band, fees and minimum.
from .modules import notice

initializes: notice

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    notice.pending_change,
    notice.NOTICE_S,
)


struct Level:
    price: uint256
    amount_wh: uint256


struct OrderView:
    owner: address
    is_buy: bool
    price: uint256
    remaining_wh: uint256
    expires_at: uint64
    escrow_quote: uint256
    open: bool


# ---------------------------------------------------------------- CONSTANTS

FLAG_IOC: constant(uint256) = 1
FLAG_POST_ONLY: constant(uint256) = 2
# the fee cap of DESIGN.md; bids escrow for it, MAX_FEE_BPS (deploy-time) is <= it
FEE_BPS_CAP: constant(uint256) = 100
MAX_FILLS_CAP: constant(uint256) = 64
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

# parameter ids of announced changes (see `pending_change`)
PARAM_PRICE_BAND: public(constant(uint256)) = 1
PARAM_MIN_ORDER: public(constant(uint256)) = 2
PARAM_FEES: public(constant(uint256)) = 3

BID: constant(uint256) = 0
ASK: constant(uint256) = 1

_M40: constant(uint256) = 2**40 - 1
_M56: constant(uint256) = 2**56 - 1
_M64: constant(uint256) = 2**64 - 1
_M120: constant(uint256) = 2**120 - 1
_M128: constant(uint256) = 2**128 - 1
_M160: constant(uint256) = 2**160 - 1
_NO_EXPIRY: constant(uint256) = 2**40 - 1

# ---------------------------------------------------------------- IMMUTABLES

# @dev The WATT token (escrow seam).
WATT: public(immutable(IWattEscrow))

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

# ---------------------------------------------------------------- STORAGE

# @dev Trading parameters in one word, read once per call: floor price (64) |
# ceiling price << 64 (64) | min order Wh << 128 (56) | max fills << 184 (8) |
# maker fee bps << 192 (8) | taker fee bps << 200 (8). See the views of the same names.
_params: uint256

# @dev Where claimed fees go.
treasury: public(address)

# @dev Fees accrued and not yet claimed, quote base units.
fees_accrued: public(uint256)

# @dev Owner => quote base units withdrawable (sale proceeds and refunds).
proceeds_of: public(HashMap[address, uint256])

# @dev Next order id (40) | quote escrowed by all open bids << 40 (216): both change on every bid.
_counters: uint256

# @dev Order id => owner (160) | is_buy << 160 | price index << 168 (16) | expires_at << 184 (40).
_order_a: HashMap[uint256, uint256]

# @dev Order id => remaining Wh (56) | prev << 56 (40) | next << 96 (40) | then for a bid:
#      quote escrow << 136 (120); for an ask: the owner's previous ask << 136 (40) | next ask << 176 (40).
_order_b: HashMap[uint256, uint256]

# @dev Owner => newest open ask (40) | number of open asks << 40: the head of the owner's ask list.
_asks_of: HashMap[address, uint256]

# @dev (side << 16 | price index) => head (64) | tail << 64 (64) | total Wh << 128 (128).
_level: HashMap[uint256, uint256]

# @dev Side => root bitmap: bit i set when leaf i has an active level.
_root: HashMap[uint256, uint256]

# @dev (side << 8 | leaf) => leaf bitmap: bit j set when price index leaf * 256 + j is active.
_leaf: HashMap[uint256, uint256]

# ---------------------------------------------------------------- EVENTS


event OrderPlaced:
    order_id: indexed(uint256)
    owner: indexed(address)
    is_buy: bool
    price: uint256
    amount_wh: uint256
    expires_at: uint64


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
    watt_: IWattEscrow,
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
    notice_s_: uint256,
):
    """
    @dev The deployer becomes the operator and the treasury. The limits
         are immutable: no later call can widen them.
    @param watt_ The 20-byte WATT token.
    @param quote_ The 20-byte quote token.
    @param tick_ The 32-byte price granularity, quote base units per kWh.
    @param floor_price_ The 32-byte lowest price (feed-in tariff), >= `min_floor_price_`.
    @param ceiling_price_ The 32-byte highest price (retail price), <= `max_ceiling_price_`.
    @param min_order_wh_ The 32-byte smallest order in Wh, 1..`max_min_order_wh_`.
    @param max_fills_ The 32-byte most maker orders one call visits (1..64).
    @param maker_fee_bps_ The 32-byte maker fee in bps (<= `max_fee_bps_`).
    @param taker_fee_bps_ The 32-byte taker fee in bps (<= `max_fee_bps_`).
    @param max_fee_bps_ The 32-byte highest fee ever allowed, bps (<= 100).
    @param min_floor_price_ The 32-byte lowest floor ever allowed, quote base units per kWh (>= 1).
    @param max_ceiling_price_ The 32-byte highest ceiling ever allowed, quote base units per kWh
           (< 2**64 and at most 65,535 ticks).
    @param max_min_order_wh_ The 32-byte largest minimum order ever allowed, Wh (< 2**56).
    @param notice_s_ The 32-byte seconds between announcing a change and applying it.
    """
    ownable.__init__()
    pausable.__init__()
    notice.__init__(notice_s_)
    assert tick_ != 0, "exchange: zero tick"
    assert max_fee_bps_ <= FEE_BPS_CAP, "exchange: max fee above 100 bps"
    assert min_floor_price_ != 0 and min_floor_price_ <= max_ceiling_price_, "exchange: bad band limits"
    assert max_ceiling_price_ // tick_ <= MAX_INDEX, "exchange: ceiling beyond tick range"
    assert max_ceiling_price_ <= _M64, "exchange: ceiling too large"
    assert max_min_order_wh_ <= _M56, "exchange: max minimum too large"
    WATT = watt_
    QUOTE = quote_
    TICK = tick_
    MAX_FEE_BPS = max_fee_bps_
    MIN_FLOOR_PRICE = min_floor_price_
    MAX_CEILING_PRICE = max_ceiling_price_
    MAX_MIN_ORDER_WH = max_min_order_wh_
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


# ================================================================ TRADING


@external
@nonreentrant
def place_order(is_buy: bool, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256:
    """
    @notice Places a limit order: it first takes from the other side at the
            resting orders' prices (best first, oldest first), then rests the
            remainder unless immediate-or-cancel, still crossing or below
            `min_order_wh` (then it is refunded). Approve the quote token
            (bids) or hold free WATT outside arrears (asks) first; an account
            has at most 64 open asks. Resting orders met outside the band in
            force, below the minimum or (asks) of an account in rent arrears
            are closed and refunded instead of filled.
    @param is_buy True for a bid (buy WATT), false for an ask.
    @param price The 32-byte limit price, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte amount in Wh.
    @param expires_at The 8-byte expiry timestamp; 0 for good-till-cancelled.
    @param flags The 32-byte flags: 1 immediate-or-cancel, 2 post-only.
    @return uint256 The 32-byte order id if it rests, 0 if it closed at once.
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
        assert not self._crosses(is_buy, idx), "exchange: post-only would cross"

    counters: uint256 = self._counters
    order_id: uint256 = counters & _M40
    assert order_id < _M40, "exchange: order ids exhausted"
    log OrderPlaced(order_id=order_id, owner=msg.sender, is_buy=is_buy, price=price, amount_wh=amount_wh, expires_at=convert(expiry, uint64))

    remaining: uint256 = amount_wh
    spent: uint256 = 0  # quote the taker pays now (bids) or earns (asks)
    deliveries: DynArray[address, MAX_FILLS_CAP] = []
    delivered: DynArray[uint256, MAX_FILLS_CAP] = []
    remaining, spent, deliveries, delivered = self._match(order_id, is_buy, idx, remaining, params)

    # the remainder rests, unless IOC, it still crosses (max_fills reached) or it is below the minimum
    rests: bool = False
    reason: uint8 = CLOSE_FILLED
    if remaining != 0:
        if flags & FLAG_IOC != 0:
            reason = CLOSE_IOC
        elif self._crosses(is_buy, idx):
            reason = CLOSE_UNCROSSABLE
        elif remaining < (params >> 128) & _M56:
            reason = CLOSE_BELOW_MINIMUM
        else:
            rests = True
    rest_escrow: uint256 = 0
    if rests and is_buy:
        rest_escrow = self._bid_escrow(remaining, price)
        assert rest_escrow <= _M120, "exchange: order too large"
    # one write for the new id and the escrow total (matching may have changed the total)
    self._counters = ((self._counters >> 40) + rest_escrow) << 40 | (order_id + 1)
    if rests:
        self._insert(order_id, msg.sender, is_buy, idx, expiry, remaining, rest_escrow)
    else:
        log OrderClosed(order_id=order_id, reason=reason, refunded=0)

    # ---- interactions: quote in or proceeds credited; WATT moves inside the token
    if is_buy:
        if spent + rest_escrow != 0:
            assert extcall QUOTE.transferFrom(msg.sender, self, spent + rest_escrow, default_return_value=True), "exchange: quote transfer failed"
        for i: uint256 in range(len(deliveries), bound=MAX_FILLS_CAP):
            extcall WATT.deliver_escrow(deliveries[i], msg.sender, delivered[i])
    else:
        # the seller's WATT: escrow all of it, deliver the fills, keep the rest escrowed if it rests
        extcall WATT.escrow(msg.sender, amount_wh)
        for i: uint256 in range(len(deliveries), bound=MAX_FILLS_CAP):
            extcall WATT.deliver_escrow(msg.sender, deliveries[i], delivered[i])
        if not rests and remaining != 0:
            extcall WATT.release_escrow(msg.sender, remaining)
    if rests:
        return order_id
    return 0


@external
@nonreentrant
def cancel_order(order_id: uint256):
    """
    @notice Cancels the caller's open order and refunds what is left (quote to
            `proceeds_of`, WATT back to the free balance). Works while paused.
    @param order_id The 32-byte order id.
    """
    a: uint256 = self._order_a[order_id]
    assert a != 0, "exchange: unknown order"
    assert self._owner(a) == msg.sender, "exchange: caller is not the order owner"
    self._close(order_id, CLOSE_CANCELLED)


@external
@nonreentrant
def cancel_expired(order_id: uint256):
    """
    @notice Anyone may close an expired order; its owner is refunded.
    @param order_id The 32-byte order id.
    """
    a: uint256 = self._order_a[order_id]
    assert a != 0, "exchange: unknown order"
    assert (a >> 184) & _M40 <= block.timestamp, "exchange: order not expired"
    self._close(order_id, CLOSE_EXPIRED)


@external
@nonreentrant
def close_asks_of(account: address) -> uint256:
    """
    @notice Closes every open ask of `account` (WATT only, from
            `release_unpaid` of an account in rent arrears), logging
            `OrderClosed(order_id, 7, remaining_wh)` for each. Moves no token
            and does not call WATT back: WATT takes the escrow out itself.
            Bounded: an account has at most 64 open asks.
    @param account The 20-byte account.
    @return uint256 The 32-byte Wh the closed asks had left.
    """
    assert msg.sender == WATT.address, "exchange: caller is not watt"
    order_id: uint256 = self._asks_of[account] & _M40
    total: uint256 = 0
    for _: uint256 in range(MAX_ASKS_PER_OWNER):
        if order_id == 0:
            break
        a: uint256 = self._order_a[order_id]
        b: uint256 = self._order_b[order_id]
        left: uint256 = b & _M56
        self._unlink(ASK, (a >> 168) & 65535, order_id, b, left)
        self._order_a[order_id] = 0
        self._order_b[order_id] = 0
        log OrderClosed(order_id=order_id, reason=CLOSE_ARREARS, refunded=left)
        # each ask < 2**56 Wh, at most 64 of them
        total = unsafe_add(total, left)
        order_id = (b >> 176) & _M40
    self._asks_of[account] = 0
    return total


@external
@nonreentrant
def withdraw_proceeds(amount: uint256):
    """
    @notice Withdraws quote from the caller's internal balance.
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
    @return uint256 The 32-byte amount claimed.
    """
    ownable._check_owner()
    amount: uint256 = self.fees_accrued
    self.fees_accrued = 0
    log FeesClaimed(treasury=self.treasury, amount=amount)
    assert extcall QUOTE.transfer(self.treasury, amount, default_return_value=True), "exchange: quote transfer failed"
    return amount


# ================================================================ OPERATOR


@external
def announce_price_band(floor_price_: uint256, ceiling_price_: uint256):
    """
    @notice Announces a new price band (operator only); it may apply
            `NOTICE_S` seconds from now. Bounds: `MIN_FLOOR_PRICE` <= floor
            <= ceiling <= `MAX_CEILING_PRICE`. Once applied, resting orders
            outside it never fill: a taker that meets one closes and refunds
            it (reason 9).
    @param floor_price_ The 32-byte lowest price (feed-in tariff), quote base units per kWh.
    @param ceiling_price_ The 32-byte highest price (retail price), quote base units per kWh.
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
    @param max_fills_ The 32-byte bound.
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
    @notice Stops new orders (operator only); cancels keep working.
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


# ================================================================ VIEWS


@external
@view
def floor_price() -> uint256:
    """
    @notice Lowest price accepted (the feed-in tariff), quote base units per kWh.
    @return uint256 The 32-byte price.
    """
    return self._params & _M64


@external
@view
def ceiling_price() -> uint256:
    """
    @notice Highest price accepted (the utility's retail price), quote base units per kWh.
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
    return self._counters >> 40


@external
@view
def order(order_id: uint256) -> OrderView:
    """
    @notice An order's state; `open` is false once it closed.
    @param order_id The 32-byte order id.
    @return OrderView Owner, side, price, remaining Wh, expiry, quote escrow, open.
    """
    a: uint256 = self._order_a[order_id]
    b: uint256 = self._order_b[order_id]
    if a == 0:
        return empty(OrderView)
    return OrderView(
        owner=self._owner(a),
        is_buy=(a >> 160) & 1 == 1,
        price=((a >> 168) & 65535) * TICK,
        remaining_wh=b & _M56,
        expires_at=convert((a >> 184) & _M40, uint64),
        escrow_quote=b >> 136 if (a >> 160) & 1 == 1 else 0,
        open=True,
    )


@external
@view
def best_bid() -> (uint256, uint256):
    """
    @notice The highest bid level: price (quote base units per kWh) and Wh; zeros if none.
    @return price, amount_wh The 32-byte level.
    """
    if self._root[BID] == 0:
        return 0, 0
    idx: uint256 = self._best(BID)
    return idx * TICK, self._level[idx] >> 128


@external
@view
def best_ask() -> (uint256, uint256):
    """
    @notice The lowest ask level: price (quote base units per kWh) and Wh; zeros if none.
    @return price, amount_wh The 32-byte level.
    """
    if self._root[ASK] == 0:
        return 0, 0
    idx: uint256 = self._best(ASK)
    return idx * TICK, self._level[(ASK << 16) | idx] >> 128


@external
@view
def depth(is_buy: bool, levels: uint256) -> DynArray[Level, MAX_DEPTH]:
    """
    @notice Up to `levels` (<= 32) price levels of one side, best first.
    @param is_buy True for bids, false for asks.
    @param levels The 32-byte number of levels wanted.
    @return DynArray The levels (price, Wh).
    """
    side: uint256 = ASK
    if is_buy:
        side = BID
    out: DynArray[Level, MAX_DEPTH] = []
    if self._root[side] == 0:
        return out
    idx: uint256 = self._best(side)
    found: bool = True
    for _: uint256 in range(MAX_DEPTH):
        if len(out) >= levels or not found:
            break
        out.append(Level(price=idx * TICK, amount_wh=self._level[(side << 16) | idx] >> 128))
        found, idx = self._next_level(side, idx)
    return out


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


# ================================================================ MATCHING


@internal
def _match(
    taker_id: uint256, is_buy: bool, limit_idx: uint256, amount: uint256, params: uint256
) -> (uint256, uint256, DynArray[address, MAX_FILLS_CAP], DynArray[uint256, MAX_FILLS_CAP]):
    """
    @dev Takes from the opposite side while it crosses `limit_idx`, visiting
         at most `max_fills` maker orders. Applies every effect on makers;
         returns what is left, the taker's quote (paid for bids, earned for
         asks, already credited for asks) and the WATT deliveries to make.
    """
    side: uint256 = BID
    if is_buy:
        side = ASK
    remaining: uint256 = amount
    taker_quote: uint256 = 0
    counterparties: DynArray[address, MAX_FILLS_CAP] = []
    amounts: DynArray[uint256, MAX_FILLS_CAP] = []
    maker_bps: uint256 = (params >> 192) & 255
    taker_bps: uint256 = (params >> 200) & 255
    budget: uint256 = (params >> 184) & 255
    floor_p: uint256 = params & _M64
    ceiling_p: uint256 = (params >> 64) & _M64
    min_wh: uint256 = (params >> 128) & _M56
    fees: uint256 = 0
    escrow_paid: uint256 = 0
    for _: uint256 in range(MAX_FILLS_CAP):
        if remaining == 0 or budget == 0 or self._root[side] == 0:
            break
        idx: uint256 = self._best(side)
        if (is_buy and idx > limit_idx) or (not is_buy and idx < limit_idx):
            break
        budget -= 1
        maker_id: uint256 = self._level[(side << 16) | idx] & _M64
        a: uint256 = self._order_a[maker_id]
        maker: address = self._owner(a)
        if (a >> 184) & _M40 <= block.timestamp:
            self._close(maker_id, CLOSE_EXPIRED)
            continue
        if maker == msg.sender:
            self._close(maker_id, CLOSE_SELF_TRADE)
            continue
        price: uint256 = idx * TICK
        if price < floor_p or price > ceiling_p:
            # left outside by a band change: no trade prints outside the band in force
            self._close(maker_id, CLOSE_OUT_OF_BAND)
            continue
        b: uint256 = self._order_b[maker_id]
        maker_left: uint256 = b & _M56
        if maker_left < min_wh:
            # left below a raised minimum
            self._close(maker_id, CLOSE_BELOW_MINIMUM)
            continue
        if is_buy and staticcall WATT.in_arrears(maker):
            # an account in rent arrears cannot sell: its ask goes back to its balance
            self._close(maker_id, CLOSE_ARREARS)
            continue
        w: uint256 = min(remaining, maker_left)
        q: uint256 = w * price // 1000
        maker_fee: uint256 = q * maker_bps // 10_000
        taker_fee: uint256 = q * taker_bps // 10_000
        fees += maker_fee + taker_fee
        maker_escrow: uint256 = b >> 136
        if is_buy:
            # taker buys from a resting ask: pays q + its fee; the seller earns q - its fee
            taker_quote += q + taker_fee
            self.proceeds_of[maker] += q - maker_fee
        else:
            # taker sells to a resting bid: the bid's escrow pays q + its fee
            maker_escrow -= q + maker_fee
            escrow_paid += q + maker_fee
            taker_quote += q - taker_fee
        remaining -= w
        maker_left -= w
        counterparties.append(maker)
        amounts.append(w)
        log Trade(
            maker_order_id=maker_id,
            taker_order_id=taker_id,
            maker=maker,
            taker=msg.sender,
            price=price,
            amount_wh=w,
            quote_amount=q,
            fee=maker_fee + taker_fee,
        )
        # level total shrinks by w
        key: uint256 = (side << 16) | idx
        self._level[key] -= w << 128
        # for an ask maker_escrow is its owner-list links, unchanged
        self._order_b[maker_id] = (b & ~(_M56 | (_M120 << 136))) | maker_left | (maker_escrow << 136)
        if maker_left == 0:
            self._close(maker_id, CLOSE_FILLED)
        elif maker_left < min_wh:
            # no order below the minimum rests: the rest is refunded
            self._close(maker_id, CLOSE_BELOW_MINIMUM)
    if fees != 0:
        self.fees_accrued += fees
    if escrow_paid != 0:
        self._counters -= escrow_paid << 40
    if not is_buy and taker_quote != 0:
        self.proceeds_of[msg.sender] += taker_quote
    return remaining, taker_quote, counterparties, amounts


@internal
def _close(order_id: uint256, reason: uint8):
    """
    @dev Unlinks an order, refunds what is left and deletes it. The quote
         refund is credited internally; WATT goes back inside the token.
    """
    a: uint256 = self._order_a[order_id]
    b: uint256 = self._order_b[order_id]
    owner: address = self._owner(a)
    is_buy: bool = (a >> 160) & 1 == 1
    side: uint256 = ASK
    if is_buy:
        side = BID
    idx: uint256 = (a >> 168) & 65535
    left: uint256 = b & _M56
    self._unlink(side, idx, order_id, b, left)
    self._order_a[order_id] = 0
    self._order_b[order_id] = 0
    refunded: uint256 = 0
    if is_buy:
        refunded = b >> 136
        if refunded != 0:
            self._counters -= refunded << 40
            self.proceeds_of[owner] += refunded
    else:
        refunded = left
        self._unlink_ask(owner, b)
    log OrderClosed(order_id=order_id, reason=reason, refunded=refunded)
    if not is_buy and left != 0:
        extcall WATT.release_escrow(owner, left)


@internal
def _insert(order_id: uint256, owner: address, is_buy: bool, idx: uint256, expiry: uint256, amount: uint256, escrow: uint256):
    side: uint256 = ASK
    buy_bit: uint256 = 0
    if is_buy:
        side = BID
        buy_bit = 1
    key: uint256 = (side << 16) | idx
    level: uint256 = self._level[key]
    prev: uint256 = 0
    if level == 0:
        self._level[key] = order_id | (order_id << 64) | (amount << 128)
        self._set_bit(side, idx)
    else:
        prev = (level >> 64) & _M64
        # the old tail points forward to the new order
        self._order_b[prev] = self._order_b[prev] | (order_id << 96)
        self._level[key] = (level & _M64) | (order_id << 64) | (((level >> 128) + amount) << 128)
    links: uint256 = escrow
    if not is_buy:
        # push on the owner's ask list: the new ask becomes its head
        own: uint256 = self._asks_of[owner]
        count: uint256 = own >> 40
        assert count < MAX_ASKS_PER_OWNER, "exchange: too many open asks"
        old_head: uint256 = own & _M40
        if old_head != 0:
            self._order_b[old_head] = self._order_b[old_head] | (order_id << 136)
        self._asks_of[owner] = order_id | ((count + 1) << 40)
        links = old_head << 40
    self._order_a[order_id] = convert(owner, uint256) | (buy_bit << 160) | (idx << 168) | (expiry << 184)
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
def _unlink(side: uint256, idx: uint256, order_id: uint256, b: uint256, left: uint256):
    key: uint256 = (side << 16) | idx
    level: uint256 = self._level[key]
    prev: uint256 = (b >> 56) & _M40
    nxt: uint256 = (b >> 96) & _M40
    head: uint256 = level & _M64
    tail: uint256 = (level >> 64) & _M64
    if prev != 0:
        self._order_b[prev] = (self._order_b[prev] & ~(_M40 << 96)) | (nxt << 96)
    else:
        head = nxt
    if nxt != 0:
        self._order_b[nxt] = (self._order_b[nxt] & ~(_M40 << 56)) | (prev << 56)
    else:
        tail = prev
    total: uint256 = (level >> 128) - left
    if head == 0:
        self._level[key] = 0
        self._clear_bit(side, idx)
    else:
        self._level[key] = head | (tail << 64) | (total << 128)


@internal
@view
def _crosses(is_buy: bool, idx: uint256) -> bool:
    if is_buy:
        return self._root[ASK] != 0 and self._best(ASK) <= idx
    return self._root[BID] != 0 and self._best(BID) >= idx


@internal
@pure
def _bid_escrow(wh: uint256, price: uint256) -> uint256:
    base: uint256 = (wh * price + 999) // 1000
    return base + (base * FEE_BPS_CAP + 9_999) // 10_000


@internal
@pure
def _owner(a: uint256) -> address:
    return convert(convert(a & _M160, uint160), address)


# ================================================================ BITMAPS


@internal
@view
def _best(side: uint256) -> uint256:
    """
    @dev Best active price index of a side (lowest ask, highest bid); the side must not be empty.
    """
    root: uint256 = self._root[side]
    if side == ASK:
        leaf: uint256 = self._lsb(root)
        return (leaf << 8) | self._lsb(self._leaf[(side << 8) | leaf])
    leaf: uint256 = self._msb(root)
    return (leaf << 8) | self._msb(self._leaf[(side << 8) | leaf])


@internal
@view
def _next_level(side: uint256, idx: uint256) -> (bool, uint256):
    """
    @dev The next active index after `idx` going away from the best price.
    """
    leaf: uint256 = idx >> 8
    bit: uint256 = idx & 255
    word: uint256 = self._leaf[(side << 8) | leaf]
    if side == ASK:
        # higher bits in this leaf, then higher leaves
        if bit < 255:
            rest: uint256 = word & ~((2 << bit) - 1)
            if rest != 0:
                return True, (leaf << 8) | self._lsb(rest)
        if leaf < 255:
            higher: uint256 = self._root[side] & ~((2 << leaf) - 1)
            if higher != 0:
                nl: uint256 = self._lsb(higher)
                return True, (nl << 8) | self._lsb(self._leaf[(side << 8) | nl])
        return False, 0
    rest: uint256 = word & ((1 << bit) - 1)
    if rest != 0:
        return True, (leaf << 8) | self._msb(rest)
    lower: uint256 = self._root[side] & ((1 << leaf) - 1)
    if lower != 0:
        nl: uint256 = self._msb(lower)
        return True, (nl << 8) | self._msb(self._leaf[(side << 8) | nl])
    return False, 0


@internal
def _set_bit(side: uint256, idx: uint256):
    leaf: uint256 = idx >> 8
    key: uint256 = (side << 8) | leaf
    word: uint256 = self._leaf[key]
    if word == 0:
        self._root[side] |= 1 << leaf
    self._leaf[key] = word | (1 << (idx & 255))


@internal
def _clear_bit(side: uint256, idx: uint256):
    leaf: uint256 = idx >> 8
    key: uint256 = (side << 8) | leaf
    word: uint256 = self._leaf[key] & ~(1 << (idx & 255))
    self._leaf[key] = word
    if word == 0:
        self._root[side] &= ~(1 << leaf)


@internal
@pure
def _lsb(x: uint256) -> uint256:
    """
    @dev Index of the lowest set bit of a non-zero word (binary search, 8 steps).
    """
    r: uint256 = 0
    v: uint256 = x
    if v & _M128 == 0:
        r += 128
        v >>= 128
    if v & _M64 == 0:
        r += 64
        v >>= 64
    if v & (2**32 - 1) == 0:
        r += 32
        v >>= 32
    if v & (2**16 - 1) == 0:
        r += 16
        v >>= 16
    if v & 255 == 0:
        r += 8
        v >>= 8
    if v & 15 == 0:
        r += 4
        v >>= 4
    if v & 3 == 0:
        r += 2
        v >>= 2
    if v & 1 == 0:
        r += 1
    return r


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
