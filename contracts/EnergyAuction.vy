# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Energy auction: one clearing price per settlement slot for WATT against a stablecoin
@custom:contract-name EnergyAuction
@license GNU Affero General Public License v3.0 only
@notice A call auction per slot of `SLOT_S` seconds of chain time (1,800 or
        900, immutable; `slots`). An order placed during slot k joins auction
        k; once slot k has ended anyone may `clear(k)` (slots clear in order,
        each once; clearing k also clears the ended slots before it, at most
        MAX_CATCH_UP per call). Prices in quote base units per kWh (multiples of `TICK`),
        amounts in Wh. Standing orders join every auction until their end
        with no transaction per slot. Nothing moves at clearing: each order
        is settled by `claim(order_ids)` (anyone may claim any order; the
        owner is credited): quote to `proceeds_of` (`withdraw_proceeds`),
        bought WATT to `watt_of` (`withdraw_watt`, out of the WATT that the
        sellers' claims delivered to the auction). Rules (docs/rules.md):
        clearing price and fill rule in `auction_clearing`; the band in force
        at clearing, `min_order_wh` at placement, the fee `taker_fee_bps` in
        force at clearing paid by each side on its own quote (changed only
        with notice, within `MAX_FEE_BPS`); pause stops new orders only.
        An auction cleared late clears as it would have on time, with the
        band and fee in force when it is cleared; one never cleared keeps its
        orders' escrow until anyone clears it (clear is permissionless and
        bounded), so nothing is lost.
        Non-standard functions: `place_order`, `place_standing`,
        `cancel_order`, `clear`, `claim`, `withdraw_watt`, `fund_rent`, `claim_fees`,
        `close_asks_of` (WATT only), `deposit_quote`; views `order`, `result`,
        `current_slot`, `open_asks`, `index_word` (the price levels are read
        through AuctionLens: `levels`, `standing_levels`).
@custom:security Arrears (DESIGN.md invariant 2): an account in storage-rent
        arrears cannot escrow WATT (WATT refuses), an ask of it with a fill
        is not settled while it is in arrears (no proceeds, `claim` skips
        it), and WATT's `release_unpaid` takes its asks out of every auction
        not yet cleared (`close_asks_of`). CEI: every claim's effects are
        written before any token moves.
