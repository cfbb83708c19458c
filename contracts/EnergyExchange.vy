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
        `withdraw_proceeds`, `deposit_quote`): matching never pushes a token
        to a maker, and a bid pays out of that balance first, the rest from
        the bidder's wallet.
        Non-standard functions: `place_order`, `amend_order`, `cancel_order`,
        `cancel_expired`, `deposit_quote`, `withdraw_proceeds`, `claim_fees`, `close_asks_of`
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

# @dev Band, tick, minimum, fees, max fills and their announced changes; treasury; pause.
from .modules import book_params

initializes: book_params[ownable := ownable, pausable := pausable, notice := notice]

# @dev The price-level index (bitmap of active levels, each level's FIFO ends and total Wh).
from .modules import price_levels

initializes: price_levels

# @dev Quote owed to traders (proceeds, refunds) and its withdrawal.
from .modules import proceeds

initializes: proceeds

# @dev Orders and matching, shared with CertificateExchange.
from .modules import order_book

initializes: order_book[
    ownable := ownable,
    book_params := book_params,
    price_levels := price_levels,
    proceeds := proceeds,
]

exports: (
    # ---- roles
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    notice.pending_change,
    notice.NOTICE_S,
    # ---- trading
    proceeds.withdraw_proceeds,
    order_book.claim_fees,
    proceeds.proceeds_of,
    order_book.fees_accrued,
    order_book.open_orders,
    order_book.next_order_id,
    order_book.bid_escrow_total,
    # ---- operator bounds
    book_params.announce_price_band,
    book_params.apply_price_band,
    book_params.announce_min_order_wh,
    book_params.apply_min_order_wh,
    book_params.announce_fees,
    book_params.apply_fees,
    book_params.set_max_fills,
    book_params.set_treasury,
    book_params.pause,
    book_params.unpause,
    # ---- parameters
    book_params.floor_price,
    book_params.ceiling_price,
    book_params.min_order_wh,
    book_params.max_fills,
    book_params.maker_fee_bps,
    book_params.taker_fee_bps,
    book_params.treasury,
    proceeds.QUOTE,
    book_params.TICK,
    book_params.MAX_FEE_BPS,
    book_params.MIN_FLOOR_PRICE,
    book_params.MAX_CEILING_PRICE,
    book_params.MAX_MIN_ORDER_WH,
    order_book.MAX_ASKS_PER_OWNER,
    book_params.PARAM_PRICE_BAND,
    book_params.PARAM_MIN_ORDER,
    book_params.PARAM_FEES,
)


struct OrderView:
    owner: address
    is_buy: bool
    price: uint256
    remaining_wh: uint256
    expires_at: uint64
    escrow_quote: uint256
    open: bool


# ---------------------------------------------------------------- CONSTANTS

# the energy market has one book
_BOOK: constant(uint256) = 0
_M56: constant(uint256) = 2**56 - 1
_M160: constant(uint256) = 2**160 - 1
_SETTLE_REFUND: constant(uint256) = 1 << 255

# ---------------------------------------------------------------- IMMUTABLES

# @dev The WATT token (escrow seam).
WATT: public(immutable(IWattEscrow))

# ---------------------------------------------------------------- EVENTS


# @dev `amount` quote base units put into `owner`'s balance here (`proceeds_of`), out of which its bids
#      pay first.
event QuoteDeposited:
    owner: indexed(address)
    amount: uint256


event OrderPlaced:
    order_id: indexed(uint256)
    owner: indexed(address)
    is_buy: bool
    price: uint256
    amount_wh: uint256
    expires_at: uint64


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
    book_params.__init__(
        tick_,
        floor_price_,
        ceiling_price_,
        min_order_wh_,
        max_fills_,
        maker_fee_bps_,
        taker_fee_bps_,
        max_fee_bps_,
        min_floor_price_,
        max_ceiling_price_,
        max_min_order_wh_,
    )
    proceeds.__init__(quote_)
    order_book.__init__(
        watt_.address,
        1,  # order_book.GATE_SELLER_ARREARS: an account in rent arrears cannot sell
    )
    WATT = watt_


# ================================================================ TRADING


