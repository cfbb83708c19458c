# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Storage rent: WATT's account ledger, rent accrual, deposits and arrears
@custom:contract-name storage_rent
@license GNU Affero General Public License v3.0 only
@notice Every account's stored energy (free balance + WATT escrowed in its
        sell orders) accrues rent continuously at `rent_rate` TSL base units
        per kWh per day, charged lazily when the account is touched
        (`_settled`), from its TSL deposit as far as it goes, the rest as
        arrears. The account's balance, deposit and rent snapshot share one
        storage word (`_acct`), its escrow and arrears a second one read only
        when a flag says so (`_side`): one `_load`/`_save` pair decodes both,
        so a touch costs one storage slot. The token's ledger (balances,
        supply) and the escrow module read and write accounts only through
        `_settled`/`_load`/`_save`.
        Exported externals (through WattToken): `deposit_rent`,
        `deposit_rent_with_permit`, `withdraw_rent`, `settle_rent`,
        `claim_rent_revenue`, `set_treasury`; announced changes (`announce_*`,
        then `apply_*` after `NOTICE_S`, within deploy-time limits
        `MAX_RENT_RATE`, `MIN_RENT_GRACE_PERIOD_S`, `MIN_RELEASE_PRICE`) of
        `rent_rate`, `rent_grace_period` and `release_price`; views
        `rent_due`, `rent_deposit`, `rent_accrued`, `storage_paid_until`,
        `arrears_of`, `in_arrears`, `stored_of`, `rent_index`, `rent_rate`,
        `rent_revenue`, `treasury`, `TSL`.
@custom:security Rent. A global index I(t) = integral of rent_rate dt grows
        with time; an account is charged
            charge = ceil(stored_wh * (I(now) - I(last touch)) / 86_400_000)
        (86_400_000 = 1,000 Wh per kWh x 86,400 s per day). Rounding is up,
        to the next TSL base unit, at each charge: rent is never
        under-charged. A rate change first closes the index at the old rate,
        so rent already accrued never changes.
        Gas estimates: no storage slot's zero/non-zero state depends on how
        much time passed, so an estimate stays valid while rent accrues: the
        revenue slot keeps a +1 sentinel, and an account's side word is
        written non-zero (a sentinel bit) when it first stores WATT, so
        falling into arrears later rewrites a non-zero slot.
        Bounds: balances < 2**56 Wh, deposits < 2**96 TSL base units,
        arrears < 2**127, `rent_rate` < 2**64; index snapshots are kept mod
        2**96, exact while an account is touched at least once per
        2**96 / rent_rate seconds (>= 139 years at the largest rate).