"""

from ethereum.ercs import IERC20

# @dev The WATT token, as the auction uses it: escrow seam, arrears, transfers out of the auction.
interface IAuctionWatt:
    def escrow(account: address, wh: uint256): nonpayable
    def release_escrow(account: address, wh: uint256): nonpayable
    def settle_escrow(buyer: address, moves: DynArray[uint256, 128]): nonpayable
    def in_arrears(account: address) -> bool: view
    def transfer(to: address, amount: uint256) -> bool: nonpayable
    def deposit_rent(amount: uint256): nonpayable
    def TSL() -> address: view


from snekmate.auth import ownable

initializes: ownable

from snekmate.utils import pausable

initializes: pausable

from .modules import notice

initializes: notice

from .modules import book_params

initializes: book_params[ownable := ownable, pausable := pausable, notice := notice]

from .modules import slots

initializes: slots

from .modules import price_levels

initializes: price_levels

from .modules import proceeds

initializes: proceeds

from .modules import auction_clearing

initializes: auction_clearing[book_params := book_params, slots := slots, price_levels := price_levels]

from .modules import auction_orders

initializes: auction_orders[
    book_params := book_params,
    slots := slots,
    auction_clearing := auction_clearing,
]

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
    notice.pending_change,
    notice.NOTICE_S,
    slots.SLOT_S,
    proceeds.QUOTE,
    auction_clearing.next_to_clear,
    auction_clearing.MAX_LEVELS,
    auction_clearing.MAX_CATCH_UP,
    auction_clearing.SLOT_RING,
    auction_orders.MAX_ASKS_PER_OWNER,
    auction_orders.MAX_STANDING_SLOTS,
    auction_orders.CLAIM_SLOTS,
    book_params.announce_price_band,
    book_params.apply_price_band,
    book_params.announce_min_order_wh,
    book_params.apply_min_order_wh,
    book_params.announce_fees,
    book_params.apply_fees,
    book_params.set_treasury,
    book_params.pause,
    book_params.unpause,
    book_params.floor_price,
    book_params.ceiling_price,
    book_params.min_order_wh,
    book_params.taker_fee_bps,
    book_params.treasury,
    book_params.TICK,
    book_params.MAX_FEE_BPS,
    book_params.MIN_FLOOR_PRICE,
    book_params.MAX_CEILING_PRICE,
    book_params.MAX_MIN_ORDER_WH,
    book_params.PARAM_PRICE_BAND,
    book_params.PARAM_MIN_ORDER,
    book_params.PARAM_FEES,
)


# @dev An order as the auction shows it: price in quote base units per kWh, Wh (per slot for a
#      standing order), its slots [first_slot, last_slot] and the next one to claim.
struct OrderView:
    owner: address
    is_buy: bool
    standing: bool
    price: uint256
    amount_wh: uint256
    first_slot: uint256
    last_slot: uint256
    next_claim_slot: uint256
    open: bool


# @dev A slot's clearing: price (quote base units per kWh), matched Wh, long side (0 none, 1 bids,
#      2 asks), the Wh the long side at the price shares and that level's total Wh, fee bps, cleared.
struct ResultView:
    price: uint256
    matched_wh: uint256
    long_side: uint256
    shared_wh: uint256
    level_wh: uint256
    fee_bps: uint256
    cleared: bool


MAX_CLAIMS: constant(uint256) = 32
_M32: constant(uint256) = 2**32 - 1
# WATT's `settle_escrow` move word: account (160) | Wh << 160 (56) | release flag (bit 255)
_MOVE_RELEASE: constant(uint256) = 2**255

# @dev The WATT token (escrow seam).
WATT: public(immutable(IAuctionWatt))


event WattWithdrawn:
    owner: indexed(address)
    wh: uint256


event FeesClaimed:
    treasury: indexed(address)
    amount: uint256


@deploy
def __init__(
    watt_: IAuctionWatt,
    quote_: IERC20,
    slot_s_: uint256,
    tick_: uint256,
    floor_price_: uint256,
    ceiling_price_: uint256,
    min_order_wh_: uint256,
    fee_bps_: uint256,
    max_fee_bps_: uint256,
    min_floor_price_: uint256,
    max_ceiling_price_: uint256,
    max_min_order_wh_: uint256,
    notice_s_: uint256,
):
    """
    @dev The deployer becomes the operator and the treasury; the limits are immutable.
    @param watt_ The 20-byte WATT token.
    @param quote_ The 20-byte quote token.
    @param slot_s_ The 32-byte slot length in seconds (1,800 or 900).
    @param tick_ The 32-byte price granularity, quote base units per kWh.
    @param floor_price_ The 32-byte lowest price, quote base units per kWh.
    @param ceiling_price_ The 32-byte highest price, quote base units per kWh.
    @param min_order_wh_ The 32-byte smallest order (per slot), Wh.
    @param fee_bps_ The 32-byte fee each side pays on its quote, bps (<= `max_fee_bps_`).
    @param max_fee_bps_ The 32-byte highest fee ever allowed, bps (<= 100).
    @param min_floor_price_ The 32-byte lowest floor ever allowed, quote base units per kWh.
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
        1,
        fee_bps_,
        fee_bps_,
        max_fee_bps_,
        min_floor_price_,
        max_ceiling_price_,
        max_min_order_wh_,
    )
    slots.__init__(slot_s_)
    proceeds.__init__(quote_)
    auction_clearing.__init__()
    WATT = watt_


# ================================================================ ORDERS


