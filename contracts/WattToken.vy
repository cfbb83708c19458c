# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title WATT: energy stored in the community's shared battery, with storage rent
@custom:contract-name WattToken
@license GNU Affero General Public License v3.0 only
@notice ERC-20 + EIP-2612, 1 WATT = 1 kWh, `decimals = 3`: one base unit is
        exactly 1 Wh. Holding WATT costs storage rent in TSL.
        Non-standard functions:
        - `credit_flows` (MeterRegistry only): mints exported Wh up to the
          battery's free capacity, burns imported Wh from the free balance.
        - rent: `deposit_rent`, `deposit_rent_with_permit`, `withdraw_rent`,
          `release_unpaid`, `settle_rent`, `claim_rent_revenue`; views
          `rent_due`, `rent_deposit`, `rent_accrued`, `storage_paid_until`,
          `arrears_of`, `in_arrears`, `stored_of`, `rent_index`.
        - market escrow (the registered exchange or auction only): `escrow`,
          `release_escrow`, `sell` (a taker ask's fills and escrow in one
          call), `settle_escrow` (a taker bid's fills and closed asks in one
          call); view `escrowed_of`.
        - operator: `set_registry`, `set_exchange`, `set_auction` (once
          each, at deploy),
          `set_treasury`; announced changes (`announce_*`, then `apply_*`
          after `NOTICE_S`) of `rent_rate`, `rent_grace_period`,
          `release_price` and `capacity_wh`, each within limits fixed at
          deploy (`MAX_RENT_RATE`, `MIN_RENT_GRACE_PERIOD_S`,
          `MIN_RELEASE_PRICE`, `MIN_CAPACITY_WH`, `MAX_CAPACITY_WH`);
          view `pending_change(param)`.
@custom:security The concerns live in modules: `storage_rent` (the account
        ledger with rent accrual, deposits, arrears and the three rent
        parameters: the rent formula, rounding, bounds and the gas-estimate
        sentinels are documented there), `watt_escrow` (escrow of asks,
        the two registered markets only) and `notice`; this contract is the ERC-20
        surface, the battery (supply, capacity, registry flows) and
        `release_unpaid`.
        Arrears: what a deposit cannot pay is recorded as arrears; an
        account in arrears cannot transfer WATT, escrow it for sale or have
        its escrow delivered (the exchange closes its asks instead of
        filling them, see `in_arrears`), but can receive, deposit TSL, and
        its imports still burn. After `rent_grace_period` anyone may
        `release_unpaid` it; when its free balance does not cover the
        arrears, its asks on both markets are closed first (each market's
        `close_asks_of`, bounded by that market's own per-account cap: 64
        on the exchange) and the escrow burns too.
        Operator bounds: every parameter that can cost members value changes
        only after an announcement and `NOTICE_S` seconds, and only within
        limits fixed at deploy.
        Ledger. Balances live in one packed word per account with the
        account's rent state (`storage_rent`: one storage slot per touch),
        so snekmate's `erc20` (which keeps balances of its own) is not
        used: allowances, `permit` and nonces are written here, on
        snekmate's `eip712_domain_separator` and `ecdsa`, with `erc20`'s
        revert reasons (`erc20: ...`). `transfer_ownership` moves the
        operator role only (there is no minter role: only the registry
        mints, through `credit_flows`).
