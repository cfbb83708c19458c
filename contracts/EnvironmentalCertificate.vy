# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Environmental-value certificates (ERC-1155, ERC-1888 style)
@custom:contract-name EnvironmentalCertificate
@license GNU Affero General Public License v3.0 only
@notice One token id per issuance (meter + period), 1 unit = 1 Wh of
        verified renewable generation. The zero-carbon value stays strictly
        paired with metered generation: `issue` takes the meter's certifiable
        Wh from the MeterRegistry, which hands each Wh out exactly once.
        Holders transfer units and finally `claim` (retire) them for a
        beneficiary as proof of zero-carbon consumption.
        Non-standard functions: `issue`, `claim`, `claim_batch`, `revoke`,
        `set_base_uri`; views `certificate`, `claimed_balance_of`,
        `claimed_of`, `issued_wh_of`, `next_id`, `CLAIM_WINDOW`.
@custom:security Revocation and expiry are enforced on every transfer (single
        and batch) and every claim: a revoked or expired id cannot move or be
        claimed. Units expire `CLAIM_WINDOW` seconds after their period ends;
        the window is fixed per deployment (as the 12-month rule for
        Guarantees of Origin is), so no id's expiry ever moves. Periods are
        half-open (period_start, period_end] and never overlap for one meter
        (the registry resets them at each issuance). Period times are stored
        in 40 bits: the constructor checks that the registry's
        `MAX_TIMESTAMP` plus the claim window fits them, so every period and
        expiry reads back exactly.
        All state-changing entry points are non-reentrant; receiver hooks
        run last.
