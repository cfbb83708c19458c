# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Environmental-value certificates per slot (ERC-1155, ERC-1888 style)
@custom:contract-name EnvironmentalCertificate
@license GNU Affero General Public License v3.0 only
@notice One token id per issuance (meter + period within one UTC calendar
        month, its vintage), 1 unit = 1 Wh of verified renewable generation.
        The zero-carbon value stays strictly paired with metered generation:
        `issue` takes the meter's certifiable Wh from the MeterRegistry,
        which hands each Wh out exactly once.
        Per-slot profile: the owner issuing gives the Wh of every settlement
        slot (contracts/modules/slots.vy; 30 min by default) the period
        covers, packed 8 slots of 32 bits (31 used) per word anchored at
        absolute slot numbers (word k holds slots 8k..8k+7, lane j = bits
        32j..32j+31). The profile must sum to the certified Wh exactly; a
        period spanning months is split into one certificate per month along
        it, so no certificate's period crosses a month. The contract keeps a
        200-bit commitment to the unclaimed Wh of every slot
        (`profile_commitment`): a time-matched claim (`claim_slots`) shows
        the current unclaimed words, which must match it, and names the Wh
        per slot it retires; no slot is ever claimed beyond its generation,
        across all holders. A plain claim names no slot (an annual-volume
        claim): units bound the total, so for invariant 9 it always fits the
        earliest slots left unclaimed by time-matched claims.
        A slot's Wh is provable against the meter's signed readings: the
        generated register of its signed reading at the slot's end minus the
        one at its start (readings committed per slot in the ReadingLog, or
        the ReadingAccepted deltas where every reading is credited);
        gridmint-audit recomputes every profile, claim and commitment.
        A pending period too long for one profile is issued a part at a
        time (`issue(meter, profile, until)`, e.g. one month per call):
        the registry hands over the part's Wh and keeps the rest
        certifiable.
        Discharge certificates (issue 26): the StorageLedger mints, through
        `issue_storage`, the green share of a member's draws from the shared
        battery as a certificate of method 6 ("storage") for one day, with
        its per-slot profile: a class of its own on the certificate market,
        claimed like any other (plain or time-matched).
        Non-standard functions: `issue`, `issue_storage`, `claim`, `claim_batch`,
        `claim_slots`, `revoke`, `set_base_uri`, `set_storage_ledger`; views `certificate`,
        `claimed_balance_of`, `claimed_of`, `issued_wh_of`, `next_id`,
        `trade_info`, `slots_of`, `vintage`, `month_of`,
        `profile_commitment`, `total_supply`, `exists`, `CLAIM_WINDOW`,
        `SLOT_S`.
@custom:security Only the meter's owner issues (the operator cannot split a
        member's generation into unsellable fragments). Revocation and
        expiry are enforced on every transfer (single and batch) and every
        claim: a revoked or expired id cannot move or be claimed. One expiry
        rule everywhere: units are live while `block.timestamp < expires_at`
        (`expires_at = period_end + CLAIM_WINDOW`); the window is fixed per
        deployment (as the 12-month rule for Guarantees of Origin is), so no
        id's expiry ever moves. Periods are half-open (period_start,
        period_end] and never overlap for one meter (the registry resets
        them at each issuance); a reading's Wh belong to the slot of its
        last second (`(t - 1) // SLOT_S`). Period times are stored in 40
        bits: the constructor checks that the registry's `MAX_TIMESTAMP`
        plus the claim window fits them, so every period and expiry reads
        back exactly. Concurrent time-matched claims on one id race on the
        commitment: the later one reverts "certificate: stale unclaimed
        profile" and is retried with the new words.
        How the certified Wh spread over slots, and so over the parts of a
        long period and their vintages, is the owner's statement: the chain
        bounds only the total (issued + pending = credited); gridmint-audit
        checks every slot and every part against the credited readings.
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

# @dev The one settlement-slot boundary (the profile's slot length).
from .modules import slots

initializes: slots

# @dev UTC calendar months (the vintage and the month bounds of a period).
from .modules import cert_months