@external
@nonreentrant
def place_order(is_buy: bool, price: uint256, amount_wh: uint256) -> uint256:
    """
    @notice Places an order in the current slot's auction. A bid escrows
            ceil(amount x price / 1000) + 1% of quote: first out of your
            balance here (`proceeds_of`: proceeds, refunds, `deposit_quote`),
            the rest from your wallet (approve it first); an ask escrows its
            WATT (stays yours, keeps paying rent). Waits (reverts) until the
            slot SLOT_RING (48) before the current one is cleared: `clear` first.
    @param is_buy True to buy WATT, false to sell.
    @param price The 32-byte limit price, quote base units per kWh (a multiple of TICK).
    @param amount_wh The 32-byte amount in Wh (>= min_order_wh).
    @return uint256 The 32-byte order id.
    """
    order_id: uint256 = 0
    pull: uint256 = 0
    order_id, pull = auction_orders._place(msg.sender, is_buy, price, amount_wh)
    if is_buy:
        proceeds._pull(pull)
    else:
        extcall WATT.escrow(msg.sender, amount_wh)
    return order_id


@external
@nonreentrant
def place_standing(is_buy: bool, price: uint256, amount_wh: uint256, until: uint256) -> uint256:
    """
    @notice Places a standing order: up to `amount_wh` Wh at `price` or
            better in every auction from the current slot to the last slot
            that ends by `until` (at most MAX_STANDING_SLOTS), with no
            transaction per slot. Escrows every slot it may join (a bid:
            out of your balance here first, as `place_order`).
    @param is_buy True to buy WATT, false to sell.
    @param price The 32-byte limit price, quote base units per kWh.
    @param amount_wh The 32-byte Wh per slot.
    @param until The 32-byte time (s) by which its last slot ends.
    @return uint256 The 32-byte order id.
    """
    order_id: uint256 = 0
    escrow: uint256 = 0
    order_id, escrow = auction_orders._place_standing(msg.sender, is_buy, price, amount_wh, until)
    if is_buy:
        proceeds._pull(escrow)
    else:
        extcall WATT.escrow(msg.sender, escrow)
    return order_id


@external
@nonreentrant
def deposit_quote(amount: uint256):
    """
    @notice Deposits `amount` quote (approve it first) into your balance here
            (`proceeds_of`), from which your bids escrow before anything is
            pulled from your wallet: an energy manager deposits a budget once
            and bids every slot with no token transfer. Withdraw it any time
            with `withdraw_proceeds` (also while paused).
    @param amount The 32-byte amount in quote base units.
    """
    auction_orders._deposit(msg.sender, amount)
    proceeds._pull(amount)


@external
@nonreentrant
def cancel_order(order_id: uint256):
    """
    @notice Cancels the caller's one-shot order while its slot is open, or
            its standing order from the current slot on; refunds the escrow
            it no longer needs. Works while paused.
    @param order_id The 32-byte order id.
    """
    s: auction_orders.Settlement = auction_orders._cancel(order_id, msg.sender)
    if s.release_wh != 0:
        extcall WATT.release_escrow(s.owner, s.release_wh)


@external
@nonreentrant
def clear(slot: uint256):
    """
    @notice Clears the auction of `slot` once it has ended, and with it every
            earlier slot not yet cleared (anyone; each slot once, in order, with
            its own `AuctionCleared`; works while paused): a late clearing is one
            transaction. At most MAX_CATCH_UP (48) slots per call: a `slot`
            further on reverts, clear an earlier one first. Moves no token.
    @param slot The 32-byte slot number (timestamp // SLOT_S).
    """
    auction_clearing._clear(slot)


