# pragma version ~=0.4.3
# pragma nonreentrancy off
# pragma optimize codesize
"""
@title Certificate exchange: environmental value against a stablecoin
@custom:contract-name CertificateExchange
@license GNU Affero General Public License v3.0 only
@notice The order book of `order_book` for EnvironmentalCertificate units
        (1 unit = 1 Wh), price in quote base units per kWh. An ask escrows
        units of one certificate id; a bid names a class — generation method
        and vintage (the calendar month, UTC, of the certificate's
        `period_end`, as YYYYMM) — and fills from any ask of that class in
        price-time order. Each class is its own book (bitmap, FIFO levels).
        Units bought are delivered in the same call: to a taker bid, and
        to each resting bid a taker ask sells into (straight from the
        seller, once every effect is done): a bid never holds units it
        cannot use. Units of asks closed by the book (expired, self-trade,
        band, minimum, revoked or expired certificate), and units a resting
        bidder's own ERC-1155 hook refused, are credited to `units_of` and
        withdrawn with `withdraw_units`; quote proceeds and refunds go to
        `proceeds_of` (`withdraw_proceeds`): matching never pushes quote.
        One expiry rule, the certificate's: units are live while
        `block.timestamp < expires_at`; from that second on they are not
        listed, not sold (a resting ask met then closes, reason 10) and
        cannot move.
        Non-standard functions: `place_ask`, `place_bid`, `buy_and_claim`
        (buy up to N Wh of a class and claim them for a beneficiary in one
        call: the exchange claims the units it escrows, the beneficiary's
        `claimed_balance_of` grows), `cancel_order`, `cancel_expired`,
        `withdraw_units`, `withdraw_proceeds`, `claim_fees`; operator (as on
        the energy book): `announce_price_band`/`apply_price_band`,
        `announce_fees`/`apply_fees`, `announce_min_order_wh`/
        `apply_min_order_wh` (after `NOTICE_S`, within deploy-time limits),
        `set_max_fills`, `set_treasury`, `pause`, `unpause`; views `order`,
        `best_bid`, `best_ask`, `depth` (per class), `class_of`,
        `vintage_of`, `units_of`, `open_orders`, `pending_change`.
        `OrderClosed` reasons as on the energy book (1 filled, 2 cancelled,
        3 expired, 4 IOC remainder, 5 self-trade, 6 uncrossable, 8 below
        the minimum, 9 outside the band) and 10: the ask's certificate was
        revoked or has expired (its units never change hands; they are
        credited back to the seller's `units_of`, where they stay, since
        the certificate contract lets them move no more).
@custom:security Reentrancy: every state-changing entry point holds the
        contract's lock; ERC-1155 hooks run only at the end, after every
        effect: the taker's own hook on delivery, a canceller's own hook,
        or the hook of a resting bidder a taker ask sold to. A push to a
        maker gets at most `_PUSH_GAS` gas (the seller must leave enough
        for it, or the call reverts), so a bidder's hook can neither block
        nor drain a sale; a push that fails is credited to `units_of`
        instead (the lock is held; only the refusing account's own units). The exchange
        accepts units only from the certificate contract in a transfer it
        started itself (`operator == self`); batch transfers are refused.
        Units held by the exchange == units left in open asks + `units_of`.
"""

from ethereum.ercs import IERC20

from ethereum.ercs import IERC165

from .interfaces import ICertificateMarket

# @dev Operator role: bounds, fees, pause.
from snekmate.auth import ownable

initializes: ownable

# @dev Stops new orders; cancels, withdrawals and claims always work.
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

# @dev Orders and matching, shared with EnergyExchange.
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
    book_params.PARAM_PRICE_BAND,
    book_params.PARAM_MIN_ORDER,
    book_params.PARAM_FEES,
)

implements: IERC165


struct OrderView:
    owner: address
    is_buy: bool
    method: uint8
    vintage: uint256
    certificate_id: uint256
    price: uint256
    remaining_wh: uint256
    expires_at: uint64
    escrow_quote: uint256
    open: bool


# ---------------------------------------------------------------- CONSTANTS