exports: (
    erc1155.supportsInterface,
    erc1155.balanceOf,
    erc1155.balanceOfBatch,
    erc1155.setApprovalForAll,
    erc1155.isApprovedForAll,
    erc1155.owner,
    erc1155.transfer_ownership,
    slots.SLOT_S,
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
_MASK32: constant(uint256) = 2**32 - 1
_MASK40: constant(uint256) = 2**40 - 1
_MASK56: constant(uint256) = 2**56 - 1
# the largest Wh one certificate can carry (72 TWh; a meter's 48-bit deltas accrue far below it)
MAX_AMOUNT_WH: constant(uint256) = 2**56 - 1
# profile words: 8 slots per word, 32-bit lanes whose top bit stays clear (a guard for borrow-free subtraction)
SLOTS_PER_WORD: public(constant(uint256)) = 8
_LANE_BITS: constant(uint256) = 32
# the most Wh one slot can carry (2.1 GWh in a slot: far above any meter's rated power)
MAX_SLOT_WH: public(constant(uint256)) = 2**31 - 1
_GUARD: constant(uint256) = 57_896_044_632_138_071_048_499_363_270_101_552_670_898_295_023_844_613_168_406_440_321_120_011_812_864  # bit 31 of every 32-bit lane
_LOW32_OF_64: constant(uint256) = 26_959_946_660_873_538_060_741_835_960_174_461_801_791_452_538_186_943_042_387_869_433_855  # the low 32 bits of every 64-bit lane
_LOW64_OF_128: constant(uint256) = 6_277_101_735_386_680_763_495_507_056_286_727_952_657_427_581_105_975_853_055  # the low 64 bits of both 128-bit halves
# a profile covers at most 400 words: 3,200 slots, 66 days of 30-minute slots (33 of 15-minute ones)
MAX_PROFILE_WORDS: public(constant(uint256)) = 400
# a discharge certificate covers at most a week: 7 days of 12 profile words (96 slots of 15 minutes)
_MAX_STORAGE_WORDS: constant(uint256) = 84
# the method of a discharge certificate (green energy drawn from the battery; 1..5 are generation)
METHOD_STORAGE: public(constant(uint8)) = 6
# a profile spans at most 4 calendar months
_MAX_MONTHS: constant(uint256) = 4
# the low 56 bits of the commitment word count the Wh claimed; the top 200 bits commit to the unclaimed profile
_CLAIMED_BITS: constant(uint256) = 56
# the commitment field of a certificate issued without a profile (a real hash's top 200 bits are never 1 in practice)
_UNPROFILED: constant(uint256) = 1
_SHIFT_METHOD: constant(uint256) = 32
_SHIFT_REVOKED: constant(uint256) = 40
_SHIFT_START: constant(uint256) = 48
_SHIFT_END: constant(uint256) = 88
_SHIFT_ISSUED: constant(uint256) = 128
_SHIFT_AMOUNT: constant(uint256) = 168

# ---------------------------------------------------------------- IMMUTABLES

# @dev The registry that proves and hands out certifiable generation.
REGISTRY: public(immutable(IMeterRegistry))

# @dev Seconds after its period's end during which a certificate can be claimed.
CLAIM_WINDOW: public(immutable(uint256))

# ---------------------------------------------------------------- STORAGE

# @dev Metadata URI template; clients replace `{id}` with the id as 64 hex digits (ERC-1155).
base_uri: public(String[128])

# @dev The StorageLedger, the only issuer of discharge certificates (set once).
storage_ledger: public(address)

# @dev The id the next issuance gets (ids start at 1).
next_id: public(uint256)

# @dev Beneficiary => id => Wh claimed (retired) for it.
claimed_balance_of: public(HashMap[address, HashMap[uint256, uint256]])

# @dev Id => meter index (32) | method << 32 (8) | revoked << 40 (8) | period_start << 48 (40)
# | period_end << 88 (40) | issued_at << 128 (40) | amount_wh << 168 (56). Everything a transfer
# or claim checks (revoked, expiry) sits in this one word.
_cert_a: HashMap[uint256, uint256]

# @dev Id => Wh claimed (56) | top 200 bits of the hash chain of its unclaimed profile words << 56
# (1 << 56 for a certificate issued without a profile). Replaces snekmate's total_supply:
# outstanding = issued - claimed.
_cert_c: HashMap[uint256, uint256]

# @dev Meter => its index (32, from 1) | generator << 32 (160), written at its first issuance:
# the meter and generator addresses live once per meter, not once per certificate.
_meter_entry: HashMap[address, uint256]

# @dev Meter index => meter address.
_meter_at: HashMap[uint256, address]

# @dev Meters that have had a certificate.
_meter_count: uint256

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


event ClaimedSlots:
    claimer: indexed(address)
    beneficiary: indexed(address)
    id: indexed(uint256)
    amount: uint256
    purpose: String[128]
    first_slot: uint256
    slot_wh: DynArray[uint256, MAX_PROFILE_WORDS]


event CertificateProfile:
    id: indexed(uint256)
    first_slot: uint256
    slot_wh: DynArray[uint256, MAX_PROFILE_WORDS]


event Revoked:
    id: indexed(uint256)
    reason: String[128]


event UpdateBaseUri:
    base_uri: String[128]


event UpdateStorageLedger:
    storage_ledger: indexed(address)


@deploy
def __init__(registry_: IMeterRegistry, claim_window_: uint256, base_uri_: String[128], slot_s_: uint256):
    """
    @dev The deployer becomes the operator.
    @param registry_ The 20-byte MeterRegistry.
    @param claim_window_ The 32-byte claim window in seconds (365 days for GoO-like rules).
    @param base_uri_ The up-to-128-character metadata URI template with `{id}`.
    @param slot_s_ The 32-byte slot length in seconds (1,800 or 900), the profile's resolution.
    """
    ownable.__init__()
    erc1155.__init__("")
    slots.__init__(slot_s_)
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
def issue(
    meter: address, profile: DynArray[uint256, MAX_PROFILE_WORDS] = [], until: uint64 = 0
) -> uint256:
    """
    @notice Certifies the generation of `meter` credited since its last
            issuance (all of it, or with `until` its first part) and mints
            it (1 unit = 1 Wh) to the meter's owner, one new id per calendar
            month the period touches. Only the meter's owner issues, so
            nobody else can split its generation.
    @dev Without a profile the period must lie within one month and the
         certificate takes plain claims only. A period too long for one
         profile (over `MAX_PROFILE_WORDS` words or `_MAX_MONTHS` months:
         a member who has not issued for over 66 days of 30-minute slots)
         is issued a part at a time: `until` = the part's end, e.g.
         midnight of the 1st to issue the oldest month. The registry hands
         over the part's Wh, the profile's sum (`take_certifiable_part`),
         and keeps the rest certifiable over (until, period_end]; like every
         slot value, the auditor checks it against the credited readings
         stamped in the part. A part whose profile is all zero (a month
         with no generation) moves the period's start and mints nothing.
    @param meter The 20-byte meter address.
    @param profile The Wh of every slot of the period (start, end], end =
           the registry's period end, or `until` for a part: packed 8 slots
           per 32-byte word (32-bit lanes, top bit clear), word 0 holding
           slot `8 * (first_slot // 8)` where first_slot = start // SLOT_S
           and the last slot is (end - 1) // SLOT_S; lanes outside the
           period are zero; it sums to the certified Wh. Empty for none
           (not with `until`).
    @param until The 8-byte end (s) of a first part: 0 for the whole
           pending period, else a slot boundary (a multiple of SLOT_S)
           strictly inside it.
    @return uint256 The 32-byte id of the first new certificate (a period
            over several months mints consecutive ids); 0 if a part carried
            no Wh.
    """
    wh: uint256 = 0
    start64: uint64 = 0
    end64: uint64 = 0
    owner: address = empty(address)
    method: uint8 = 0
    if until == 0:
        wh, start64, end64, owner, method = extcall REGISTRY.take_certifiable(meter)
        assert owner != empty(address), "certificate: unknown meter"
        assert wh != 0, "certificate: nothing to issue"
    else:
        assert convert(until, uint256) % slots.SLOT_S == 0, "certificate: until is not a slot boundary"
        assert len(profile) != 0, "certificate: a part needs its profile"
        part: uint256 = 0
        for w: uint256 in profile:
            assert w & _GUARD == 0, "certificate: slot amount too large"
            part += (w & _LOW32_OF_64) + ((w >> 32) & _LOW32_OF_64)
        wh, start64, end64, owner, method = extcall REGISTRY.take_certifiable_part(
            meter, self._fold(part), until
        )
        assert owner != empty(address), "certificate: unknown meter"
        assert end64 != 0, "certificate: nothing to issue"
    assert msg.sender == owner, "certificate: caller is not the meter owner"
    assert wh <= MAX_AMOUNT_WH, "certificate: amount too large"
    start: uint256 = convert(start64, uint256)
    end: uint256 = convert(end64, uint256)
    # the registry's period is (start, end] with start < end: its slots are start // S .. (end - 1) // S
    first_slot: uint256 = start // slots.SLOT_S
    last_slot: uint256 = (end - 1) // slots.SLOT_S
    first_id: uint256 = self.next_id
    id: uint256 = first_id
    amounts: DynArray[uint256, _MAX_MONTHS] = []
    meter_index: uint256 = self._meter_index(meter, owner)

    if len(profile) == 0:
        month_end: uint256 = 0
        _yyyymm: uint256 = 0
        _month_start: uint256 = 0
        _yyyymm, _month_start, month_end = cert_months._month_of(first_slot * slots.SLOT_S)
        assert end <= month_end, "certificate: period spans two months; issue with a profile"
        self._record(id, meter_index, meter, owner, method, start, end, wh, _UNPROFILED)
        amounts.append(wh)
        id += 1
    else:
        first_word: uint256 = first_slot // SLOTS_PER_WORD
        assert len(profile) == last_slot // SLOTS_PER_WORD - first_word + 1, "certificate: profile does not cover the period"
        # lanes before the first slot and after the last one are zero
        assert profile[0] & ((1 << (_LANE_BITS * (first_slot % SLOTS_PER_WORD))) - 1) == 0, "certificate: profile outside the period"
        assert profile[len(profile) - 1] >> (_LANE_BITS * (last_slot % SLOTS_PER_WORD + 1)) == 0, "certificate: profile outside the period"
        total: uint256 = 0
        piece_start: uint256 = start
        word: uint256 = 0  # index into `profile` of the piece's first word
        for _m: uint256 in range(_MAX_MONTHS):
            month_end: uint256 = 0
            _yyyymm: uint256 = 0
            _month_start: uint256 = 0
            # the piece's first slot is piece_start // S (piece_start is a month start after the first piece)
            _yyyymm, _month_start, month_end = cert_months._month_of((piece_start // slots.SLOT_S) * slots.SLOT_S)
            piece_end: uint256 = min(end, month_end)
            # months start at midnight, a multiple of 8 slots: pieces split between words
            past_word: uint256 = ((piece_end - 1) // slots.SLOT_S) // SLOTS_PER_WORD - first_word + 1
            # lane sums: even and odd lanes in 64-bit containers (at most 400 values below 2**31 each: no carry out)
            lanes: uint256 = 0
            link: bytes32 = convert(id, bytes32)
            for j: uint256 in range(word, past_word, bound=MAX_PROFILE_WORDS):
                w: uint256 = profile[j]
                assert w & _GUARD == 0, "certificate: slot amount too large"
                lanes += (w & _LOW32_OF_64) + ((w >> 32) & _LOW32_OF_64)
                link = keccak256(concat(link, convert(w, bytes32)))
            piece_wh: uint256 = self._fold(lanes)
            if piece_wh != 0:
                self._record(id, meter_index, meter, owner, method, piece_start, piece_end, piece_wh, convert(link, uint256) >> _CLAIMED_BITS)
                if word == 0 and past_word == len(profile):
                    log CertificateProfile(id=id, first_slot=first_word * SLOTS_PER_WORD, slot_wh=profile)
                else:
                    log CertificateProfile(id=id, first_slot=(first_word + word) * SLOTS_PER_WORD, slot_wh=self._words(profile, word, past_word))
                amounts.append(piece_wh)
                id += 1
            total += piece_wh
            if piece_end == end:
                break
            assert _m + 1 < _MAX_MONTHS, "certificate: profile spans too many months"
            piece_start = month_end
            word = past_word
        assert total == wh, "certificate: profile does not sum to the certified Wh"
    self.next_id = id
    if len(amounts) == 0:
        return 0

    # mints last: the receiver hook of a contract owner runs after all effects
    for k: uint256 in range(len(amounts), bound=_MAX_MONTHS):
        assert erc1155._check_on_erc1155_received(
            empty(address), owner, first_id + k, amounts[k], b""
        ), "erc1155: transfer to non-IERC1155Receiver implementer"
    return first_id


@external
@nonreentrant
def issue_storage(
    meter: address, owner: address, period_start: uint64, period_end: uint64, profile: DynArray[uint256, _MAX_STORAGE_WORDS]
) -> uint256:
    """
    @notice Mints a discharge certificate (method 6) to `owner` for the green
            Wh `meter` drew from the battery over (period_start, period_end]
            (storage ledger only; the ledger computed the profile).
    @dev The StorageLedger (a system contract, wired once) always passes
         whole UTC days, (first day * 86,400, (last day + 1) * 86,400], at
         most 7, inside one month, and their words, which start at the first
         day's first slot (a multiple of 8), with a non-zero sum: this
         contract trusts that layout as it trusts the registry's Wh, and
         keeps only the lane guard (EIP-170: the Paris build stays under
         24,576 bytes).
    @param meter The 20-byte meter that drew the energy.
    @param owner The 20-byte meter owner, who receives the units.
    @param period_start The 8-byte start (s) of the period (exclusive): a midnight.
    @param period_end The 8-byte end (s): a later midnight of the same month.
    @param profile The green Wh per slot of those days, packed as `issue`'s profile (6 or 12 words a day).
    @return uint256 The 32-byte new id.
    """
    assert msg.sender == self.storage_ledger, "certificate: caller is not the storage ledger"
    start: uint256 = convert(period_start, uint256)
    end: uint256 = convert(period_end, uint256)
    id: uint256 = self.next_id
    lanes: uint256 = 0
    link: bytes32 = convert(id, bytes32)
    for w: uint256 in profile:
        assert w & _GUARD == 0, "certificate: slot amount too large"
        lanes += (w & _LOW32_OF_64) + ((w >> 32) & _LOW32_OF_64)
        link = keccak256(concat(link, convert(w, bytes32)))
    wh: uint256 = self._fold(lanes)
    self.next_id = id + 1
    self._record(id, self._meter_index(meter, owner), meter, owner, METHOD_STORAGE, start, end, wh, convert(link, uint256) >> _CLAIMED_BITS)
    log CertificateProfile(id=id, first_slot=start // slots.SLOT_S, slot_wh=profile)
    # mints last: the receiver hook of a contract owner runs after all effects
    assert erc1155._check_on_erc1155_received(
        empty(address), owner, id, wh, b""
    ), "erc1155: transfer to non-IERC1155Receiver implementer"
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


@external
@nonreentrant
def claim_slots(
    id: uint256,
    unclaimed: DynArray[uint256, MAX_PROFILE_WORDS],
    first_word: uint256,
    slot_wh: DynArray[uint256, MAX_PROFILE_WORDS],
    beneficiary: address,
    purpose: String[128],
):
    """
    @notice A time-matched claim: retires, from the caller's balance, the Wh
            `slot_wh` names for each slot of certificate `id`, for
            `beneficiary`. No slot is claimed beyond what it has left.
    @param id The 32-byte certificate id (issued with a profile).
    @param unclaimed The certificate's unclaimed Wh per slot now, every word
           of its profile (as issued, minus every time-matched claim; from
           the CertificateProfile and ClaimedSlots events): it must match
           the on-chain commitment.
    @param first_word The 32-byte index, into the certificate's words, of
           the first word `slot_wh` covers.
    @param slot_wh The Wh to claim per slot, packed as the profile is
           (8 lanes of 32 bits, top bit clear), for words first_word..
    @param beneficiary The 20-byte consumer the zero-carbon claim is for.
    @param purpose Up to 128 characters, e.g. "site Nord, 24/7".
    """
    assert beneficiary != empty(address), "certificate: zero beneficiary"
    a: uint256 = self._cert_a[id]
    assert a != 0, "certificate: unknown id"
    self._check_movable(id)
    c: uint256 = self._cert_c[id]
    assert c >> _CLAIMED_BITS > _UNPROFILED, "certificate: no profile"
    first: uint256 = 0
    last: uint256 = 0
    first, last = self._slot_range(a)
    base_word: uint256 = first // SLOTS_PER_WORD
    n: uint256 = last // SLOTS_PER_WORD - base_word + 1
    assert len(unclaimed) == n, "certificate: unclaimed does not cover the profile"
    assert first_word + len(slot_wh) <= n, "certificate: slots outside the profile"
    old_chain: bytes32 = convert(id, bytes32)
    new_chain: bytes32 = old_chain
    lanes: uint256 = 0
    for j: uint256 in range(n, bound=MAX_PROFILE_WORDS):
        r: uint256 = unclaimed[j]
        old_chain = keccak256(concat(old_chain, convert(r, bytes32)))
        if j >= first_word and j < first_word + len(slot_wh):
            x: uint256 = slot_wh[j - first_word]
            assert x & _GUARD == 0, "certificate: slot amount too large"
            # lanes are below 2**31 with the guard bit set on `r`: a lane whose claim
            # exceeds what is left clears its guard bit, and no borrow crosses lanes
            d: uint256 = unsafe_sub(r | _GUARD, x)
            assert d & _GUARD == _GUARD, "certificate: slot claim exceeds its generation"
            r = d & ~_GUARD
            lanes += (x & _LOW32_OF_64) + ((x >> 32) & _LOW32_OF_64)
        new_chain = keccak256(concat(new_chain, convert(r, bytes32)))
    assert convert(old_chain, uint256) >> _CLAIMED_BITS == c >> _CLAIMED_BITS, "certificate: stale unclaimed profile"
    amount: uint256 = self._fold(lanes)
    assert amount != 0, "certificate: zero amount"
    claimed: uint256 = self._burn_claimed(id, amount, beneficiary)
    self._cert_c[id] = ((convert(new_chain, uint256) >> _CLAIMED_BITS) << _CLAIMED_BITS) | claimed
    log ClaimedSlots(
        claimer=msg.sender,
        beneficiary=beneficiary,
        id=id,
        amount=amount,
        purpose=purpose,
        first_slot=(base_word + first_word) * SLOTS_PER_WORD,
        slot_wh=slot_wh,
    )


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
    assert (word >> _SHIFT_REVOKED) & 255 == 0, "certificate: already revoked"
    self._cert_a[id] = word | (1 << _SHIFT_REVOKED)
    log Revoked(id=id, reason=reason)


@external
def set_storage_ledger(storage_ledger_: address):
    """
    @notice Wires the StorageLedger, the only issuer of discharge
            certificates (operator only; once, at deploy).
    @param storage_ledger_ The 20-byte StorageLedger address.
    """
    ownable._check_owner()
    assert self.storage_ledger == empty(address), "certificate: storage ledger already set"
    assert storage_ledger_ != empty(address), "certificate: zero storage ledger"
    self.storage_ledger = storage_ledger_
    log UpdateStorageLedger(storage_ledger=storage_ledger_)


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
    meter: address = self._meter_at[a & _MASK32]
    issued: uint256 = a >> _SHIFT_AMOUNT
    claimed: uint256 = self._cert_c[id] & _MASK56
    end: uint256 = (a >> _SHIFT_END) & _MASK40
    return CertificateData(
        meter=meter,
        generator=convert(convert(self._meter_entry[meter] >> 32, uint160), address),
        generator_name=staticcall REGISTRY.meter_name(meter),
        method=convert((a >> _SHIFT_METHOD) & 255, uint8),
        period_start=convert((a >> _SHIFT_START) & _MASK40, uint64),
        period_end=convert(end, uint64),
        amount_wh=issued,
        issued_at=convert((a >> _SHIFT_ISSUED) & _MASK40, uint64),
        expires_at=convert(end + CLAIM_WINDOW, uint64),
        revoked=(a >> _SHIFT_REVOKED) & 255 != 0,
        outstanding_wh=issued - claimed,
        claimed_wh=claimed,
    )


@external
@view
def issued_wh_of(id: uint256) -> uint256:
    """
    @notice Wh issued under `id` (0 for an unknown id).
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte amount in Wh.
    """
    return self._cert_a[id] >> _SHIFT_AMOUNT


@external
@view
def trade_info(id: uint256) -> (uint8, uint64, bool, uint64):
    """
    @notice What a market needs of `id` in one storage read: its generation
            method, vintage (YYYYMM: the month of `period_end - 1`, as
            `vintage`; a period ending at midnight of the 1st belongs to the
            month before), revoked flag and expiry (s; units move and claim
            while `block.timestamp < expires_at`, the one expiry rule). All
            zero for an unknown id. The market keeps no calendar of its own.
    @param id The 32-byte certificate id.
    @return method, vintage, revoked, expires_at
    """
    a: uint256 = self._cert_a[id]
    if a == 0:
        return 0, 0, False, 0
    end: uint256 = (a >> _SHIFT_END) & _MASK40
    yyyymm: uint256 = 0
    _s: uint256 = 0
    _e: uint256 = 0
    yyyymm, _s, _e = cert_months._month_of(end - 1)
    return (
        convert((a >> _SHIFT_METHOD) & 255, uint8),
        convert(yyyymm, uint64),
        (a >> _SHIFT_REVOKED) & 255 != 0,
        convert(end + CLAIM_WINDOW, uint64),
    )


@external
@view
def claimed_of(id: uint256) -> uint256:
    """
    @notice Wh of `id` claimed so far by anyone (issued minus outstanding).
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte amount in Wh.
    """
    return self._cert_c[id] & _MASK56


@external
@view
def total_supply(id: uint256) -> uint256:
    """
    @notice Outstanding (issued, not claimed) Wh of `id`: ERC-1155 supply.
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte amount in Wh.
    """
    return (self._cert_a[id] >> _SHIFT_AMOUNT) - (self._cert_c[id] & _MASK56)


@external
@view
def exists(id: uint256) -> bool:
    """
    @notice Whether `id` has outstanding units.
    @param id The 32-byte certificate id.
    @return bool True if its supply is non-zero.
    """
    return (self._cert_a[id] >> _SHIFT_AMOUNT) != (self._cert_c[id] & _MASK56)


@external
@view
def slots_of(id: uint256) -> (uint256, uint256, bool):
    """
    @notice The slots certificate `id` covers and whether it has a profile.
    @param id The 32-byte certificate id.
    @return first_slot, last_slot The 32-byte slot numbers (slot k is
            [k * SLOT_S, (k + 1) * SLOT_S)), profiled True if issued with a
            per-slot profile (time-matched claims possible).
    """
    a: uint256 = self._cert_a[id]
    assert a != 0, "certificate: unknown id"
    first: uint256 = 0
    last: uint256 = 0
    first, last = self._slot_range(a)
    return first, last, self._cert_c[id] >> _CLAIMED_BITS > _UNPROFILED


@external
@view
def profile_commitment(id: uint256) -> uint256:
    """
    @notice The commitment to the unclaimed Wh per slot of `id`: the top
            200 bits of the hash chain h = bytes32(id), h = keccak256(h ++
            word) over its unclaimed profile words (the low 56 bits zero);
            0 for a certificate without a profile.
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte commitment.
    """
    commitment: uint256 = self._cert_c[id] >> _CLAIMED_BITS
    if commitment <= _UNPROFILED:
        return 0
    return commitment << _CLAIMED_BITS


@external
@view
def vintage(id: uint256) -> uint256:
    """
    @notice The vintage of `id`: the UTC calendar month (YYYYMM) that holds
            its whole period, i.e. the month of its last slot.
    @param id The 32-byte certificate id.
    @return uint256 The 32-byte vintage YYYYMM.
    """
    a: uint256 = self._cert_a[id]
    assert a != 0, "certificate: unknown id"
    yyyymm: uint256 = 0
    _s: uint256 = 0
    _e: uint256 = 0
    yyyymm, _s, _e = cert_months._month_of(((a >> _SHIFT_END) & _MASK40) - 1)
    return yyyymm


@external
@pure
def month_of(timestamp_s: uint256) -> (uint256, uint256, uint256):
    """
    @notice The UTC calendar month holding `timestamp_s`.
    @param timestamp_s The 32-byte time in seconds.
    @return yyyymm, start_s, end_s The month as YYYYMM and its bounds [start, end) in seconds.
    """
    return cert_months._month_of(timestamp_s)


# ================================================================ INTERNAL


@internal
@view
def _check_movable(id: uint256):
    a: uint256 = self._cert_a[id]
    assert (a >> _SHIFT_REVOKED) & 255 == 0, "certificate: revoked"
    # the one expiry rule: live while block.timestamp < expires_at
    assert a == 0 or block.timestamp < ((a >> _SHIFT_END) & _MASK40) + CLAIM_WINDOW, "certificate: expired"


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
    c: uint256 = self._cert_c[id]
    self._cert_c[id] = (c >> _CLAIMED_BITS << _CLAIMED_BITS) | self._burn_claimed(id, amount, beneficiary)
    log Claimed(claimer=msg.sender, beneficiary=beneficiary, id=id, amount=amount, purpose=purpose)


@internal
def _burn_claimed(id: uint256, amount: uint256, beneficiary: address) -> uint256:
    """
    @dev Burns `amount` Wh of `id` from the caller and credits the
         beneficiary; returns the id's new claimed total (the caller writes
         it into `_cert_c`). Claimed <= issued < 2**56: it fits its 56 bits.
    """
    balance: uint256 = erc1155.balanceOf[msg.sender][id]
    assert balance >= amount, "certificate: claim exceeds balance"
    erc1155.balanceOf[msg.sender][id] = unsafe_sub(balance, amount)
    self.claimed_balance_of[beneficiary][id] += amount
    log IERC1155.TransferSingle(_operator=msg.sender, _from=msg.sender, _to=empty(address), _id=id, _value=amount)
    # units of an id sum to issued - claimed, so this never passes the issued Wh
    return (self._cert_c[id] & _MASK56) + amount


@internal
def _record(
    id: uint256, meter_index: uint256, meter: address, owner: address, method: uint8, start: uint256, end: uint256, wh: uint256, commitment: uint256
):
    """
    @dev Records certificate `id` for the period (start, end] with `wh` Wh
         and its profile commitment (`_UNPROFILED` for none), and credits
         the owner (mint without snekmate's supply hooks: the supply is
         issued - claimed).
    """
    self._cert_a[id] = (
        meter_index
        | (convert(method, uint256) << _SHIFT_METHOD)
        | (start << _SHIFT_START)
        | (end << _SHIFT_END)
        | ((block.timestamp & _MASK40) << _SHIFT_ISSUED)
        | (wh << _SHIFT_AMOUNT)
    )
    self._cert_c[id] = commitment << _CLAIMED_BITS
    erc1155.balanceOf[owner][id] = wh
    log CertificateIssued(
        id=id,
        meter=meter,
        generator=owner,
        method=method,
        period_start=convert(start, uint64),
        period_end=convert(end, uint64),
        amount_wh=wh,
    )
    log IERC1155.TransferSingle(_operator=msg.sender, _from=empty(address), _to=owner, _id=id, _value=wh)


@internal
def _meter_index(meter: address, owner: address) -> uint256:
    """
    @dev The meter's index in `_meter_at`, assigned at its first issuance.
         A meter address keeps its owner for life in the registry (a key
         rotation makes a new address), so the generator stored with it
         stays the one the registry names.
    """
    entry: uint256 = self._meter_entry[meter]
    if entry != 0:
        assert convert(convert(entry >> 32, uint160), address) == owner, "certificate: meter owner changed"
        return entry & _MASK32
    index: uint256 = self._meter_count + 1
    assert index <= _MASK32, "certificate: too many meters"
    self._meter_count = index
    self._meter_at[index] = meter
    self._meter_entry[meter] = index | (convert(owner, uint256) << 32)
    return index


@internal
@view
def _slot_range(a: uint256) -> (uint256, uint256):
    """
    @dev The first and last slot of the period (start, end] packed in `a`.
    """
    return ((a >> _SHIFT_START) & _MASK40) // slots.SLOT_S, (((a >> _SHIFT_END) & _MASK40) - 1) // slots.SLOT_S


@internal
@pure
def _fold(lanes: uint256) -> uint256:
    """
    @dev Sum of the four 64-bit containers of `lanes` (each below 2**41:
         the even + odd 32-bit lanes of at most 400 words), pairwise: no
         partial sum reaches the next container.
    """
    x: uint256 = (lanes & _LOW64_OF_128) + ((lanes >> 64) & _LOW64_OF_128)
    return (x & (2**128 - 1)) + (x >> 128)


@internal
@pure
def _words(
    profile: DynArray[uint256, MAX_PROFILE_WORDS], start: uint256, stop: uint256
) -> DynArray[uint256, MAX_PROFILE_WORDS]:
    """
    @dev profile[start:stop].
    """
    out: DynArray[uint256, MAX_PROFILE_WORDS] = []
    for j: uint256 in range(start, stop, bound=MAX_PROFILE_WORDS):
        out.append(profile[j])
    return out