@external
@nonreentrant
def claim(order_ids: DynArray[uint256, MAX_CLAIMS]) -> uint256:
    """
    @notice Settles each order's cleared slots (anyone may claim; owners are
            credited): fills, fees and unused escrow. Skips ids with nothing
            to settle. Works while paused.
    @param order_ids Up to 32 order ids.
    @return uint256 The 32-byte number of orders settled.
    """
    # the sellers' escrow moves, for one `settle_escrow` call after every effect: deliveries to the
    # auction and releases to the sellers (Wh < 2**56: WATT's supply bound)
    moves: DynArray[uint256, 2 * MAX_CLAIMS] = []
    for order_id: uint256 in order_ids:
        o: auction_orders.Order = auction_orders._load(order_id)
        arrears: bool = False
        if o.owner != empty(address) and not o.is_buy:
            arrears = staticcall WATT.in_arrears(o.owner)
        s: auction_orders.Settlement = auction_orders._claim(order_id, arrears)
        if s.done and not s.is_buy:
            seller: uint256 = convert(s.owner, uint256)
            if s.filled_wh != 0:
                moves.append(seller | (s.filled_wh << 160))
            if s.release_wh != 0:
                moves.append(seller | (s.release_wh << 160) | _MOVE_RELEASE)
    if len(moves) != 0:
        extcall WATT.settle_escrow(self, moves)
    return len(order_ids)


@external
@nonreentrant
def withdraw_watt(wh: uint256):
    """
    @notice Withdraws claimed WATT (bought Wh) to the caller. Works while paused.
    @param wh The 32-byte amount in Wh.
    """
    auction_orders._debit(msg.sender, 0, wh)
    log WattWithdrawn(owner=msg.sender, wh=wh)
    assert extcall WATT.transfer(msg.sender, wh), "auction: WATT transfer failed"


@external
@nonreentrant
def withdraw_proceeds(amount: uint256):
    """
    @notice Withdraws quote from the caller's internal balance: sale proceeds and
            refunds (works while paused).
    @param amount The 32-byte amount in quote base units.
    """
    auction_orders._debit(msg.sender, amount, 0)
    log proceeds.ProceedsWithdrawn(owner=msg.sender, amount=amount)
    proceeds._pay(msg.sender, amount)


@external
@nonreentrant
def fund_rent(amount: uint256):
    """
    @notice Deposits `amount` TSL (approve the auction first) for the storage
            rent of the WATT the auction holds between a seller's claim and
            the buyer's withdrawal (anyone may fund it; the operator does at
            deploy). That WATT is stored energy and pays rent like anyone's.
    @param amount The 32-byte TSL amount in base units.
    """
    tsl: IERC20 = IERC20(staticcall WATT.TSL())
    assert extcall tsl.transferFrom(msg.sender, self, amount, default_return_value=True), "auction: TSL transfer failed"
    assert extcall tsl.approve(WATT.address, amount, default_return_value=True), "auction: TSL approve failed"
    extcall WATT.deposit_rent(amount)


@external
@nonreentrant
def claim_fees():
    """
    @notice Sends the accrued fees to the treasury (operator only).
    """
    ownable._check_owner()
    c: auction_orders.Counters = auction_orders._counters_load()
    amount: uint256 = c.fees
    c.fees = 0
    auction_orders._counters_save(c)
    log FeesClaimed(treasury=book_params.treasury, amount=amount)
    if amount != 0:
        proceeds._pay(book_params.treasury, amount)


@external
@nonreentrant
def close_asks_of(account: address) -> uint256:
    """
    @notice Takes `account`'s asks out of every auction not yet cleared
            (WATT only, from `release_unpaid`); moves no token and does not
            call WATT back. Bounded: at most MAX_ASKS_PER_OWNER asks.
    @param account The 20-byte account.
    @return uint256 The 32-byte Wh of escrow those asks no longer need.
    """
    assert msg.sender == WATT.address, "auction: caller is not watt"
    return auction_orders._close_asks_of(account)


# ================================================================ VIEWS


@external
@view
def proceeds_of(owner: address) -> uint256:
    """
    @notice Quote `owner` may withdraw (sale proceeds and refunds), base units.
    @param owner The 20-byte account.
    @return uint256 The 32-byte amount.
    """
    return auction_orders._proceeds_of(owner)