_M160: constant(uint256) = 2**160 - 1
_M56: constant(uint256) = 2**56 - 1
_SETTLE_REFUND: constant(uint256) = 1 << 255
# gas a push of units to a resting bidder may use, its ERC-1155 hook included (a transfer to an
# account without code uses ~35k; a hook that needs more than the rest refuses, see `_trade`)
_PUSH_GAS: constant(uint256) = 100_000
_RECEIVED: constant(bytes4) = 0xf23a6e61  # onERC1155Received(address,address,uint256,uint256,bytes)
_IERC1155_RECEIVER_ID: constant(bytes4) = 0x4e2312e0
_IERC165_ID: constant(bytes4) = 0x01ffc9a7

# ---------------------------------------------------------------- IMMUTABLES

# @dev The EnvironmentalCertificate whose units trade here.
CERTIFICATE: public(immutable(ICertificateMarket))

# ---------------------------------------------------------------- STORAGE

# @dev Owner => certificate id => units (Wh) held here for it and withdrawable
#      (bought by its resting bids, or left in its closed asks).
units_of: public(HashMap[address, HashMap[uint256, uint256]])

# ---------------------------------------------------------------- EVENTS


event OrderPlaced:
    order_id: indexed(uint256)
    owner: indexed(address)
    is_buy: bool
    method: uint8
    vintage: uint256
    certificate_id: uint256
    price: uint256
    amount_wh: uint256
    expires_at: uint64


event UnitsWithdrawn:
    owner: indexed(address)
    certificate_id: indexed(uint256)
    amount_wh: uint256


event UnitsCredited:
    owner: indexed(address)
    certificate_id: indexed(uint256)
    amount_wh: uint256


@deploy
def __init__(
    certificate_: ICertificateMarket,
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
    @dev The deployer becomes the operator and the treasury. The limits are
         immutable: no later call can widen them.
    @param certificate_ The 20-byte EnvironmentalCertificate.
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
    @param max_ceiling_price_ The 32-byte highest ceiling ever allowed, quote base units per kWh.
    @param max_min_order_wh_ The 32-byte largest minimum order ever allowed, Wh.
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
        certificate_.address,
        2,  # order_book.GATE_CERTIFICATE: revoked or expired units never fill
    )
    CERTIFICATE = certificate_


# ================================================================ TRADING


