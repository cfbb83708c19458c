# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Trading parameters of a market and their governance
@custom:contract-name book_params
@license GNU Affero General Public License v3.0 only
@notice The parameters every rule of a book reads — price band, tick,
        minimum order, most fills per call, maker and taker fees — with the
        deploy-time limits that bound them, the treasury and pause.
        Kept in one storage word, decoded by one `_load`/`_save` pair;
        the pause flag is in that word too (`Params.paused`, written with
        snekmate's `paused` by `pause`/`unpause`), so a placement that
        reads the parameters checks pause without a second storage read.
        Exported externals (through the deployable):
        `announce_price_band`/`apply_price_band`, `announce_fees`/
        `apply_fees`, `announce_min_order_wh`/`apply_min_order_wh` (each
        applies `NOTICE_S` seconds after its announcement, within the
        deploy-time limits `MIN_FLOOR_PRICE`, `MAX_CEILING_PRICE`,
        `MAX_FEE_BPS`, `MAX_MIN_ORDER_WH`), `set_max_fills`, `set_treasury`,
        `pause`, `unpause`, and the views `floor_price`, `ceiling_price`,
        `min_order_wh`, `max_fills`, `maker_fee_bps`, `taker_fee_bps`,
        `treasury`, `TICK`, the limits and the `PARAM_*` ids of
        `pending_change`. `_bid_escrow` is the one rule of what a bid
        escrows (price x amount and the fee cap on it, each rounded up),
        which the continuous book and the slot auction both use.
@custom:security Every setter checks the operator, assigns and logs
        `Update<Thing>`; an announcement logs `Update<Thing>Announced(value,
        effective_at)`. `set_max_fills` and `set_treasury` apply at once:
        neither can cost a member value (a remainder cut by `max_fills` is
        refunded). Bounds: prices < 2**64 and <= 65,535 ticks, the minimum
        < 2**56 Wh, fees <= 100 bps, max fills 1..64.
"""

# @dev Operator role (the deployable initializes it).
from snekmate.auth import ownable

uses: ownable

# @dev Pause: new orders stop; cancels, withdrawals and claims never do.
from snekmate.utils import pausable

uses: pausable

# @dev Announce-then-apply after NOTICE_S for the band, fees and minimum.
from . import notice

uses: notice


# @dev The parameters word, decoded: prices in quote base units per kWh, Wh, bps.
struct Params:
    floor_price: uint256
    ceiling_price: uint256
    min_order_wh: uint256
    max_fills: uint256
    maker_fee_bps: uint256
    taker_fee_bps: uint256
    paused: bool


# ---------------------------------------------------------------- CONSTANTS

# the fee cap of DESIGN.md; bids escrow for it, MAX_FEE_BPS (deploy-time) is <= it
FEE_BPS_CAP: constant(uint256) = 100
MAX_FILLS_CAP: constant(uint256) = 64
MAX_INDEX: constant(uint256) = 65_535

# parameter ids of announced changes (see `pending_change`)
PARAM_PRICE_BAND: public(constant(uint256)) = 1
PARAM_MIN_ORDER: public(constant(uint256)) = 2
PARAM_FEES: public(constant(uint256)) = 3

_M56: constant(uint256) = 2**56 - 1
_M64: constant(uint256) = 2**64 - 1
_M128: constant(uint256) = 2**128 - 1

# ---------------------------------------------------------------- IMMUTABLES

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

# @dev Trading parameters in one word, read once per call (`_load`): floor price (64) |
# ceiling price << 64 (64) | min order Wh << 128 (56) | max fills << 184 (8) |
# maker fee bps << 192 (8) | taker fee bps << 200 (8) | paused << 208 (1, kept equal to
# snekmate's `paused`: both are written only by `pause`/`unpause`).
_params: uint256

# @dev Where claimed fees go.
treasury: public(address)

# ---------------------------------------------------------------- EVENTS


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
):
    """
    @dev The deployer becomes the treasury. The limits are immutable: no
         later call can widen them.
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
    """
    assert tick_ != 0, "exchange: zero tick"
    assert max_fee_bps_ <= FEE_BPS_CAP, "exchange: max fee above 100 bps"
    assert min_floor_price_ != 0 and min_floor_price_ <= max_ceiling_price_, "exchange: bad band limits"
    assert max_ceiling_price_ // tick_ <= MAX_INDEX, "exchange: ceiling beyond tick range"
    assert max_ceiling_price_ <= _M64, "exchange: ceiling too large"
    assert max_min_order_wh_ <= _M56, "exchange: max minimum too large"
    TICK = tick_
    MAX_FEE_BPS = max_fee_bps_
    MIN_FLOOR_PRICE = min_floor_price_
    MAX_CEILING_PRICE = max_ceiling_price_
    MAX_MIN_ORDER_WH = max_min_order_wh_
    self.treasury = msg.sender
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
    self._need(treasury_ != empty(address), "exchange: zero treasury")
    self.treasury = treasury_
    log UpdateTreasury(treasury=treasury_)


@external
def pause():
    """
    @notice Stops new orders (operator only); cancels, withdrawals and claims keep working.
    """
    ownable._check_owner()
    pausable._pause()
    self._set_paused(True)


@external
def unpause():
    """
    @notice Resumes new orders (operator only).
    """
    ownable._check_owner()
    pausable._unpause()
    self._set_paused(False)


@external
@view
def floor_price() -> uint256:
    """
    @notice Lowest price accepted, quote base units per kWh.
    @return uint256 The 32-byte price.
    """
    return self._load().floor_price


@external
@view
def ceiling_price() -> uint256:
    """
    @notice Highest price accepted, quote base units per kWh.
    @return uint256 The 32-byte price.
    """
    return self._load().ceiling_price


@external
@view
def min_order_wh() -> uint256:
    """
    @notice Smallest order in Wh.
    @return uint256 The 32-byte minimum.
    """
    return self._load().min_order_wh


@external
@view
def max_fills() -> uint256:
    """
    @notice Most maker orders one call may visit.
    @return uint256 The 32-byte bound.
    """
    return self._load().max_fills


@external
@view
def maker_fee_bps() -> uint256:
    """
    @notice Fee of the resting side, basis points of the quote amount.
    @return uint256 The 32-byte fee.
    """
    return self._load().maker_fee_bps


@external
@view
def taker_fee_bps() -> uint256:
    """
    @notice Fee of the incoming side, basis points of the quote amount.
    @return uint256 The 32-byte fee.
    """
    return self._load().taker_fee_bps


# ================================================================ INTERNAL


@internal
@pure
def _bid_escrow(wh: uint256, price: uint256) -> uint256:
    """
    @dev The one bid-escrow rule of both markets: quote base units a bid of
         `wh` Wh at `price` (quote base units per kWh) escrows, its most
         expensive fill rounded up plus FEE_BPS_CAP of that, rounded up;
         always covers the bid's fills and fees. The continuous book escrows
         it once, the slot auction once per slot.
    """
    base: uint256 = (wh * price + 999) // 1000
    return base + (base * FEE_BPS_CAP + 9_999) // 10_000


@internal
@view
def _load() -> Params:
    """
    @dev Decodes the parameters word (one storage read).
    """
    word: uint256 = self._params
    return Params(
        floor_price=word & _M64,
        ceiling_price=(word >> 64) & _M64,
        min_order_wh=(word >> 128) & _M56,
        max_fills=(word >> 184) & 255,
        maker_fee_bps=(word >> 192) & 255,
        taker_fee_bps=(word >> 200) & 255,
        paused=(word >> 208) & 1 != 0,
    )


@internal
def _save(p: Params):
    """
    @dev Encodes the parameters word; every field was checked against its
         bound by its setter (prices < 2**64, minimum < 2**56, the rest < 256).
    """
    self._params = (
        p.floor_price
        | (p.ceiling_price << 64)
        | (p.min_order_wh << 128)
        | (p.max_fills << 184)
        | (p.maker_fee_bps << 192)
        | (p.taker_fee_bps << 200)
        | (convert(p.paused, uint256) << 208)
    )


@internal
@view
def _check_band(floor_price_: uint256, ceiling_price_: uint256):
    self._need(floor_price_ >= MIN_FLOOR_PRICE, "exchange: floor below limit")
    self._need(ceiling_price_ <= MAX_CEILING_PRICE, "exchange: ceiling above limit")
    self._need(floor_price_ <= ceiling_price_, "exchange: bad price band")


@internal
@view
def _check_min_order(min_order_wh_: uint256):
    self._need(min_order_wh_ != 0, "exchange: zero minimum")
    self._need(min_order_wh_ <= MAX_MIN_ORDER_WH, "exchange: minimum above limit")


@internal
@view
def _check_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    self._need(maker_fee_bps_ <= MAX_FEE_BPS and taker_fee_bps_ <= MAX_FEE_BPS, "exchange: fee above limit")


@internal
def _set_band(floor_price_: uint256, ceiling_price_: uint256):
    # within MIN_FLOOR_PRICE..MAX_CEILING_PRICE (< 2**64, <= 65,535 ticks): checked on announce
    p: Params = self._load()
    p.floor_price = floor_price_
    p.ceiling_price = ceiling_price_
    self._save(p)
    log UpdatePriceBand(floor_price=floor_price_, ceiling_price=ceiling_price_)


@internal
def _set_min_order(min_order_wh_: uint256):
    # 1..MAX_MIN_ORDER_WH (< 2**56): checked on announce
    p: Params = self._load()
    p.min_order_wh = min_order_wh_
    self._save(p)
    log UpdateMinOrder(min_order_wh=min_order_wh_)


@internal
def _set_max_fills(max_fills_: uint256):
    self._need(max_fills_ != 0 and max_fills_ <= MAX_FILLS_CAP, "exchange: bad max fills")
    p: Params = self._load()
    p.max_fills = max_fills_
    self._save(p)
    log UpdateMaxFills(max_fills=max_fills_)


@internal
def _set_fees(maker_fee_bps_: uint256, taker_fee_bps_: uint256):
    # each <= MAX_FEE_BPS <= 100: checked on announce
    p: Params = self._load()
    p.maker_fee_bps = maker_fee_bps_
    p.taker_fee_bps = taker_fee_bps_
    self._save(p)
    log UpdateFees(maker_fee_bps=maker_fee_bps_, taker_fee_bps=taker_fee_bps_)


@internal
def _set_paused(paused_: bool):
    # the copy of snekmate's flag in the parameters word (its `Paused`/`Unpaused` event is the log)
    p: Params = self._load()
    p.paused = paused_
    self._save(p)


@internal
@pure
def _require_live(p: Params):
    """
    @dev Reverts when the market is paused, from the parameters word already loaded (no read of
         snekmate's flag: same message).
    """
    assert not p.paused, "pausable: contract is paused"


@internal
@pure
def _need(ok: bool, reason: String[48]):
    """
    @dev `assert ok, reason` for about 50 gas more but a third of the code:
         the checks a valid call passes once (not the order checks of
         `_check_order`) and the checks of rare calls (announcements, the
         treasury) share this one revert, so CertificateExchange fits
         EIP-170 on paris. The markets' modules and deployables use it.
    """
    if not ok:
        raise reason