@external
@view
def watt_of(owner: address) -> uint256:
    """
    @notice WATT (Wh) `owner` bought and claimed, withdrawable with `withdraw_watt`.
    @param owner The 20-byte account.
    @return uint256 The 32-byte Wh.
    """
    return auction_orders._watt_of(owner)


@external
@view
def bid_escrow_total() -> uint256:
    """
    @notice Quote held for open bids, base units.
    @return uint256 The 32-byte amount.
    """
    return auction_orders._counters_load().bid_escrow


@external
@view
def fees_accrued() -> uint256:
    """
    @notice Fees not yet sent to the treasury, quote base units.
    @return uint256 The 32-byte amount.
    """
    return auction_orders._counters_load().fees


@external
@view
def current_slot() -> uint256:
    """
    @notice The slot the current block lies in (timestamp // SLOT_S).
    @return uint256 The 32-byte slot number.
    """
    return slots._current()


@external
@view
def order(order_id: uint256) -> OrderView:
    """
    @notice An order's state; `open` is false once fully settled or cancelled.
    @param order_id The 32-byte order id.
    @return OrderView The order (price in quote base units per kWh, Wh, slots).
    """
    o: auction_orders.Order = auction_orders._load(order_id)
    if o.owner == empty(address):
        return empty(OrderView)
    last: uint256 = o.slot
    cursor: uint256 = o.slot
    if o.standing:
        span: uint256 = auction_orders._span[order_id]
        last = span & _M32
        cursor = (span >> 32) & _M32
    return OrderView(
        owner=o.owner,
        is_buy=o.is_buy,
        standing=o.standing,
        price=o.idx * book_params.TICK,
        amount_wh=o.amount_wh,
        first_slot=o.slot,
        last_slot=last,
        next_claim_slot=cursor,
        open=True,
    )


@external
@view
def result(slot: uint256) -> ResultView:
    """
    @notice A slot's clearing (all zero and `cleared` false before).
    @param slot The 32-byte slot number.
    @return ResultView Price (quote base units per kWh), matched Wh, rationing, fee.
    """
    r: auction_clearing.Result = auction_clearing._load_result(slot)
    return ResultView(
        price=r.idx * book_params.TICK,
        matched_wh=r.matched_wh,
        long_side=r.long_side,
        shared_wh=r.shared_wh,
        level_wh=r.level_wh,
        fee_bps=r.fee_bps,
        cleared=r.cleared,
    )


@external
@view
def fill_of(order_id: uint256, slot: uint256) -> (uint256, uint256):
    """
    @notice What an open order fills in a cleared slot: Wh and quote before
            fees (base units); zeros if it did not or the slot is not cleared.
    @param order_id The 32-byte order id.
    @param slot The 32-byte slot number.
    @return filled_wh, quote The 32-byte fill.
    """
    o: auction_orders.Order = auction_orders._load(order_id)
    r: auction_clearing.Result = auction_clearing._load_result(slot)
    if o.owner == empty(address) or not r.cleared:
        return 0, 0
    return auction_clearing._fill(r, o.is_buy, o.idx, o.amount_wh, book_params.TICK)


@external
@view
def index_word(kind: uint256, key: uint256) -> uint256:
    """
    @notice A raw word of the price-level index, for AuctionLens (`levels`, `standing_levels`):
            kind 0 a root bitmap, 1 a leaf bitmap, 2 a level word (total Wh << 128); keys as in
            contracts/modules/price_levels.vy.
    @param kind The 32-byte word kind (0, 1 or 2).
    @param key The 32-byte key.
    @return uint256 The 32-byte word.
    """
    if kind == 0:
        return price_levels._root[key]
    if kind == 1:
        return price_levels._leaf[key]
    return auction_clearing._level_word(key)


@external
@view
def open_asks(account: address) -> DynArray[uint256, auction_orders.MAX_ASKS_PER_OWNER]:
    """
    @notice The ids of `account`'s asks not yet fully settled.
    @param account The 20-byte account.
    @return DynArray The order ids.
    """
    return auction_orders._open_asks(account)