"""

from ethereum.ercs import IERC20

implements: IERC20

from ethereum.ercs import IERC20Detailed

implements: IERC20Detailed

from snekmate.tokens.interfaces import IERC20Permit

implements: IERC20Permit

from snekmate.utils.interfaces import IERC5267

implements: IERC5267

from .interfaces import IWattLedger

implements: IWattLedger

from .interfaces import IWattEscrow

implements: IWattEscrow

# @dev The market side of the escrow seam: closes an account's asks on release (exchange and auction).
from .interfaces import IAskBook

# @dev Operator role for wiring, capacity and rent parameters.
from snekmate.auth import ownable

initializes: ownable

# @dev Recovers `permit` signers (rejects malleable high-s signatures).
from snekmate.utils import ecdsa

# @dev The EIP-712 domain of `permit` ("gridmint WATT", "1") and EIP-5267 `eip712Domain`.
from snekmate.utils import eip712_domain_separator

initializes: eip712_domain_separator

# @dev Announce-then-apply after NOTICE_S for value-costing parameters.
from .modules import notice

initializes: notice

# @dev The account ledger with storage rent: balances, deposits, arrears, the rent parameters.
from .modules import storage_rent

initializes: storage_rent[ownable := ownable, notice := notice]

# @dev Escrow of WATT in the sell orders of the exchange and the auction.
from .modules import watt_escrow

initializes: watt_escrow[ownable := ownable, storage_rent := storage_rent]

exports: (
    ownable.owner,
    notice.pending_change,
    notice.NOTICE_S,
    eip712_domain_separator.eip712Domain,
    # ---- rent
    storage_rent.deposit_rent,
    storage_rent.deposit_rent_with_permit,
    storage_rent.withdraw_rent,
    storage_rent.settle_rent,
    storage_rent.claim_rent_revenue,
    storage_rent.set_treasury,
    storage_rent.announce_rent_rate,
    storage_rent.apply_rent_rate,
    storage_rent.announce_rent_grace_period,
    storage_rent.apply_rent_grace_period,
    storage_rent.announce_release_price,
    storage_rent.apply_release_price,
    storage_rent.rent_revenue,
    storage_rent.in_arrears,
    storage_rent.rent_rate,
    storage_rent.rent_index,
    storage_rent.stored_of,
    storage_rent.rent_accrued,
    storage_rent.rent_deposit,
    storage_rent.rent_due,
    storage_rent.arrears_of,
    storage_rent.storage_paid_until,
    storage_rent.treasury,
    storage_rent.rent_grace_period,
    storage_rent.release_price,
    storage_rent.TSL,
    storage_rent.MAX_RENT_RATE,
    storage_rent.MIN_RENT_GRACE_PERIOD_S,
    storage_rent.MIN_RELEASE_PRICE,
    storage_rent.PARAM_RENT_RATE,
    storage_rent.PARAM_RENT_GRACE_PERIOD,
    storage_rent.PARAM_RELEASE_PRICE,
    # ---- exchange escrow
    watt_escrow.escrow,
    watt_escrow.release_escrow,
    watt_escrow.sell,
    watt_escrow.settle_escrow,
    watt_escrow.set_exchange,
    watt_escrow.set_auction,
    watt_escrow.escrowed_of,
    watt_escrow.exchange,
    watt_escrow.auction,
)

# ---------------------------------------------------------------- CONSTANTS

MAX_BALANCE_WH: constant(uint256) = 2**56 - 1

# parameter id of the announced capacity change (see `pending_change`); the rent ones are 1..3
PARAM_CAPACITY: public(constant(uint256)) = 4

# the EIP-2612 permit type hash
_PERMIT_TYPE_HASH: constant(bytes32) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)

# ---------------------------------------------------------------- IMMUTABLES

# @dev The token's name.
name: public(constant(String[25])) = "Watt-hour storage"

# @dev The token's symbol.
symbol: public(constant(String[5])) = "WATT"

# @dev Decimal places: 3, so one base unit is one Wh.
decimals: public(constant(uint8)) = 3

# @dev Smallest `capacity_wh` an announcement may set, Wh.
MIN_CAPACITY_WH: public(immutable(uint256))

# @dev Largest `capacity_wh` an announcement may set, Wh (< 2**56).
MAX_CAPACITY_WH: public(immutable(uint256))

# ---------------------------------------------------------------- STORAGE

# @dev The battery's usable size in Wh; bounds totalSupply.
capacity_wh: public(uint256)

# @dev Free balances + escrow of all accounts, in Wh.
totalSupply: public(uint256)

# @dev The MeterRegistry: the only address that may call `credit_flows`.
registry: public(address)

# @dev Owner => spender => Wh the spender may move with `transferFrom` (max uint: unlimited).
allowance: public(HashMap[address, HashMap[address, uint256]])

# @dev Owner => the nonce its next `permit` signature must carry.
nonces: public(HashMap[address, uint256])

# ---------------------------------------------------------------- EVENTS


event StorageReleased:
    account: indexed(address)
    wh: uint256
    tsl: uint256


event UpdateRegistry:
    registry: indexed(address)


event UpdateCapacity:
    capacity_wh: uint256


event UpdateCapacityAnnounced:
    capacity_wh: uint256
    effective_at: uint256


@deploy
def __init__(
    capacity_wh_: uint256,
    tsl_: IERC20,
    rent_rate_: uint256,
    rent_grace_period_: uint256,
    release_price_: uint256,
    max_rent_rate_: uint256,
    min_rent_grace_period_s_: uint256,
    min_release_price_: uint256,
    min_capacity_wh_: uint256,
    max_capacity_wh_: uint256,
    notice_s_: uint256,
):
    """
    @dev The deployer becomes the operator and the treasury. The limits
         are immutable: no later call can widen them.
    @param capacity_wh_ The 32-byte battery capacity in Wh, within the capacity limits.
    @param tsl_ The 20-byte TSL token.
    @param rent_rate_ The 32-byte rent in TSL base units per kWh per day, <= `max_rent_rate_`.
    @param rent_grace_period_ The 32-byte grace in seconds before release, >= `min_rent_grace_period_s_`.
    @param release_price_ The 32-byte TSL base units per kWh credited on release, >= `min_release_price_`.
    @param max_rent_rate_ The 32-byte highest rent rate ever allowed, TSL base units per kWh per day (< 2**64).
    @param min_rent_grace_period_s_ The 32-byte shortest grace period ever allowed, seconds.
    @param min_release_price_ The 32-byte lowest release price ever allowed, TSL base units per kWh (>= 1).
    @param min_capacity_wh_ The 32-byte smallest capacity ever allowed, Wh.
    @param max_capacity_wh_ The 32-byte largest capacity ever allowed, Wh (< 2**56).
    @param notice_s_ The 32-byte seconds between announcing a change and applying it.
    """
    ownable.__init__()
    eip712_domain_separator.__init__("gridmint WATT", "1")
    notice.__init__(notice_s_)
    storage_rent.__init__(
        tsl_, rent_rate_, rent_grace_period_, release_price_, max_rent_rate_, min_rent_grace_period_s_, min_release_price_
    )
    assert min_capacity_wh_ <= max_capacity_wh_ and max_capacity_wh_ <= MAX_BALANCE_WH, "watt: bad capacity limits"
    MIN_CAPACITY_WH = min_capacity_wh_
    MAX_CAPACITY_WH = max_capacity_wh_
    self._check_capacity(capacity_wh_)
    self.capacity_wh = capacity_wh_
    log UpdateCapacity(capacity_wh=capacity_wh_)
    storage_rent._log_initial()


# ================================================================ ERC-20


@external
@view
def balanceOf(account: address) -> uint256:
    """
    @notice Free WATT of `account` in Wh (escrow excluded, see `escrowed_of`).
    @param account The 20-byte account.
    @return uint256 The 32-byte balance in Wh.
    """
    return storage_rent._acct[account] & MAX_BALANCE_WH


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` Wh to `to`, settling both sides' rent first.
            Reverts while the sender is in arrears.
    @param to The 20-byte receiver.
    @param amount The 32-byte amount in Wh.
    @return bool Always true.
    """
    self._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` Wh from `owner` to `to` using the caller's allowance.
    @param owner The 20-byte owner.
    @param to The 20-byte receiver.
    @param amount The 32-byte amount in Wh.
    @return bool Always true.
    """
    self._spend_allowance(owner, msg.sender, amount)
    self._transfer(owner, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Lets `spender` move up to `amount` Wh of the caller's WATT with
            `transferFrom` (max uint: unlimited, never decreased).
    @param spender The 20-byte spender.
    @param amount The 32-byte allowance in Wh.
    @return bool Always true.
    """
    self._approve(msg.sender, spender, amount)
    return True


@external
def permit(owner: address, spender: address, amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @notice EIP-2612: sets `spender`'s allowance over `owner`'s WATT from
            `owner`'s EIP-712 signature over (owner, spender, value, nonce,
            deadline) in the domain ("gridmint WATT", "1", chain id, this
            contract); low-s signatures only.
    @param owner The 20-byte owner (the signer).
    @param spender The 20-byte spender.
    @param amount The 32-byte allowance in Wh.
    @param deadline The 32-byte last timestamp (s) the signature is valid.
    @param v The 1-byte secp256k1 signature recovery id.
    @param r The 32-byte secp256k1 signature r.
    @param s The 32-byte secp256k1 signature s.
    """
    assert block.timestamp <= deadline, "erc20: expired deadline"
    current_nonce: uint256 = self.nonces[owner]
    self.nonces[owner] = unsafe_add(current_nonce, 1)
    struct_hash: bytes32 = keccak256(abi_encode(_PERMIT_TYPE_HASH, owner, spender, amount, current_nonce, deadline))
    hash: bytes32 = eip712_domain_separator._hash_typed_data_v4(struct_hash)
    signer: address = ecdsa._recover_vrs(hash, convert(v, uint256), convert(r, uint256), convert(s, uint256))
    assert signer == owner, "erc20: invalid signature"
    self._approve(owner, spender, amount)


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice The EIP-712 domain separator of `permit` on this chain.
    @return bytes32 The 32-byte separator.
    """
    return eip712_domain_separator._domain_separator_v4()


@external
def transfer_ownership(new_owner: address):
    """
    @notice Hands the operator role to `new_owner` (operator only).
    @param new_owner The 20-byte new operator, not the zero address.
    """
    ownable._check_owner()
    assert new_owner != empty(address), "erc20: new owner is the zero address"
    ownable._transfer_ownership(new_owner)


# ================================================================ REGISTRY


@external
def credit_flows(owner: address, export_wh: uint256, import_wh: uint256) -> (uint256, uint256):
    """
    @notice Applies one accepted reading's battery flows to `owner` after
            settling its rent: first mints the exported Wh up to the free
            capacity, then burns imported Wh from the free balance (also in
            arrears). The registry reports what is not covered.
    @param owner The 20-byte meter owner.
    @param export_wh The 32-byte exported delta in Wh.
    @param import_wh The 32-byte imported delta in Wh.
    @return minted The 32-byte Wh minted, burned The 32-byte Wh burned.
    """
    assert msg.sender == self.registry, "watt: caller is not the registry"
    acct: storage_rent.Account = storage_rent._settled(owner)
    supply: uint256 = self.totalSupply
    # capacity_wh >= totalSupply after every call: no underflow
    minted: uint256 = min(export_wh, unsafe_sub(self.capacity_wh, supply))
    # balance <= supply <= capacity < 2**56
    acct.balance = unsafe_add(acct.balance, minted)
    burned: uint256 = min(import_wh, acct.balance)
    acct.balance = unsafe_sub(acct.balance, burned)
    self.totalSupply = unsafe_sub(unsafe_add(supply, minted), burned)
    storage_rent._save(owner, acct)
    if minted != 0:
        log IERC20.Transfer(sender=empty(address), receiver=owner, value=minted)
    if burned != 0:
        log IERC20.Transfer(sender=owner, receiver=empty(address), value=burned)
    return minted, burned


# ================================================================ RELEASE


@external
def release_unpaid(account: address) -> uint256:
    """
    @notice Anyone may call once `account` has been in arrears longer than
            `rent_grace_period`: burns just enough of its WATT to settle the
            arrears at `release_price` (rounded up to whole Wh; the
            overshoot, below one Wh's price, is forgiven), or all of it if
            that is not enough. The free balance goes first; when it does
            not cover the arrears, all of the account's open asks on both
            markets are closed (`OrderClosed` reason 7 on the exchange, at
            most 64 asks there; the auction's own per-account cap bounds
            its part) and their escrow burns too, so no escrow is kept in
            the battery rent-free.
    @param account The 20-byte account in arrears.
    @return uint256 The 32-byte Wh released (burned).
    """
    acct: storage_rent.Account = storage_rent._settled(account)
    assert acct.arrears != 0, "watt: no arrears"
    assert block.timestamp >= acct.arrears_since + storage_rent.rent_grace_period, "watt: grace period not over"
    price: uint256 = storage_rent.release_price
    # arrears < 2**127 and price <= 2**128: no overflow
    needed_wh: uint256 = (acct.arrears * 1000 + price - 1) // price
    unescrowed: uint256 = 0
    if needed_wh > acct.balance and acct.escrowed != 0:
        # every Wh in escrow backs one of the account's open asks: all of them close below
        unescrowed = acct.escrowed
        acct.escrowed = 0
        # balance + escrow <= totalSupply < 2**56
        acct.balance = unsafe_add(acct.balance, unescrowed)
    wh: uint256 = min(needed_wh, acct.balance)
    assert wh != 0, "watt: nothing to release"
    settled: uint256 = min(acct.arrears, wh * price // 1000)
    if wh == needed_wh:
        settled = acct.arrears
    acct.balance = unsafe_sub(acct.balance, wh)
    acct.arrears = unsafe_sub(acct.arrears, settled)
    if acct.arrears == 0:
        acct.arrears_since = 0
    self.totalSupply -= wh
    storage_rent._save(account, acct)
    if unescrowed != 0:
        log watt_escrow.EscrowReleased(account=account, wh=unescrowed)
    log IERC20.Transfer(sender=account, receiver=empty(address), value=wh)
    log StorageReleased(account=account, wh=wh, tsl=settled)
    if unescrowed != 0:
        # the registered markets, wired once at deploy; neither calls back
        closed: uint256 = 0
        if watt_escrow.exchange != empty(address):
            closed = extcall IAskBook(watt_escrow.exchange).close_asks_of(account)
        if watt_escrow.auction != empty(address):
            closed += extcall IAskBook(watt_escrow.auction).close_asks_of(account)
        assert closed == unescrowed, "watt: escrow out of sync with asks"
    return wh


# ================================================================ OPERATOR


@external
def set_registry(registry_: address):
    """
    @notice Wires the MeterRegistry, the only minter. Callable once.
    @param registry_ The 20-byte MeterRegistry address.
    """
    ownable._check_owner()
    assert self.registry == empty(address), "watt: registry already set"
    assert registry_ != empty(address), "watt: zero registry"
    self.registry = registry_
    log UpdateRegistry(registry=registry_)


@external
def announce_capacity_wh(capacity_wh_: uint256):
    """
    @notice Announces a new battery capacity (operator only); it may apply
            `NOTICE_S` seconds from now. Bounds: `MIN_CAPACITY_WH` <=
            capacity <= `MAX_CAPACITY_WH`; when applied it must not be below
            the energy stored then.
    @param capacity_wh_ The 32-byte new capacity in Wh.
    """
    ownable._check_owner()
    self._check_capacity(capacity_wh_)
    log UpdateCapacityAnnounced(capacity_wh=capacity_wh_, effective_at=notice._announce(PARAM_CAPACITY, capacity_wh_))


@external
def apply_capacity_wh():
    """
    @notice Applies the announced capacity once its notice is over (operator only).
    """
    ownable._check_owner()
    capacity_wh_: uint256 = notice._take(PARAM_CAPACITY)
    assert capacity_wh_ >= self.totalSupply, "watt: capacity below supply"
    self.capacity_wh = capacity_wh_
    log UpdateCapacity(capacity_wh=capacity_wh_)


# ================================================================ VIEWS


@external
@view
def free_capacity_wh() -> uint256:
    """
    @notice Wh the battery can still take.
    @return uint256 The 32-byte free capacity in Wh.
    """
    return unsafe_sub(self.capacity_wh, self.totalSupply)


# ================================================================ INTERNAL


@internal
def _transfer(owner: address, to: address, amount: uint256):
    assert to != empty(address), "watt: transfer to the zero address"
    src: storage_rent.Account = storage_rent._settled(owner)
    assert src.arrears == 0, "watt: account in arrears"
    assert src.balance >= amount, "watt: transfer amount exceeds balance"
    src.balance = unsafe_sub(src.balance, amount)
    if owner == to:
        src.balance = unsafe_add(src.balance, amount)
        storage_rent._save(owner, src)
    else:
        storage_rent._save(owner, src)
        dst: storage_rent.Account = storage_rent._settled(to)
        # dst.balance + amount <= totalSupply < 2**56
        dst.balance = unsafe_add(dst.balance, amount)
        storage_rent._save(to, dst)
    log IERC20.Transfer(sender=owner, receiver=to, value=amount)


@internal
def _approve(owner: address, spender: address, amount: uint256):
    assert owner != empty(address), "erc20: approve from the zero address"
    assert spender != empty(address), "erc20: approve to the zero address"
    self.allowance[owner][spender] = amount
    log IERC20.Approval(owner=owner, spender=spender, value=amount)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    current_allowance: uint256 = self.allowance[owner][spender]
    if current_allowance < max_value(uint256):
        assert current_allowance >= amount, "erc20: insufficient allowance"
        self._approve(owner, spender, unsafe_sub(current_allowance, amount))


@internal
@view
def _check_capacity(capacity_wh_: uint256):
    assert capacity_wh_ >= MIN_CAPACITY_WH, "watt: capacity below limit"
    assert capacity_wh_ <= MAX_CAPACITY_WH, "watt: capacity above limit"