"""

from ethereum.ercs import IERC20

# @dev EIP-2612 `permit` of the TSL token, for `deposit_rent_with_permit`.
from snekmate.tokens.interfaces import IERC20Permit

# @dev Operator role for the treasury and the rent parameters (the deployable initializes it).
from snekmate.auth import ownable

uses: ownable

# @dev Announce-then-apply after NOTICE_S for the rent rate, grace period and release price.
from . import notice

uses: notice


# @dev One account decoded from its two words: balance, deposit, index snapshot, escrow and
#      arrears (Wh, TSL base units, seconds), and which words it had on load.
struct Account:
    balance: uint256
    deposit: uint256
    snapshot: uint256
    escrowed: uint256
    arrears: uint256
    arrears_since: uint256
    had_side: bool
    side_written: bool


# ---------------------------------------------------------------- CONSTANTS

# Wh per kWh x seconds per day: rent_rate is per kWh per day
RENT_DENOMINATOR: constant(uint256) = 86_400_000
MAX_DEPOSIT: constant(uint256) = 2**96 - 1
# the packed clock holds the rate in 64 bits
RENT_RATE_CAP: constant(uint256) = 2**64 - 1
MAX_ARREARS: constant(uint256) = 2**127 - 1
# release prices stay below 2**128 so `arrears * 1000 + price` cannot overflow
RELEASE_PRICE_CAP: constant(uint256) = 2**128

# parameter ids of announced changes (see `pending_change`)
PARAM_RENT_RATE: public(constant(uint256)) = 1
PARAM_RENT_GRACE_PERIOD: public(constant(uint256)) = 2
PARAM_RELEASE_PRICE: public(constant(uint256)) = 3

_MASK56: constant(uint256) = 2**56 - 1
_MASK64: constant(uint256) = 2**64 - 1
_MASK96: constant(uint256) = 2**96 - 1
_MASK128: constant(uint256) = 2**128 - 1
_MASK127: constant(uint256) = 2**127 - 1
# account word: balance (56) | arrears flag (bit 56) | escrow flag (bit 57) |
# side-written flag (bit 58) | deposit << 64 (96) | index snapshot << 160 (96)
_FLAG_ARREARS: constant(uint256) = 2**56
_FLAG_ESCROW: constant(uint256) = 2**57
_FLAG_SIDE: constant(uint256) = 2**58
_SHIFT_DEPOSIT: constant(uint256) = 64
_SHIFT_SNAPSHOT: constant(uint256) = 160
# side word: escrowed (64) | arrears << 64 (127) | sentinel bit 191 | arrears_since << 192 (64)
_SIDE_SENTINEL: constant(uint256) = 2**191

# ---------------------------------------------------------------- IMMUTABLES

# @dev The TSL token rent is paid in.
TSL: public(immutable(IERC20))

# @dev Highest `rent_rate` an announcement may set, TSL base units per kWh per day.
MAX_RENT_RATE: public(immutable(uint256))

# @dev Shortest `rent_grace_period` an announcement may set, seconds.
MIN_RENT_GRACE_PERIOD_S: public(immutable(uint256))

# @dev Lowest `release_price` an announcement may set, TSL base units per kWh (>= 1).
MIN_RELEASE_PRICE: public(immutable(uint256))

# ---------------------------------------------------------------- STORAGE

# @dev Where claimed rent revenue goes.
treasury: public(address)

# @dev Rent collected and not yet claimed, in TSL base units, plus 1: the
#      slot never returns to zero, so the first charge after a claim costs
#      what an estimate made a second earlier predicted (see `rent_revenue`).
_revenue: uint256

# @dev Seconds an account may stay in arrears before `release_unpaid`.
rent_grace_period: public(uint256)

# @dev TSL base units per kWh credited against arrears when storage is released.
release_price: public(uint256)

# @dev Rent clock: rate (64) | updated_at << 64 (64) | index << 128 (128).
_clock: uint256

# @dev Account => packed (balance, flags, deposit, index snapshot).
_acct: HashMap[address, uint256]

# @dev Account => packed (escrowed, arrears, arrears_since); only read when a flag says so.
_side: HashMap[address, uint256]

# ---------------------------------------------------------------- EVENTS


event RentCharged:
    account: indexed(address)
    paid: uint256
    unpaid: uint256


event RentDeposited:
    account: indexed(address)
    amount: uint256
    arrears_paid: uint256


event RentWithdrawn:
    account: indexed(address)
    amount: uint256


event RentRevenueClaimed:
    treasury: indexed(address)
    amount: uint256


event UpdateTreasury:
    treasury: indexed(address)


event UpdateRentRate:
    rent_rate: uint256


event UpdateRentGracePeriod:
    rent_grace_period: uint256


event UpdateReleasePrice:
    release_price: uint256


event UpdateRentRateAnnounced:
    rent_rate: uint256
    effective_at: uint256


event UpdateRentGracePeriodAnnounced:
    rent_grace_period: uint256
    effective_at: uint256


event UpdateReleasePriceAnnounced:
    release_price: uint256
    effective_at: uint256


@deploy
def __init__(
    tsl_: IERC20,
    rent_rate_: uint256,
    rent_grace_period_: uint256,
    release_price_: uint256,
    max_rent_rate_: uint256,
    min_rent_grace_period_s_: uint256,
    min_release_price_: uint256,
):
    """
    @dev The deployer becomes the treasury. The limits are immutable.
    @param tsl_ The 20-byte TSL token.
    @param rent_rate_ The 32-byte rent in TSL base units per kWh per day, <= `max_rent_rate_`.
    @param rent_grace_period_ The 32-byte grace in seconds before release, >= `min_rent_grace_period_s_`.
    @param release_price_ The 32-byte TSL base units per kWh credited on release, >= `min_release_price_`.
    @param max_rent_rate_ The 32-byte highest rent rate ever allowed, TSL base units per kWh per day (< 2**64).
    @param min_rent_grace_period_s_ The 32-byte shortest grace period ever allowed, seconds.
    @param min_release_price_ The 32-byte lowest release price ever allowed, TSL base units per kWh (>= 1).
    """
    assert max_rent_rate_ <= RENT_RATE_CAP, "watt: max rent rate too large"
    assert min_release_price_ != 0, "watt: zero min release price"
    MAX_RENT_RATE = max_rent_rate_
    MIN_RENT_GRACE_PERIOD_S = min_rent_grace_period_s_
    MIN_RELEASE_PRICE = min_release_price_
    self._check_rent_rate(rent_rate_)
    self._check_grace(rent_grace_period_)
    self._check_release_price(release_price_)
    TSL = tsl_
    self._clock = rent_rate_ | (block.timestamp << 64)
    self.rent_grace_period = rent_grace_period_
    self.release_price = release_price_
    self.treasury = msg.sender
    self._revenue = 1


@internal
def _log_initial():
    """
    @dev The `Update*` events of the initial rent parameters and treasury (the deployable calls it
         after its own, so a deploy logs them in one order).
    """
    log UpdateRentRate(rent_rate=self._clock & _MASK64)
    log UpdateRentGracePeriod(rent_grace_period=self.rent_grace_period)
    log UpdateReleasePrice(release_price=self.release_price)
    log UpdateTreasury(treasury=self.treasury)


# ================================================================ RENT


@external
def deposit_rent(amount: uint256):
    """
    @notice Deposits `amount` TSL (approve first) for the caller's storage
            rent. Arrears are paid first; the rest is kept as deposit.
    @param amount The 32-byte TSL amount in base units.
    """
    self._deposit_rent(msg.sender, amount)


@external
def deposit_rent_with_permit(amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @notice `deposit_rent` with an EIP-2612 TSL permit (owner: the caller,
            spender: this contract) instead of a separate approve
            transaction. A permit already used by someone who saw it in the
            mempool does not make the deposit fail while the allowance it set
            is still there.
    @param amount The 32-byte TSL amount in base units (also the permit's value).
    @param deadline The 32-byte permit deadline, a timestamp in seconds.
    @param v The 1-byte secp256k1 signature recovery id.
    @param r The 32-byte secp256k1 signature r.
    @param s The 32-byte secp256k1 signature s.
    """
    ok: bool = raw_call(
        TSL.address,
        abi_encode(msg.sender, self, amount, deadline, v, r, s, method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")),
        revert_on_failure=False,
    )
    if not ok:
        assert staticcall TSL.allowance(msg.sender, self) >= amount, "watt: permit failed"
    self._deposit_rent(msg.sender, amount)


@external
def withdraw_rent(amount: uint256):
    """
    @notice Withdraws unspent TSL from the caller's deposit (rent accrued so
            far is charged first). Always works: during a notice, in arrears
            (nothing to withdraw then) and whatever the exchange's state.
    @param amount The 32-byte TSL amount in base units.
    """
    acct: Account = self._settled(msg.sender)
    assert amount <= acct.deposit, "watt: amount exceeds unspent deposit"
    acct.deposit = unsafe_sub(acct.deposit, amount)
    self._save(msg.sender, acct)
    log RentWithdrawn(account=msg.sender, amount=amount)
    assert extcall TSL.transfer(msg.sender, amount, default_return_value=True), "watt: tsl transfer failed"


@external
def claim_rent_revenue() -> uint256:
    """
    @notice Sends all collected rent to the treasury (operator only).
    @return uint256 The 32-byte TSL amount claimed.
    """
    ownable._check_owner()
    # the slot keeps its +1 sentinel
    amount: uint256 = unsafe_sub(self._revenue, 1)
    self._revenue = 1
    log RentRevenueClaimed(treasury=self.treasury, amount=amount)
    assert extcall TSL.transfer(self.treasury, amount, default_return_value=True), "watt: tsl transfer failed"
    return amount


@external
def settle_rent(account: address):
    """
    @notice Charges `account`'s accrued rent now (anyone; changes nothing but
            the timing of a charge that would happen at its next touch).
    @param account The 20-byte account.
    """
    self._save(account, self._settled(account))


# ================================================================ OPERATOR


@external
def set_treasury(treasury_: address):
    """
    @notice Sets where rent revenue is claimed to (operator only).
    @param treasury_ The 20-byte treasury address.
    """
    ownable._check_owner()
    assert treasury_ != empty(address), "watt: zero treasury"
    self.treasury = treasury_
    log UpdateTreasury(treasury=treasury_)


@external
def announce_rent_rate(rent_rate_: uint256):
    """
    @notice Announces a new rent rate (operator only); it may apply
            `NOTICE_S` seconds from now. Bound: rate <= `MAX_RENT_RATE`.
    @param rent_rate_ The 32-byte rate in TSL base units per kWh per day.
    """
    ownable._check_owner()
    self._check_rent_rate(rent_rate_)
    log UpdateRentRateAnnounced(rent_rate=rent_rate_, effective_at=notice._announce(PARAM_RENT_RATE, rent_rate_))


@external
def apply_rent_rate():
    """
    @notice Applies the announced rent rate once its notice is over
            (operator only). The rent index is closed at the old rate first,
            so rent accrued before this call is charged at the old rate.
    """
    ownable._check_owner()
    rent_rate_: uint256 = notice._take(PARAM_RENT_RATE)
    self._clock = rent_rate_ | (block.timestamp << 64) | (self._index_now() << 128)
    log UpdateRentRate(rent_rate=rent_rate_)


@external
def announce_rent_grace_period(rent_grace_period_: uint256):
    """
    @notice Announces a new grace period before storage in arrears may be
            released (operator only); it may apply `NOTICE_S` seconds from
            now. Bound: period >= `MIN_RENT_GRACE_PERIOD_S`.
    @param rent_grace_period_ The 32-byte period in seconds.
    """
    ownable._check_owner()
    self._check_grace(rent_grace_period_)
    log UpdateRentGracePeriodAnnounced(
        rent_grace_period=rent_grace_period_, effective_at=notice._announce(PARAM_RENT_GRACE_PERIOD, rent_grace_period_)
    )


@external
def apply_rent_grace_period():
    """
    @notice Applies the announced grace period once its notice is over (operator only).
    """
    ownable._check_owner()
    rent_grace_period_: uint256 = notice._take(PARAM_RENT_GRACE_PERIOD)
    self.rent_grace_period = rent_grace_period_
    log UpdateRentGracePeriod(rent_grace_period=rent_grace_period_)


@external
def announce_release_price(release_price_: uint256):
    """
    @notice Announces a new release price, the TSL per kWh credited against
            arrears when storage is released (operator only); it may apply
            `NOTICE_S` seconds from now. Bounds: `MIN_RELEASE_PRICE` <=
            price <= 2**128.
    @param release_price_ The 32-byte price in TSL base units per kWh.
    """
    ownable._check_owner()
    self._check_release_price(release_price_)
    log UpdateReleasePriceAnnounced(
        release_price=release_price_, effective_at=notice._announce(PARAM_RELEASE_PRICE, release_price_)
    )


@external
def apply_release_price():
    """
    @notice Applies the announced release price once its notice is over (operator only).
    """
    ownable._check_owner()
    release_price_: uint256 = notice._take(PARAM_RELEASE_PRICE)
    self.release_price = release_price_
    log UpdateReleasePrice(release_price=release_price_)


# ================================================================ VIEWS


@external
@view
def rent_revenue() -> uint256:
    """
    @notice Rent collected and not yet claimed by the treasury.
    @return uint256 The 32-byte TSL amount in base units.
    """
    return unsafe_sub(self._revenue, 1)


@external
@view
def in_arrears(account: address) -> bool:
    """
    @notice Whether `account` would be found in arrears if touched now
            (recorded arrears, or accrued rent its deposit does not cover).
            Such an account cannot sell: the exchange closes its asks
            instead of filling them.
    @param account The 20-byte account.
    @return bool True when in arrears.
    """
    acct: Account = self._load(account)
    if acct.arrears != 0:
        return True
    return self._charge(acct, self._index_now()) > acct.deposit


@external
@view
def rent_rate() -> uint256:
    """
    @notice The rent in force, in TSL base units per kWh per day.
    @return uint256 The 32-byte rate.
    """
    return self._clock & _MASK64


@external
@view
def rent_index() -> uint256:
    """
    @notice The rent index now: the integral of rent_rate over time
            (TSL base units per kWh per day x seconds), mod 2**128.
    @return uint256 The 32-byte index.
    """
    return self._index_now()


@external
@view
def stored_of(account: address) -> uint256:
    """
    @notice Energy `account` keeps in the battery (free + escrowed), the rent base.
    @param account The 20-byte account.
    @return uint256 The 32-byte energy in Wh.
    """
    acct: Account = self._load(account)
    return acct.balance + acct.escrowed


@external
@view
def rent_accrued(account: address) -> uint256:
    """
    @notice Rent accrued since `account` was last charged (not yet charged).
    @param account The 20-byte account.
    @return uint256 The 32-byte TSL amount in base units.
    """
    acct: Account = self._load(account)
    return self._charge(acct, self._index_now())


@external
@view
def rent_deposit(account: address) -> uint256:
    """
    @notice Unspent TSL deposit of `account` as if charged now.
    @param account The 20-byte account.
    @return uint256 The 32-byte TSL amount in base units.
    """
    acct: Account = self._load(account)
    owed: uint256 = self._charge(acct, self._index_now())
    return acct.deposit - min(owed, acct.deposit)


@external
@view
def rent_due(account: address) -> uint256:
    """
    @notice Rent `account` owes now that its deposit does not cover
            (recorded arrears plus any uncovered accrual).
    @param account The 20-byte account.
    @return uint256 The 32-byte TSL amount in base units.
    """
    acct: Account = self._load(account)
    owed: uint256 = self._charge(acct, self._index_now())
    return acct.arrears + owed - min(owed, acct.deposit)


@external
@view
def arrears_of(account: address) -> (uint256, uint256):
    """
    @notice Recorded arrears of `account` and when they began.
    @param account The 20-byte account.
    @return arrears The 32-byte TSL base units, since The 32-byte timestamp (0 if none).
    """
    acct: Account = self._load(account)
    return acct.arrears, acct.arrears_since


@external
@view
def storage_paid_until(account: address) -> uint256:
    """
    @notice Until when `account`'s deposit pays for what it stores, at the
            current rate: max uint256 when it stores nothing or rent is
            zero; a time in the past when it is in arrears.
    @param account The 20-byte account.
    @return uint256 The 32-byte timestamp.
    """
    acct: Account = self._load(account)
    stored: uint256 = acct.balance + acct.escrowed
    rate: uint256 = self._clock & _MASK64
    if stored == 0 or rate == 0:
        return max_value(uint256)
    if acct.arrears != 0:
        return acct.arrears_since
    owed: uint256 = self._charge(acct, self._index_now())
    # stored * rate TSL base units per RENT_DENOMINATOR seconds
    burn_rate: uint256 = stored * rate
    if owed > acct.deposit:
        # ran dry since the last touch: when it did
        return block.timestamp - min(block.timestamp, (owed - acct.deposit) * RENT_DENOMINATOR // burn_rate)
    return block.timestamp + (acct.deposit - owed) * RENT_DENOMINATOR // burn_rate


# ================================================================ INTERNAL


@internal
@view
def _index_now() -> uint256:
    clock: uint256 = self._clock
    rate: uint256 = clock & _MASK64
    updated_at: uint256 = (clock >> 64) & _MASK64
    # rate < 2**64 and elapsed < 2**64: the product fits; the index is kept mod 2**128
    return (unsafe_add(clock >> 128, unsafe_mul(rate, unsafe_sub(block.timestamp, updated_at)))) & _MASK128


@internal
@view
def _charge(acct: Account, index_now: uint256) -> uint256:
    """
    @dev Rent owed since the account's snapshot, rounded up to the next base unit.
    """
    stored: uint256 = acct.balance + acct.escrowed
    if stored == 0:
        return 0
    # snapshots are kept mod 2**96: the wrapped difference is exact (see @custom:security)
    delta: uint256 = unsafe_sub(index_now, acct.snapshot) & _MASK96
    # stored < 2**57 and delta < 2**96: no overflow
    return unsafe_div(unsafe_add(unsafe_mul(stored, delta), RENT_DENOMINATOR - 1), RENT_DENOMINATOR)


@internal
def _settled(account: address) -> Account:
    """
    @dev Loads `account` and charges its accrued rent: from the deposit as
         far as it goes, the rest as arrears. Returns the updated (unsaved) account.
         An account that stores energy writes the revenue slot (it pays from
         a deposit) or, in `_save`, its side word (it has none) even when
         nothing accrued since its last touch in the same block: a call then
         costs what it costs a second or an hour later, give or take the
         `RentCharged` event, so gas estimates made right after a touch hold.
    """
    acct: Account = self._load(account)
    index_now: uint256 = self._index_now()
    owed: uint256 = self._charge(acct, index_now)
    acct.snapshot = index_now & _MASK96
    if acct.balance + acct.escrowed == 0:
        # nothing stored: nothing owed, now or later
        return acct
    paid: uint256 = min(owed, acct.deposit)
    if acct.deposit != 0:
        acct.deposit = unsafe_sub(acct.deposit, paid)
        # revenue + 1 <= TSL held by this contract: no overflow
        self._revenue = unsafe_add(self._revenue, paid)
    unpaid: uint256 = unsafe_sub(owed, paid)
    if unpaid != 0:
        if acct.arrears == 0:
            acct.arrears_since = block.timestamp
        acct.arrears += unpaid
    if owed != 0:
        log RentCharged(account=account, paid=paid, unpaid=unpaid)
    return acct


@internal
@view
def _load(account: address) -> Account:
    word: uint256 = self._acct[account]
    acct: Account = Account(
        balance=word & _MASK56,
        deposit=(word >> _SHIFT_DEPOSIT) & _MASK96,
        snapshot=word >> _SHIFT_SNAPSHOT,
        escrowed=0,
        arrears=0,
        arrears_since=0,
        had_side=(word & (_FLAG_ARREARS | _FLAG_ESCROW)) != 0,
        side_written=(word & _FLAG_SIDE) != 0,
    )
    if acct.had_side:
        side: uint256 = self._side[account]
        acct.escrowed = side & _MASK64
        acct.arrears = (side >> 64) & _MASK127
        acct.arrears_since = side >> 192
    return acct


@internal
def _save(account: address, acct: Account):
    """
    @dev Writes the account word, and the side word when it carries or
         carried escrow or arrears, or stores energy without a deposit (it
         falls into arrears the next second). The side word is first
         written (with its sentinel bit) when the account first stores
         WATT, and never written back to zero: whether a later call (a
         deposit running dry, an escrow ending) writes a zero or a non-zero
         slot never depends on elapsed time, so gas estimates hold while
         rent accrues.
    """
    flags: uint256 = 0
    if acct.arrears != 0:
        flags |= _FLAG_ARREARS
    if acct.escrowed != 0:
        flags |= _FLAG_ESCROW
    assert acct.arrears <= MAX_ARREARS, "watt: arrears overflow"
    stores: bool = acct.balance + acct.escrowed != 0
    if flags != 0 or acct.had_side or (stores and (not acct.side_written or acct.deposit == 0)):
        self._side[account] = acct.escrowed | (acct.arrears << 64) | _SIDE_SENTINEL | (acct.arrears_since << 192)
        flags |= _FLAG_SIDE
    elif acct.side_written:
        flags |= _FLAG_SIDE
    self._acct[account] = (
        acct.balance | flags | (acct.deposit << _SHIFT_DEPOSIT) | (acct.snapshot << _SHIFT_SNAPSHOT)
    )


@internal
def _deposit_rent(account: address, amount: uint256):
    assert amount != 0, "watt: zero amount"
    acct: Account = self._settled(account)
    arrears_paid: uint256 = min(amount, acct.arrears)
    acct.arrears = unsafe_sub(acct.arrears, arrears_paid)
    if acct.arrears == 0:
        acct.arrears_since = 0
    acct.deposit += unsafe_sub(amount, arrears_paid)
    assert acct.deposit <= MAX_DEPOSIT, "watt: deposit too large"
    if arrears_paid != 0:
        self._revenue += arrears_paid
    self._save(account, acct)
    log RentDeposited(account=account, amount=amount, arrears_paid=arrears_paid)
    assert extcall TSL.transferFrom(account, self, amount, default_return_value=True), "watt: tsl transfer failed"


@internal
@view
def _check_rent_rate(rent_rate_: uint256):
    assert rent_rate_ <= MAX_RENT_RATE, "watt: rent rate above limit"


@internal
@view
def _check_grace(rent_grace_period_: uint256):
    assert rent_grace_period_ >= MIN_RENT_GRACE_PERIOD_S, "watt: grace period below limit"


@internal
@view
def _check_release_price(release_price_: uint256):
    assert release_price_ >= MIN_RELEASE_PRICE, "watt: release price below limit"
    assert release_price_ <= RELEASE_PRICE_CAP, "watt: release price too large"