"""

from ethereum.ercs import IERC165

from .interfaces import IMeterRegistry

# @dev Operator role: revocation, claim window, metadata base URI.
from snekmate.auth import ownable

initializes: ownable

# @dev Audited ERC-1155 core: balances, approvals, receiver hooks, ERC-165.
from snekmate.tokens import erc1155

initializes: erc1155[ownable := ownable]

from snekmate.tokens.interfaces import IERC1155

exports: (
    erc1155.supportsInterface,
    erc1155.balanceOf,
    erc1155.balanceOfBatch,
    erc1155.setApprovalForAll,
    erc1155.isApprovedForAll,
    erc1155.total_supply,
    erc1155.exists,
    erc1155.owner,
    erc1155.transfer_ownership,
)


struct CertificateData:
    meter: address
    generator: address
    generator_name: String[64]
    method: uint8
    period_start: uint64
    period_end: uint64
    amount_wh: uint256
    issued_at: uint64
    expires_at: uint64
    revoked: bool
    outstanding_wh: uint256
    claimed_wh: uint256


# ---------------------------------------------------------------- CONSTANTS

_MAX_BATCH: constant(uint256) = 128
_MASK40: constant(uint256) = 2**40 - 1
_MASK56: constant(uint256) = 2**56 - 1
_MASK160: constant(uint256) = 2**160 - 1
# the largest Wh one certificate can carry (72 TWh; a meter's 48-bit deltas accrue far below it)
MAX_AMOUNT_WH: constant(uint256) = 2**56 - 1

# ---------------------------------------------------------------- IMMUTABLES

# @dev The registry that proves and hands out certifiable generation.
REGISTRY: public(immutable(IMeterRegistry))

# @dev Seconds after its period's end during which a certificate can be claimed.
CLAIM_WINDOW: public(immutable(uint256))

# ---------------------------------------------------------------- STORAGE

# @dev Metadata URI template; clients replace `{id}` with the id as 64 hex digits (ERC-1155).
base_uri: public(String[128])

# @dev The id the next issuance gets (ids start at 1).
next_id: public(uint256)

# @dev Beneficiary => id => Wh claimed (retired) for it.
claimed_balance_of: public(HashMap[address, HashMap[uint256, uint256]])

# @dev Id => meter (160) | method << 160 (8) | revoked << 168 (8) | period_end << 176 (40) | issued_at << 216 (40).
# Everything a transfer or claim checks (revoked, expiry) sits in this one word.
_cert_a: HashMap[uint256, uint256]

# @dev Id => generator (160) | period_start << 160 (40) | amount_wh << 200 (56).
_cert_b: HashMap[uint256, uint256]

# ---------------------------------------------------------------- EVENTS


event CertificateIssued:
    id: indexed(uint256)
    meter: indexed(address)
    generator: indexed(address)
    method: uint8
    period_start: uint64
    period_end: uint64
    amount_wh: uint256


event Claimed:
    claimer: indexed(address)
    beneficiary: indexed(address)
    id: indexed(uint256)
    amount: uint256
    purpose: String[128]


event Revoked:
    id: indexed(uint256)
    reason: String[128]


event UpdateBaseUri:
    base_uri: String[128]


@deploy
def __init__(registry_: IMeterRegistry, claim_window_: uint256, base_uri_: String[128]):
    """
    @dev The deployer becomes the operator.
    @param registry_ The 20-byte MeterRegistry.
    @param claim_window_ The 32-byte claim window in seconds (365 days for GoO-like rules).
    @param base_uri_ The up-to-128-character metadata URI template with `{id}`.
    """
    ownable.__init__()
    erc1155.__init__("")
    assert claim_window_ != 0 and claim_window_ <= 2**32, "certificate: bad claim window"
    # bounds agree across contracts: every period end the registry can hand out, plus
    # the claim window, fits the 40-bit period fields (expiry = period_end + window)
    assert (
        convert(staticcall registry_.MAX_TIMESTAMP(), uint256) + claim_window_ <= _MASK40
    ), "certificate: registry timestamps exceed 40 bits"
    REGISTRY = registry_
    CLAIM_WINDOW = claim_window_
    self.base_uri = base_uri_
    self.next_id = 1
    log UpdateBaseUri(base_uri=base_uri_)


# ================================================================ ISSUANCE


@external
@nonreentrant
def issue(meter: address) -> uint256:
    """
    @notice Certifies all generation of `meter` credited since its last
            issuance under a new id and mints it (1 unit = 1 Wh) to the
            meter's owner. Callable by the owner or the operator.
    @param meter The 20-byte meter address.
    @return uint256 The 32-byte new certificate id.
    """
    wh: uint256 = 0
    start: uint64 = 0
    end: uint64 = 0
    owner: address = empty(address)
    method: uint8 = 0
    wh, start, end, owner, method = extcall REGISTRY.take_certifiable(meter)
    assert owner != empty(address), "certificate: unknown meter"
    assert msg.sender == owner or msg.sender == ownable.owner, "certificate: caller is not owner or operator"
    assert wh != 0, "certificate: nothing to issue"
    assert wh <= MAX_AMOUNT_WH, "certificate: amount too large"

    id: uint256 = self.next_id
    self.next_id = id + 1
    self._cert_a[id] = (
        convert(meter, uint256)
        | (convert(method, uint256) << 160)
        | (convert(end, uint256) << 176)
        | ((block.timestamp & _MASK40) << 216)
    )
    self._cert_b[id] = convert(owner, uint256) | (convert(start, uint256) << 160) | (wh << 200)
    log CertificateIssued(
        id=id, meter=meter, generator=owner, method=method, period_start=start, period_end=end, amount_wh=wh
    )
    # mints last: the receiver hook of a contract owner runs after all effects
    erc1155._safe_mint(owner, id, wh, b"")
    return id


# ================================================================ TRANSFERS


@external
@nonreentrant
def safeTransferFrom(owner: address, to: address, id: uint256, amount: uint256, data: Bytes[1_024]):
    """
    @notice ERC-1155 transfer; reverts for a revoked or expired id.
    @param owner The 20-byte holder.
    @param to The 20-byte receiver.
    @param id The 32-byte certificate id.
    @param amount The 32-byte amount in Wh.
    @param data Up to 1,024 bytes passed to the receiver hook.
    """
    assert owner == msg.sender or erc1155.isApprovedForAll[owner][msg.sender], "erc1155: caller is not token owner or approved"
    self._check_movable(id)
    self._transfer_single(owner, to, id, amount, data)


@external
@nonreentrant
def safeBatchTransferFrom(
    owner: address,
    to: address,
    ids: DynArray[uint256, _MAX_BATCH],
    amounts: DynArray[uint256, _MAX_BATCH],
    data: Bytes[1_024],
):
    """
    @notice ERC-1155 batch transfer; reverts if any id is revoked or expired.
    @param owner The 20-byte holder.
    @param to The 20-byte receiver.
    @param ids Up to 128 certificate ids.
    @param amounts Up to 128 amounts in Wh, one per id.
    @param data Up to 1,024 bytes passed to the receiver hook.
    """
    assert owner == msg.sender or erc1155.isApprovedForAll[owner][msg.sender], "erc1155: caller is not token owner or approved"
    for id: uint256 in ids:
        self._check_movable(id)
    erc1155._safe_batch_transfer_from(owner, to, ids, amounts, data)


# ================================================================ CLAIMS


@external
@nonreentrant
def claim(id: uint256, amount: uint256, beneficiary: address, purpose: String[128]):
    """
    @notice Retires `amount` Wh of certificate `id` from the caller's balance
            for `beneficiary`: the units are burned and recorded as claimed.
    @param id The 32-byte certificate id.
    @param amount The 32-byte amount in Wh.
    @param beneficiary The 20-byte consumer the zero-carbon claim is for.
    @param purpose Up to 128 characters, e.g. "2026 electricity, site Nord".
    """
    self._claim(id, amount, beneficiary, purpose)


@external
@nonreentrant
def claim_batch(
    ids: DynArray[uint256, _MAX_BATCH],
    amounts: DynArray[uint256, _MAX_BATCH],
    beneficiary: address,
    purpose: String[128],
):
    """
    @notice `claim` for several ids at once, all for one beneficiary.
    @param ids Up to 128 certificate ids.
    @param amounts Up to 128 amounts in Wh, one per id.
    @param beneficiary The 20-byte consumer the claims are for.
    @param purpose Up to 128 characters.
    """
    assert len(ids) == len(amounts), "certificate: ids and amounts length mismatch"
    for i: uint256 in range(len(ids), bound=_MAX_BATCH):
        self._claim(ids[i], amounts[i], beneficiary, purpose)


# ================================================================ OPERATOR


@external
def revoke(id: uint256, reason: String[128]):
    """
    @notice Revokes certificate `id` (operator only), for generation later
            found fraudulent: its units can no longer move or be claimed.
            Units claimed before stay claimed.
    @param id The 32-byte certificate id.
    @param reason Up to 128 characters.
    """
    ownable._check_owner()
    word: uint256 = self._cert_a[id]
    assert word != 0, "certificate: unknown id"
    assert (word >> 168) & 255 == 0, "certificate: already revoked"
    self._cert_a[id] = word | (1 << 168)
    log Revoked(id=id, reason=reason)


@external
def set_base_uri(base_uri_: String[128]):
    """
    @notice Sets the metadata URI template (operator only).
    @param base_uri_ Up to 128 characters containing `{id}`.
    """
    ownable._check_owner()
    self.base_uri = base_uri_
    log UpdateBaseUri(base_uri=base_uri_)


# ================================================================ VIEWS


@external
@view
def uri(id: uint256) -> String[128]:
    """
    @notice ERC-1155 metadata URI template: replace `{id}` with `id` as 64
            lowercase hex digits. The JSON carries generator, method, period,
            amount and status (see scripts/certificates.py metadata).
    @param id The 32-byte certificate id.
    @return String The URI template.
    """
    return self.base_uri


@external
@view
def certificate(id: uint256) -> CertificateData:
    """
    @notice Everything recorded for certificate `id` and its status now.
    @param id The 32-byte certificate id.
    @return CertificateData Meter, generator and name, method, period,
            issued Wh, issue and expiry times, revoked flag, outstanding and
            claimed Wh.
    """
    a: uint256 = self._cert_a[id]
    assert a != 0, "certificate: unknown id"
    b: uint256 = self._cert_b[id]
    meter: address = convert(convert(a & _MASK160, uint160), address)
    issued: uint256 = b >> 200
    outstanding: uint256 = erc1155.total_supply[id]
    end: uint256 = (a >> 176) & _MASK40
    return CertificateData(
        meter=meter,
        generator=convert(convert(b & _MASK160, uint160), address),
        generator_name=staticcall REGISTRY.meter_name(meter),
        method=convert((a >> 160) & 255, uint8),
        period_start=convert((b >> 160) & _MASK40, uint64),
        period_end=convert(end, uint64),
        amount_wh=issued,
        issued_at=convert(a >> 216, uint64),
        expires_at=convert(end + CLAIM_WINDOW, uint64),
        revoked=(a >> 168) & 255 != 0,
        outstanding_wh=outstanding,
        claimed_wh=issued - outstanding,
    )


@external
@view
def issued_wh_of(id: uint256) -> uint256:
    """
    @notice Wh issued under `id` (0 for an unknown id).
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte amount in Wh.
    """
    return self._cert_b[id] >> 200


@external
@view
def trade_info(id: uint256) -> (uint8, uint64, bool, uint64):
    """
    @notice What a market needs of `id` in one storage read: its generation
            method, period end (s), revoked flag and expiry (s; units move
            and claim while block time <= it). All zero for an unknown id.
    @param id The 32-byte certificate id.
    @return method, period_end, revoked, expires_at
    """
    a: uint256 = self._cert_a[id]
    if a == 0:
        return 0, 0, False, 0
    end: uint256 = (a >> 176) & _MASK40
    return convert((a >> 160) & 255, uint8), convert(end, uint64), (a >> 168) & 255 != 0, convert(end + CLAIM_WINDOW, uint64)


@external
@view
def claimed_of(id: uint256) -> uint256:
    """
    @notice Wh of `id` claimed so far by anyone (issued minus outstanding).
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte amount in Wh.
    """
    return (self._cert_b[id] >> 200) - erc1155.total_supply[id]


# ================================================================ INTERNAL


@internal
@view
def _check_movable(id: uint256):
    a: uint256 = self._cert_a[id]
    assert (a >> 168) & 255 == 0, "certificate: revoked"
    assert a == 0 or block.timestamp <= ((a >> 176) & _MASK40) + CLAIM_WINDOW, "certificate: expired"


@internal
def _transfer_single(owner: address, to: address, id: uint256, amount: uint256, data: Bytes[1_024]):
    """
    @dev snekmate's `_safe_transfer_from` without its before/after hooks,
         which do nothing for a transfer (they only track supply on mint and
         burn) but build two 128-slot singleton arrays each, ~2,300 gas of
         memory expansion. Same checks, reason strings, event and hook.
    """
    assert to != empty(address), "erc1155: transfer to the zero address"
    owner_balance: uint256 = erc1155.balanceOf[owner][id]
    assert owner_balance >= amount, "erc1155: insufficient balance for transfer"
    erc1155.balanceOf[owner][id] = unsafe_sub(owner_balance, amount)
    # balances of one id sum to its total supply, which `_safe_mint` checks: no overflow
    erc1155.balanceOf[to][id] = unsafe_add(erc1155.balanceOf[to][id], amount)
    log IERC1155.TransferSingle(_operator=msg.sender, _from=owner, _to=to, _id=id, _value=amount)
    assert erc1155._check_on_erc1155_received(
        owner, to, id, amount, data
    ), "erc1155: transfer to non-IERC1155Receiver implementer"


@internal
def _claim(id: uint256, amount: uint256, beneficiary: address, purpose: String[128]):
    assert amount != 0, "certificate: zero amount"
    assert beneficiary != empty(address), "certificate: zero beneficiary"
    a: uint256 = self._cert_a[id]
    assert a != 0, "certificate: unknown id"
    self._check_movable(id)
    assert erc1155.balanceOf[msg.sender][id] >= amount, "certificate: claim exceeds balance"
    erc1155._burn(msg.sender, id, amount)
    self.claimed_balance_of[beneficiary][id] += amount
    log Claimed(claimer=msg.sender, beneficiary=beneficiary, id=id, amount=amount, purpose=purpose)