@external
@nonreentrant
def place_ask(certificate_id: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256:
    """
    @notice Offers `amount_wh` units of `certificate_id` at `price`: takes
            the best bids of the certificate's class first (each bidder gets
            its units in this call, from the seller; credited to its
            `units_of` only if its own hook refuses them), then rests the
            remainder unless IOC, still crossing or below the minimum. The
            units that rest are escrowed here (call `setApprovalForAll(
            exchange, True)` on the certificate contract first); the rest
            never leave the seller.
    @param certificate_id The 32-byte certificate id (not revoked, not expired).
    @param price The 32-byte limit price, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte amount in Wh (units).
    @param expires_at The 8-byte expiry timestamp in seconds; 0 for good-till-cancelled.
    @param flags The 32-byte flags: 1 immediate-or-cancel, 2 post-only.
    @return uint256 The 32-byte order id if it rests, 0 if it closed at once.
    """
    method: uint8 = 0
    vintage: uint256 = 0
    method, vintage = self._class_of(certificate_id)
    order_id: uint256 = 0
    delivered: uint256 = 0
    order_id, delivered = self._trade(False, method, vintage, certificate_id, price, amount_wh, expires_at, flags, empty(address), "")
    return order_id


@external
@nonreentrant
def place_bid(method: uint8, vintage: uint256, price: uint256, amount_wh: uint256, expires_at: uint64, flags: uint256) -> uint256:
    """
    @notice Bids for `amount_wh` units of the class (`method`, `vintage`):
            fills from any ask of that class in price-time order at the
            asks' prices, delivering the units to the caller in this call,
            then rests the remainder (escrowing price x amount rounded up
            plus the 100 bps fee cap; approve the quote token first).
    @param method The 1-byte generation method (1 solar .. 5 biomass).
    @param vintage The 32-byte vintage, YYYYMM (UTC month of the period's last second, `period_end - 1`).
    @param price The 32-byte limit price, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte amount in Wh (units).
    @param expires_at The 8-byte expiry timestamp in seconds; 0 for good-till-cancelled.
    @param flags The 32-byte flags: 1 immediate-or-cancel, 2 post-only.
    @return uint256 The 32-byte order id if it rests, 0 if it closed at once.
    """
    order_id: uint256 = 0
    delivered: uint256 = 0
    order_id, delivered = self._trade(True, method, vintage, 0, price, amount_wh, expires_at, flags, empty(address), "")
    return order_id


@external
@nonreentrant
def buy_and_claim(method: uint8, vintage: uint256, max_price: uint256, amount_wh: uint256, beneficiary: address, purpose: String[128]) -> uint256:
    """
    @notice Buys up to `amount_wh` units of the class (`method`, `vintage`)
            at prices up to `max_price` (immediate-or-cancel) and claims
            (retires) every unit bought for `beneficiary` with `purpose` in
            the same call: the certificate contract logs
            `Claimed(exchange, beneficiary, id, amount, purpose)` per id and
            the beneficiary's `claimed_balance_of` grows.
    @param method The 1-byte generation method (1 solar .. 5 biomass).
    @param vintage The 32-byte vintage, YYYYMM (UTC month of the period's last second, `period_end - 1`).
    @param max_price The 32-byte highest price paid, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte most Wh to buy.
    @param beneficiary The 20-byte consumer the claim is for.
    @param purpose Up to 128 characters, e.g. "2026 electricity, site Nord".
    @return uint256 The 32-byte Wh bought and claimed.
    """
    book_params._need(beneficiary != empty(address), "certificate_exchange: zero beneficiary")
    order_id: uint256 = 0
    delivered: uint256 = 0
    order_id, delivered = self._trade(True, method, vintage, 0, max_price, amount_wh, 0, order_book.FLAG_IOC, beneficiary, purpose)
    return delivered


@external
@nonreentrant
def cancel_order(order_id: uint256):
    """
    @notice Cancels the caller's open order (works while paused): a bid's
            unused quote goes to `proceeds_of`; an ask's units go back to
            the caller, or to its `units_of` when they cannot move (revoked,
            expired, or the caller's hook refuses them).
    @param order_id The 32-byte order id.
    """
    owner: address = empty(address)
    refund: uint256 = 0
    owner, refund = order_book._cancel(order_id, False)
    if refund == 0:
        return
    id: uint256 = refund >> 216 & (2**39 - 1)
    wh: uint256 = (refund >> 160) & _M56
    # interaction last (the order is closed): try to push to the caller itself
    ok: bool = self._push(self, owner, id, wh, msg.gas)
    if not ok:
        # nothing moved; the lock is held: credit the units instead
        self._credit(refund)


@external
@nonreentrant
def cancel_expired(order_id: uint256):
    """
    @notice Anyone may close an expired order; a bid's quote goes to its
            owner's `proceeds_of`, an ask's units to its owner's `units_of`.
    @param order_id The 32-byte order id.
    """
    owner: address = empty(address)
    refund: uint256 = 0
    owner, refund = order_book._cancel(order_id, True)
    if refund != 0:
        self._credit(refund)


@external
@nonreentrant
def withdraw_units(certificate_id: uint256, amount_wh: uint256):
    """
    @notice Sends units held for the caller (`units_of`) to it (works while
            paused). Reverts with the certificate's reason for a revoked or
            expired id: such units can no longer move.
    @param certificate_id The 32-byte certificate id.
    @param amount_wh The 32-byte amount in Wh.
    """
    held: uint256 = self.units_of[msg.sender][certificate_id]
    book_params._need(amount_wh <= held, "certificate_exchange: amount exceeds units")
    self.units_of[msg.sender][certificate_id] = unsafe_sub(held, amount_wh)
    log UnitsWithdrawn(owner=msg.sender, certificate_id=certificate_id, amount_wh=amount_wh)
    extcall CERTIFICATE.safeTransferFrom(self, msg.sender, certificate_id, amount_wh, b"")


# ================================================================ ERC-1155 RECEIVER


@external
def onERC1155Received(operator: address, owner: address, id: uint256, amount: uint256, data: Bytes[1_024]) -> bytes4:
    """
    @notice Accepts units only in the escrow transfers this exchange starts
            itself (`place_ask`); anything sent to it directly is refused.
    @param operator The 20-byte caller of the transfer (must be this exchange).
    @param owner The 20-byte previous holder.
    @param id The 32-byte certificate id.
    @param amount The 32-byte amount in Wh.
    @param data Up to 1,024 bytes, unused.
    @return bytes4 The ERC-1155 acceptance value.
    """
    assert msg.sender == CERTIFICATE.address and operator == self, "certificate_exchange: unsolicited transfer"
    return _RECEIVED


@external
def onERC1155BatchReceived(
    operator: address, owner: address, ids: DynArray[uint256, 128], amounts: DynArray[uint256, 128], data: Bytes[1_024]
) -> bytes4:
    """
    @notice Refuses every batch transfer (the exchange never starts one).
    @param operator The 20-byte caller of the transfer.
    @param owner The 20-byte previous holder.
    @param ids Up to 128 certificate ids.
    @param amounts Up to 128 amounts in Wh.
    @param data Up to 1,024 bytes, unused.
    @return bytes4 Never returns.
    """
    raise "certificate_exchange: batch transfers refused"


@external
@view
def supportsInterface(interface_id: bytes4) -> bool:
    """
    @notice ERC-165: ERC-1155 receiver and ERC-165.
    @param interface_id The 4-byte interface identifier.
    @return bool True for the supported interfaces.
    """
    return interface_id == _IERC1155_RECEIVER_ID or interface_id == _IERC165_ID


# ================================================================ VIEWS


@external
@view
def order(order_id: uint256) -> OrderView:
    """
    @notice An order's state; `open` is false once it closed.
    @param order_id The 32-byte order id.
    @return OrderView Owner, side, class (method, vintage YYYYMM), the ask's
            certificate id (0 for a bid), price (quote base units per kWh),
            remaining Wh, expiry (s), quote escrow (bids), open.
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
        owner=owner,
        is_buy=is_buy,
        method=convert(book >> 24, uint8),
        vintage=book & (2**24 - 1),
        certificate_id=tag,
        price=price,
        remaining_wh=remaining,
        expires_at=expires_at,
        escrow_quote=escrow,
        open=True,
    )


@external
@view
def best_bid(method: uint8, vintage: uint256) -> (uint256, uint256):
    """
    @notice The highest bid level of a class: price (quote base units per kWh) and Wh; zeros if none.
    @param method The 1-byte generation method.
    @param vintage The 32-byte vintage, YYYYMM.
    @return price, amount_wh The 32-byte level.
    """
    return order_book._top(self._book(method, vintage), True)


@external
@view
def best_ask(method: uint8, vintage: uint256) -> (uint256, uint256):
    """
    @notice The lowest ask level of a class: price (quote base units per kWh) and Wh; zeros if none.
    @param method The 1-byte generation method.
    @param vintage The 32-byte vintage, YYYYMM.
    @return price, amount_wh The 32-byte level.
    """
    return order_book._top(self._book(method, vintage), False)


@external
@view
def depth(method: uint8, vintage: uint256, is_buy: bool, levels: uint256) -> DynArray[price_levels.Level, price_levels.MAX_DEPTH]:
    """
    @notice Up to `levels` (<= 32) price levels of one side of a class, best first.
    @param method The 1-byte generation method.
    @param vintage The 32-byte vintage, YYYYMM.
    @param is_buy True for bids, false for asks.
    @param levels The 32-byte number of levels wanted.
    @return DynArray The levels (price in quote base units per kWh, Wh).
    """
    return order_book._depth(self._book(method, vintage), is_buy, levels)


@external
@view
def class_of(certificate_id: uint256) -> (uint8, uint256):
    """
    @notice The class a certificate trades in: its method and vintage
            (YYYYMM, UTC month of its period's last second, `period_end - 1`). Reverts for an unknown id.
    @param certificate_id The 32-byte certificate id.
    @return method, vintage
    """
    method: uint8 = 0
    vintage: uint256 = 0
    revoked: bool = False
    expires_at: uint64 = 0
    method, vintage, revoked, expires_at = self._trade_info(certificate_id)
    return method, vintage


@external
@view
def vintage_of(timestamp: uint256) -> uint256:
    """
    @notice The vintage (YYYYMM, UTC calendar month) of a timestamp in
            seconds, by the certificate's calendar.
    @param timestamp The 32-byte Unix time in seconds.
    @return uint256 The 32-byte vintage.
    """
    yyyymm: uint256 = 0
    start: uint256 = 0
    end: uint256 = 0
    yyyymm, start, end = staticcall CERTIFICATE.month_of(timestamp)
    return yyyymm


# ================================================================ INTERNAL


@internal
def _trade(
    is_buy: bool,
    method: uint8,
    vintage: uint256,
    certificate_id: uint256,
    price: uint256,
    amount_wh: uint256,
    expires_at: uint64,
    flags: uint256,
    beneficiary: address,
    purpose: String[128],
) -> (uint256, uint256):
    """
    @dev An ask's (`certificate_id`) or a bid's (`certificate_id` 0) checks,
         `OrderPlaced`, book effects, then its interactions: an ask escrows
         what filled or rests and pushes the units its fills sold; a bid
         pays its quote, then its fills' units go to the caller (claimed for
         `beneficiary` when set). Returns the order id (0 unless it rests)
         and the Wh a bid's fills delivered. The settlement list stays in
         this frame: returned, it was copied into each external's frame,
         whose memory every order paid for even with nothing to settle
         (1,576 to 1,597 gas more per order; 187 bytes more on paris).
    """
    book: uint256 = self._book(method, vintage)
    params: book_params.Params = book_params._load()
    idx: uint256 = 0
    expiry: uint256 = 0
    idx, expiry = order_book._check_order(params, is_buy, book, price, amount_wh, expires_at, flags)
    order_id: uint256 = order_book._peek_id()
    log OrderPlaced(
        order_id=order_id,
        owner=msg.sender,
        is_buy=is_buy,
        method=method,
        vintage=vintage,
        certificate_id=certificate_id,
        price=price,
        amount_wh=amount_wh,
        expires_at=convert(expiry, uint64),
    )
    dropped: uint256 = 0
    pull: uint256 = 0
    settle: DynArray[uint256, order_book.MAX_SETTLE] = []
    rested: uint256 = 0
    rested, dropped, pull, settle = order_book._place(order_id, book, certificate_id, is_buy, price, amount_wh, expiry, flags, params, idx)
    if is_buy:
        # effects: a bid's flagged words are asks the book closed (expired, own, off-band, below
        # minimum, revoked or expired certificate), whose units go back to their owners' `units_of`
        for s: uint256 in settle:
            if s & _SETTLE_REFUND != 0:
                self._credit(s)
        proceeds._pay_in(pull)
        return rested, self._deliver(settle, beneficiary, purpose)
    # an ask's words are the resting bids that bought. Interactions last: each bidder gets its units
    # now, from the seller, so no bid ever holds units that expire before it could withdraw them
    escrow_wh: uint256 = amount_wh - dropped
    for s: uint256 in settle:
        wh: uint256 = (s >> 160) & _M56
        bidder: address = convert(convert(s & _M160, uint160), address)
        # the seller cannot starve the push to park the units in units_of: a push given less than its
        # allowance leaves this call 1/64 of it (63/64 rule), too little to credit them, so the whole
        # sale reverts (tests/unit/certificate_exchange/test_expiry_boundary.py sweeps the seller's gas)
        ok: bool = self._push(msg.sender, bidder, certificate_id, wh, _PUSH_GAS)
        if ok:
            escrow_wh -= wh
        else:
            # nothing moved (the bidder's own hook refused, or the seller lacks the units and the
            # escrow below reverts); the lock is held: held here for the bidder instead
            self._credit(s)
    if escrow_wh != 0:
        # escrow what rests and any refused delivery; only our own hook runs (operator == self)
        extcall CERTIFICATE.safeTransferFrom(msg.sender, self, certificate_id, escrow_wh, b"")
    return rested, 0


@internal
def _push(sender: address, to: address, id: uint256, wh: uint256, gas_limit: uint256) -> bool:
    """
    @dev Moves `wh` units of `id` from `sender` to `to` with at most `gas_limit` gas; false (and
         nothing moved) when the transfer or the receiver's hook fails. One call site for the
         cancel's push back and the pushes to resting bidders (code size on paris).
    """
    return raw_call(
        CERTIFICATE.address,
        abi_encode(sender, to, id, wh, b"", method_id=method_id("safeTransferFrom(address,address,uint256,uint256,bytes)")),
        gas=gas_limit,
        revert_on_failure=False,
    )


@internal
def _deliver(settle: DynArray[uint256, order_book.MAX_SETTLE], beneficiary: address, purpose: String[128]) -> uint256:
    """
    @dev Interactions of a taker bid, after every effect: the units of its
         fills go to the caller (or are claimed for `beneficiary` when it is
         set), one certificate call per run of fills of the same id.
         Returns the Wh delivered.
    """
    total: uint256 = 0
    run_id: uint256 = 0
    run_wh: uint256 = 0
    for s: uint256 in settle:
        if s & _SETTLE_REFUND != 0:
            continue
        id: uint256 = (s >> 216) & (2**39 - 1)
        wh: uint256 = (s >> 160) & _M56
        if id != run_id and run_wh != 0:
            self._send(run_id, run_wh, beneficiary, purpose)
            run_wh = 0
        run_id = id
        # at most 64 fills of < 2**56 Wh each
        run_wh = unsafe_add(run_wh, wh)
        total = unsafe_add(total, wh)
    if run_wh != 0:
        self._send(run_id, run_wh, beneficiary, purpose)
    return total


@internal
def _send(id: uint256, wh: uint256, beneficiary: address, purpose: String[128]):
    if beneficiary == empty(address):
        extcall CERTIFICATE.safeTransferFrom(self, msg.sender, id, wh, b"")
    else:
        extcall CERTIFICATE.claim(id, wh, beneficiary, purpose)


@internal
def _credit(s: uint256):
    """
    @dev Credits a settlement word's units (account | Wh | id) to `units_of`.
    """
    owner: address = convert(convert(s & _M160, uint160), address)
    id: uint256 = (s >> 216) & (2**39 - 1)
    wh: uint256 = (s >> 160) & _M56
    self.units_of[owner][id] += wh
    log UnitsCredited(owner=owner, certificate_id=id, amount_wh=wh)


@internal
@view
def _class_of(certificate_id: uint256) -> (uint8, uint256):
    """
    @dev Class of an id that can trade now; reverts for an unknown, revoked or expired one.
    """
    method: uint8 = 0
    vintage: uint256 = 0
    revoked: bool = False
    expires_at: uint64 = 0
    method, vintage, revoked, expires_at = self._trade_info(certificate_id)
    book_params._need(not revoked, "certificate_exchange: certificate revoked")
    # the one expiry rule (the certificate's own): live while block.timestamp < expires_at
    book_params._need(block.timestamp < convert(expires_at, uint256), "certificate_exchange: certificate expired")
    book_params._need(certificate_id <= order_book.MAX_TAG, "certificate_exchange: id out of range")
    return method, vintage


@internal
@view
def _trade_info(certificate_id: uint256) -> (uint8, uint256, bool, uint64):
    """
    @dev Method, vintage, revoked flag and expiry of a known id; reverts for an unknown one.
    """
    method: uint8 = 0
    vintage: uint64 = 0
    revoked: bool = False
    expires_at: uint64 = 0
    # the vintage is the certificate's (the month of its period's last second): one calendar, there
    method, vintage, revoked, expires_at = staticcall CERTIFICATE.trade_info(certificate_id)
    book_params._need(vintage != 0, "certificate_exchange: unknown certificate")
    return method, convert(vintage, uint256), revoked, expires_at


@internal
@pure
def _book(method: uint8, vintage: uint256) -> uint256:
    """
    @dev The book of a class: method << 24 | YYYYMM.
    """
    book_params._need(method != 0, "certificate_exchange: no method")
    book_params._need(vintage % 100 >= 1 and vintage % 100 <= 12 and vintage >= 197001 and vintage < 2**24, "certificate_exchange: bad vintage")
    return (convert(method, uint256) << 24) | vintage