@external
@nonreentrant
def place_order(is_buy: bool, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256:
    """
    @notice Places a limit order: it first takes from the other side at the
            resting orders' prices (best first, oldest first), then rests the
            remainder unless immediate-or-cancel, still crossing or below
            `min_order_wh` (then it is refunded). A bid pays out of your
            balance here first (`proceeds_of`: proceeds, refunds,
            `deposit_quote`), the rest from your wallet: approve the quote
            token for it. An ask needs free WATT outside arrears; an account
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
    params: book_params.Params = book_params._load()
    idx: uint256 = 0
    expiry: uint256 = 0
    idx, expiry = order_book._check_order(params, is_buy, _BOOK, price, amount_wh, expires_at, flags)
    order_id: uint256 = order_book._peek_id()
    log OrderPlaced(
        order_id=order_id,
        owner=msg.sender,
        is_buy=is_buy,
        price=price,
        amount_wh=amount_wh,
        expires_at=convert(expiry, uint64),
    )
    dropped: uint256 = 0
    pull: uint256 = 0
    settle: DynArray[uint256, order_book.MAX_SETTLE] = []
    rested: uint256 = 0
    rested, dropped, pull, settle = order_book._place(order_id, _BOOK, 0, is_buy, price, amount_wh, expiry, flags, params, idx)

    # ---- interactions: quote in (out of the bidder's balance here first); WATT moves inside the token (no hooks)
    proceeds._pay_in(pull)
    if is_buy:
        # one call: fills delivered from each seller's escrow to the taker (credited once), asks the
        # book closed (expired, own, off-band, below minimum, arrears) back to their owners; the
        # settlement words (account | Wh << 160 | tag << 216 (0 here) | refund flag << 255) are WATT's moves
        if len(settle) != 0:
            extcall WATT.settle_escrow(msg.sender, settle)
    else:
        # one call, whatever the number of bids met: the seller's WATT (all of the ask covered) goes to
        # each bidder its fills met (settlement words: bidder | Wh << 160), the dropped Wh stay free, the
        # rest is escrowed for the part that rests
        if len(settle) == 0 and dropped == 0:
            # it all rests: escrowed, the whole ask covered; `escrow`, not `sell` with nothing to move,
            # because `sell`'s list argument grows memory: +881 gas on every resting ask (make gas)
            extcall WATT.escrow(msg.sender, amount_wh)
        else:
            extcall WATT.sell(msg.sender, amount_wh, dropped, settle)
    return rested


@external
@nonreentrant
def deposit_quote(amount: uint256):
    """
    @notice Deposits `amount` quote (approve it first) into your balance here
            (`proceeds_of`), out of which your bids pay (fills, fees, escrow)
            before anything is pulled from your wallet: a trader keeps a
            balance and trades with no token transfer. Withdraw it any time
            with `withdraw_proceeds` (also while paused).
    @param amount The 32-byte amount in quote base units.
    """
    assert amount != 0, "exchange: zero amount"
    proceeds._credit(msg.sender, amount)
    log QuoteDeposited(owner=msg.sender, amount=amount)
    proceeds._pull(amount)


@external
@nonreentrant
def cancel_order(order_id: uint256):
    """
    @notice Cancels the caller's open order and refunds what is left (quote to
            `proceeds_of`, WATT back to the free balance). Works while paused.
    @param order_id The 32-byte order id.
    """
    owner: address = empty(address)
    refund: uint256 = 0
    owner, refund = order_book._cancel(order_id, False)
    if refund != 0:
        extcall WATT.release_escrow(owner, (refund >> 160) & _M56)


@external
@nonreentrant
def amend_order(order_id: uint256, price: uint256, amount_wh: uint256):
    """
    @notice Changes the caller's open order in place, keeping its id: a new
            price and remaining amount, under the rules of a new order (band,
            tick, minimum; not while paused; not once expired). The new price
            may not cross the other side (an amend never trades). A price
            change or an increase loses time priority (to the tail of the
            level); a decrease at the same price keeps it. A bid's escrow
            becomes that of a new bid on the new terms (the difference paid,
            out of `proceeds_of` first, or credited to it); an ask escrows more WATT or gets
            some back (an account in arrears cannot escrow more).
    @param order_id The 32-byte order id.
    @param price The 32-byte new limit price, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte new remaining amount in Wh.
    """
    is_buy: bool = False
    tag: uint256 = 0
    wh_in: uint256 = 0
    wh_out: uint256 = 0
    quote_in: uint256 = 0
    is_buy, tag, wh_in, wh_out, quote_in = order_book._amend(order_id, price, amount_wh, book_params._load())
    # ---- interactions, after every effect
    proceeds._pay_in(quote_in)
    if wh_in != 0:
        extcall WATT.escrow(msg.sender, wh_in)
    if wh_out != 0:
        extcall WATT.release_escrow(msg.sender, wh_out)


@external
@nonreentrant
def cancel_expired(order_id: uint256):
    """
    @notice Anyone may close an expired order; its owner is refunded.
    @param order_id The 32-byte order id.
    """
    owner: address = empty(address)
    refund: uint256 = 0
    owner, refund = order_book._cancel(order_id, True)
    if refund != 0:
        extcall WATT.release_escrow(self._account(refund), (refund >> 160) & _M56)


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
    return order_book._close_asks_of(account)


# ================================================================ VIEWS


@external
@view
def order(order_id: uint256) -> OrderView:
    """
    @notice An order's state; `open` is false once it closed.
    @param order_id The 32-byte order id.
    @return OrderView Owner, side, price (quote base units per kWh), remaining Wh, expiry (s), quote escrow, open.
    """
    owner: address = empty(address)
    is_buy: bool = False
    price: uint256 = 0
    remaining: uint256 = 0
    expires_at: uint64 = 0
    escrow: uint256 = 0
    book: uint256 = 0
    tag: uint256 = 0
    owner, is_buy, price, remaining, expires_at, escrow, book, tag = order_book._order_fields(order_id)
    if owner == empty(address):
        return empty(OrderView)
    return OrderView(
        owner=owner, is_buy=is_buy, price=price, remaining_wh=remaining, expires_at=expires_at, escrow_quote=escrow, open=True
    )


@external
@view
def best_bid() -> (uint256, uint256):
    """
    @notice The highest bid level: price (quote base units per kWh) and Wh; zeros if none.
    @return price, amount_wh The 32-byte level.
    """
    return order_book._top(_BOOK, True)


@external
@view
def best_ask() -> (uint256, uint256):
    """
    @notice The lowest ask level: price (quote base units per kWh) and Wh; zeros if none.
    @return price, amount_wh The 32-byte level.
    """
    return order_book._top(_BOOK, False)


@external
@view
def depth(is_buy: bool, levels: uint256) -> DynArray[price_levels.Level, price_levels.MAX_DEPTH]:
    """
    @notice Up to `levels` (<= 32) price levels of one side, best first.
    @param is_buy True for bids, false for asks.
    @param levels The 32-byte number of levels wanted.
    @return DynArray The levels (price in quote base units per kWh, Wh).
    """
    return order_book._depth(_BOOK, is_buy, levels)


@internal
@pure
def _account(s: uint256) -> address:
    return convert(convert(s & _M160, uint160), address)
