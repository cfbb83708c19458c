# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Storage ledger: green energy through the shared battery, per slot
@custom:contract-name StorageLedger
@license GNU Affero General Public License v3.0 only
@notice EnergyTag's storage method on chain (docs/rules.md "Green energy
        through the battery"; gridmint/storage_green.py is the reference).
        A settler (a relay the operator appoints, as the ReadingLog's) works
        one UTC day (86,400 s of chain time, `day = t // 86400`) at a time,
        after it has ended:
        1. `record_charges(day, takes)`: per renewable meter, the Wh of its
           certifiable generation that went into the battery that day (the
           sum over the day's slots of min(export minted as WATT, generated
           Wh)); the registry takes them (`MeterRegistry.take_stored`), so
           they can never be issued as generation certificates.
        2. `settle_day(day, charge, need, taken, root)`: per slot, in order,
           the slot's green charge joins the back of the FIFO queue of lots
           (contracts/modules/storage_fifo.vy), then the charge `taken` for
           the slot's discharges leaves from its front. The chain checks
           that the charges sum to the day's takes, and per slot that taken
           <= min(N, C) and (N <= C implies taken == N), N being the slot's
           total need and C the content after its charges. It stores the
           Merkle root of the day's discharge leaves, a commitment to the
           need and cover (min(C, N)) words, and the day's charge taken.
        3. `claim_discharge(meter, day, ...)`: the meter's owner shows the
           meter's discharge per slot (a leaf of the root) and the day's
           words; the chain computes per slot need_m = ceil(d * 1e6 / eta),
           share = need_m if N <= C else floor(need_m * C / N), green =
           min(d, floor(share * eta / 1e6)) and mints one discharge
           certificate (method 6, "storage") of the green profile through
           `EnvironmentalCertificate.issue_storage`. `claim_discharge_days`
           does the same for up to 7 consecutive days of one month in one
           certificate (its fixed cost paid once).
        Per-slot words: 8 lanes of 32 bits per uint256 (lane j = bits
        32j..32j+31, top bit clear: at most 2,147,483,647 Wh per lane), lane
        0 of word 0 = the day's first slot, exactly `WORDS_PER_DAY` words
        (6 for 30-minute slots, 12 for 15-minute ones).
        Leaf: keccak256(abi_encode(DISCHARGE_LEAF_TAG, this ledger, meter,
        day, discharge_words)) with discharge_words a dynamic uint256[]:
        32 * (6 + WORDS_PER_DAY) bytes of preimage, so a leaf is never
        confused with an inner node (64 bytes). Tree: sorted pairs
        (OpenZeppelin `processProof`, gridmint/merkle.py).
        Non-standard functions: `set_settler`, `record_charges`,
        `settle_day`, `claim_discharge`, `claim_discharge_days`; views
        `content_wh`, `lots`, `day_root`, `day_charge`, `day_commitment`,
        `claimed`, `discharge_leaf`, `settled_through`, `day_takes_wh`,
        `settler`, `ETA_PPM`, `SLOT_S`, `SLOTS_PER_DAY`, `WORDS_PER_DAY`,
        `DISCHARGE_LEAF_TAG`, `REGISTRY`, `CERTIFICATE`.
@custom:security Trust model as the ReadingLog's: the settler states the
        per-meter takes, the per-slot aggregates and the leaves; the chain
        runs the FIFO, bounds what it can and never certifies, per day, more
        charge than was taken from generators' certifiable Wh (each claim's
        shares count against the day's taken total; green <= share * eta).
        The auditor (gridmint/audit/storage.py) recomputes every figure from
        the chain's readings with storage_green.py and flags any difference.
        Amounts the settler cannot inflate: a take reduces the generator's
        certifiable Wh one for one (or is owed by its later generation); a
        non-renewable meter cannot be taken from. One claim per (meter,
        day); claims are non-reentrant and mint last.
"""

from .interfaces import IStorageRegistry
from .interfaces import IStorageCertificate

# @dev Operator role: appoints settlers.
from snekmate.auth import ownable

initializes: ownable

# @dev The one slot boundary (slot k = [k * SLOT_S, (k + 1) * SLOT_S)).
from .modules import slots

initializes: slots

# @dev UTC calendar months (a certificate's period stays in one).
from .modules import cert_months

# @dev The FIFO ring of charge lots (the battery's green content).
from .modules import storage_fifo

initializes: storage_fifo

exports: (ownable.owner, ownable.transfer_ownership, slots.SLOT_S)


# ---------------------------------------------------------------- CONSTANTS

# @dev Parts per million (the efficiency's unit).
_PPM: constant(uint256) = 1_000_000
# @dev Seconds in a day of chain time (UTC).
DAY_S: public(constant(uint256)) = 86_400
# @dev The most words of one day's per-slot values (96 slots of 15 minutes).
MAX_DAY_WORDS: public(constant(uint256)) = 12
# @dev The most take words per `record_charges` call.
MAX_TAKES: public(constant(uint256)) = 256
# @dev The most days one `claim_discharge_days` call certifies (within one week).
MAX_CLAIM_DAYS: public(constant(uint256)) = 7
# @dev The most profile words of such a certificate: 7 days of 96 slots.
MAX_CLAIM_WORDS: constant(uint256) = MAX_CLAIM_DAYS * MAX_DAY_WORDS
# @dev The deepest proof accepted: trees of up to 2**32 leaves.
MAX_PROOF_DEPTH: public(constant(uint256)) = 32
# @dev The domain tag that opens every discharge leaf's preimage.
DISCHARGE_LEAF_TAG: public(constant(bytes32)) = keccak256("gridmint.StorageLedger.discharge.v1")

_SLOTS_PER_WORD: constant(uint256) = 8
_LANE_BITS: constant(uint256) = 32
_MASK32: constant(uint256) = 2**32 - 1
_MASK36: constant(uint256) = 2**36 - 1
_MASK160: constant(uint256) = 2**160 - 1
# bit 31 of every 32-bit lane: a lane at or above 2**31 is refused
_GUARD: constant(uint256) = 57_896_044_632_138_071_048_499_363_270_101_552_670_898_295_023_844_613_168_406_440_321_120_011_812_864
# take word: meter | wh << 160, wh in 56 bits
_SHIFT_TAKE_WH: constant(uint256) = 160
_SHIFT_TAKE_END: constant(uint256) = 216
# day word: last charge slot (36) | first charge slot << 36 (36) | claimed charge Wh << 72 (36) | taken Wh
# << 108 (36) | the top 112 bits of the day's commitment << 144
_SHIFT_FIRST: constant(uint256) = 36
_SHIFT_CLAIMED: constant(uint256) = 72
_SHIFT_TAKEN: constant(uint256) = 108
_SHIFT_COMMITMENT: constant(uint256) = 144
# claim word of (meter, day // 96): the meter's owner (160 bits) | bit 160 + day % 96 once claimed
_CLAIM_WINDOW_DAYS: constant(uint256) = 96
_OWNER_BITS: constant(uint256) = 160

# ---------------------------------------------------------------- IMMUTABLES

# @dev The registry that holds generators' certifiable Wh and meter owners.
REGISTRY: public(immutable(IStorageRegistry))

# @dev The certificate contract that mints discharge certificates.
CERTIFICATE: public(immutable(IStorageCertificate))

# @dev The battery's round-trip efficiency in parts per million (1..1,000,000; 900,000 = 0.90).
ETA_PPM: public(immutable(uint256))

# @dev Slots per day: 48 (30-minute slots) or 96 (15-minute ones).
SLOTS_PER_DAY: public(immutable(uint256))

# @dev Words of one day's per-slot values: 6 or 12.
WORDS_PER_DAY: public(immutable(uint256))

# ---------------------------------------------------------------- STORAGE

# @dev Address => may record charges and settle days.
settler: public(HashMap[address, bool])

# @dev The last settled day + 1 (0 before any): the next day settled must be at least this.
settled_through: public(uint256)

# @dev Day => Wh of takes recorded for it, until it is settled.
day_takes_wh: public(HashMap[uint256, uint256])

# @dev Day => Merkle root of its discharge leaves (for views; claims use the day word).
_root: HashMap[uint256, bytes32]

# @dev Day => one word a claim reads and writes: the top 112 bits of keccak256(abi_encode(root,
#      need_words, cover_words)) (non-zero once settled), the day's charge taken and the shares claimed
#      (Wh, below 2**36), the first and last charge slot its takes touched (see `_SHIFT_*`).
_day: HashMap[uint256, uint256]

# @dev Meter => day // 96 => the meter's owner | a bit per day of the window set once claimed. A meter
#      address keeps its owner for life in the registry (a key rotation makes a new address), so the
#      owner read at a window's first claim holds for the window.
_claims: HashMap[address, HashMap[uint256, uint256]]

# ---------------------------------------------------------------- EVENTS

event SettlerSet:
    settler: indexed(address)
    enabled: bool


event ChargeTaken:
    day: indexed(uint256)
    meter: indexed(address)
    wh: uint256


event SlotSettled:
    slot: indexed(uint256)
    charged_wh: uint256
    need_wh: uint256
    taken_wh: uint256
    content_wh: uint256
    first_charge_slot: uint256
    last_charge_slot: uint256


event DaySettled:
    day: indexed(uint256)
    root: bytes32
    charged_wh: uint256
    taken_wh: uint256
    content_wh: uint256


event DischargeCertified:
    id: indexed(uint256)
    meter: indexed(address)
    day: uint256
    green_wh: uint256
    first_charge_slot: uint256
    last_charge_slot: uint256


@deploy
def __init__(registry_: IStorageRegistry, certificate_: IStorageCertificate, eta_ppm_: uint256, slot_s_: uint256):
    """
    @dev The deployer becomes the operator. The registry and the certificate
         contract must name this ledger (`set_storage_ledger`) before the
         first take or claim.
    @param registry_ The 20-byte MeterRegistry.
    @param certificate_ The 20-byte EnvironmentalCertificate.
    @param eta_ppm_ The 32-byte round-trip efficiency in ppm, 1..1,000,000 (immutable).
    @param slot_s_ The 32-byte slot length in seconds: 1,800 or 900 (the certificates' own).
    """
    assert eta_ppm_ != 0 and eta_ppm_ <= _PPM, "storage: bad efficiency"
    ownable.__init__()
    slots.__init__(slot_s_)
    REGISTRY = registry_
    CERTIFICATE = certificate_
    ETA_PPM = eta_ppm_
    SLOTS_PER_DAY = DAY_S // slot_s_
    WORDS_PER_DAY = DAY_S // slot_s_ // _SLOTS_PER_WORD


# ================================================================ OPERATOR


@external
def set_settler(settler_: address, enabled: bool):
    """
    @notice Appoints or dismisses a settler (operator only).
    @param settler_ The 20-byte relay address.
    @param enabled True to appoint, False to dismiss.
    """
    ownable._check_owner()
    assert settler_ != empty(address), "storage: zero settler"
    self.settler[settler_] = enabled
    log SettlerSet(settler=settler_, enabled=enabled)


# ================================================================ SETTLER


@external
def record_charges(day: uint256, takes: DynArray[uint256, MAX_TAKES]):
    """
    @notice Records green charges of `day` (settler only, after the day
            ended, before it is settled; any number of batches): each take
            hands `wh` Wh of the meter's certifiable generation to storage
            (`MeterRegistry.take_stored`); what the meter has not yet
            credited is owed by its next generation.
    @param day The 32-byte day number (t // 86,400).
    @param takes Up to 256 words meter | wh << 160 (wh: Wh, 1..2**56 - 1).
    """
    self._check_settler()
    self._check_open(day)
    total: uint256 = 0
    for word: uint256 in takes:
        assert word >> _SHIFT_TAKE_END == 0, "storage: bad take"
        wh: uint256 = word >> _SHIFT_TAKE_WH
        assert wh != 0, "storage: zero take"
        total += wh
    self.day_takes_wh[day] += total
    # the registry is a trusted system contract; every effect above is written first
    for word: uint256 in takes:
        meter: address = convert(convert(word & _MASK160, uint160), address)
        wh: uint256 = word >> _SHIFT_TAKE_WH
        log ChargeTaken(day=day, meter=meter, wh=wh)
        extcall REGISTRY.take_stored(meter, wh)


@external
def settle_day(
    day: uint256,
    charge_words: DynArray[uint256, MAX_DAY_WORDS],
    need_words: DynArray[uint256, MAX_DAY_WORDS],
    taken_words: DynArray[uint256, MAX_DAY_WORDS],
    root: bytes32,
):
    """
    @notice Settles `day` (settler only): days strictly increasing, each
            once it has ended. Per slot in order: the slot's green charge
            joins the queue, then `taken` Wh leave its front, with taken <=
            min(N, C) and taken == N when N <= C (N the slot's need, C the
            content after its charges).
    @param day The 32-byte day number (t // 86,400), at least `settled_through`.
    @param charge_words The slot's green charge (Wh) per slot, `WORDS_PER_DAY` words:
           they sum to the day's recorded takes.
    @param need_words The slot's total need N (Wh of charge: sum of ceil(d * 1e6 / eta)
           over discharges, release burns included) per slot.
    @param taken_words The slot's charge taken (Wh) per slot.
    @param root The 32-byte Merkle root of the day's discharge leaves (zero: no leaf).
    """
    self._check_settler()
    self._check_open(day)
    n: uint256 = WORDS_PER_DAY
    assert len(charge_words) == n and len(need_words) == n and len(taken_words) == n, "storage: wrong word count"
    state: uint256 = storage_fifo._state()
    cover_words: DynArray[uint256, MAX_DAY_WORDS] = []
    charged_total: uint256 = 0
    taken_total: uint256 = 0
    day_first: uint256 = 0
    day_last: uint256 = 0
    slot: uint256 = day * SLOTS_PER_DAY
    for k: uint256 in range(n, bound=MAX_DAY_WORDS):
        cw: uint256 = charge_words[k]
        nw: uint256 = need_words[k]
        tw: uint256 = taken_words[k]
        assert (cw | nw | tw) & _GUARD == 0, "storage: slot amount too large"
        cover: uint256 = 0
        for j: uint256 in range(_SLOTS_PER_WORD):
            sh: uint256 = j * _LANE_BITS
            charged: uint256 = (cw >> sh) & _MASK32
            need: uint256 = (nw >> sh) & _MASK32
            taken: uint256 = (tw >> sh) & _MASK32
            if charged != 0:
                state = storage_fifo._push(state, slot, charged)
                charged_total += charged
            content: uint256 = storage_fifo._content_of(state)
            assert taken <= min(need, content) and (need > content or taken == need), "storage: taken out of bounds"
            if charged != 0 or need != 0:
                first: uint256 = 0
                last: uint256 = 0
                state, first, last = storage_fifo._take(state, taken)
                if taken != 0:
                    if taken_total == 0:
                        day_first = first
                    day_last = last
                    taken_total += taken
                cover |= min(content, need) << sh
                log SlotSettled(
                    slot=slot,
                    charged_wh=charged,
                    need_wh=need,
                    taken_wh=taken,
                    content_wh=content,
                    first_charge_slot=first,
                    last_charge_slot=last,
                )
            slot += 1
        cover_words.append(cover)
    assert charged_total == self.day_takes_wh[day], "storage: charges do not match the takes"
    # a day's takes are Wh of at most the content: far below 2**36 (68 GWh) for any battery the WATT
    # token allows (10 GWh); slots stay below 2**36 for ~4 million years of 15-minute slots
    assert taken_total <= _MASK36 and day_last <= _MASK36, "storage: day overflow"
    self.day_takes_wh[day] = 0
    storage_fifo._save(state)
    self.settled_through = day + 1
    self._root[day] = root
    commitment: uint256 = convert(keccak256(abi_encode(root, need_words, cover_words)), uint256) >> _SHIFT_COMMITMENT
    self._day[day] = (
        (commitment << _SHIFT_COMMITMENT) | (taken_total << _SHIFT_TAKEN) | (day_first << _SHIFT_FIRST) | day_last
    )
    log DaySettled(
        day=day, root=root, charged_wh=charged_total, taken_wh=taken_total, content_wh=storage_fifo._content_of(state)
    )


# ================================================================ MEMBERS


@external
@nonreentrant
def claim_discharge(
    meter: address,
    day: uint256,
    discharge_words: DynArray[uint256, MAX_DAY_WORDS],
    need_words: DynArray[uint256, MAX_DAY_WORDS],
    cover_words: DynArray[uint256, MAX_DAY_WORDS],
    proof: DynArray[bytes32, MAX_PROOF_DEPTH],
) -> uint256:
    """
    @notice Certifies the green share of `meter`'s discharges on a settled
            `day` (the meter's owner only, once per meter and day): one
            discharge certificate (method 6) for the period (day start, day
            end], its profile the green Wh per slot, minted to the owner.
    @param meter The 20-byte meter address.
    @param day The 32-byte settled day.
    @param discharge_words The meter's discharge (imported Wh burned from WATT) per slot,
           `WORDS_PER_DAY` words: the leaf.
    @param need_words The day's need words as settled.
    @param cover_words min(C, N) per slot (C the content after the slot's charges,
           `SlotSettled.content_wh`; 0 for a slot without the event).
    @param proof Up to 32 sibling hashes, leaf to root.
    @return uint256 The 32-byte id of the discharge certificate.
    """
    green_words: DynArray[uint256, MAX_DAY_WORDS] = []
    green_wh: uint256 = 0
    owner: address = empty(address)
    first: uint256 = 0
    last: uint256 = 0
    green_words, green_wh, owner, first, last = self._claim_day(
        meter, day, discharge_words, need_words, cover_words, proof
    )
    assert green_wh != 0, "storage: nothing green"
    # ---- interaction: the certificate mints last (its receiver hook runs after every effect here)
    id: uint256 = extcall CERTIFICATE.issue_storage(
        meter, owner, convert(day * DAY_S, uint64), convert((day + 1) * DAY_S, uint64), green_words
    )
    log DischargeCertified(
        id=id, meter=meter, day=day, green_wh=green_wh, first_charge_slot=first, last_charge_slot=last
    )
    return id


@external
@nonreentrant
def claim_discharge_days(
    meter: address,
    days: DynArray[uint256, MAX_CLAIM_DAYS],
    discharge_words: DynArray[DynArray[uint256, MAX_DAY_WORDS], MAX_CLAIM_DAYS],
    need_words: DynArray[DynArray[uint256, MAX_DAY_WORDS], MAX_CLAIM_DAYS],
    cover_words: DynArray[DynArray[uint256, MAX_DAY_WORDS], MAX_CLAIM_DAYS],
    proofs: DynArray[DynArray[bytes32, MAX_PROOF_DEPTH], MAX_CLAIM_DAYS],
) -> uint256:
    """
    @notice `claim_discharge` for up to 7 consecutive settled days of one
            month at once, into ONE discharge certificate over (first day
            start, last day end]: the certificate's fixed cost is paid once.
            Each day is checked as in `claim_discharge`; a day may have
            nothing green as long as one has. One `DischargeCertified` per
            day, all naming the one id. Consecutive days keep every
            discharge certificate's period free of days it does not certify.
    @param meter The 20-byte meter address.
    @param days Up to 7 consecutive settled days (d, d + 1, ...) in one month.
    @param discharge_words Per day, the meter's discharge words (its leaf).
    @param need_words Per day, the day's need words.
    @param cover_words Per day, the day's cover words.
    @param proofs Per day, the proof of the meter's leaf.
    @return uint256 The 32-byte id of the discharge certificate.
    """
    count: uint256 = len(days)
    assert count != 0, "storage: no day"
    assert (
        len(discharge_words) == count and len(need_words) == count and len(cover_words) == count and len(proofs) == count
    ), "storage: length mismatch"
    first_day: uint256 = days[0]
    last_day: uint256 = days[count - 1]
    assert last_day == first_day + count - 1, "storage: days not consecutive"
    _yyyymm: uint256 = 0
    _month_start: uint256 = 0
    month_end: uint256 = 0
    _yyyymm, _month_start, month_end = cert_months._month_of(first_day * DAY_S)
    assert (last_day + 1) * DAY_S <= month_end, "storage: days span two months"
    profile: DynArray[uint256, MAX_CLAIM_WORDS] = []
    greens: DynArray[uint256, MAX_CLAIM_DAYS] = []
    firsts: DynArray[uint256, MAX_CLAIM_DAYS] = []
    lasts: DynArray[uint256, MAX_CLAIM_DAYS] = []
    owner: address = empty(address)
    total: uint256 = 0
    for i: uint256 in range(count, bound=MAX_CLAIM_DAYS):
        day: uint256 = days[i]
        assert day == first_day + i, "storage: days not consecutive"
        words: DynArray[uint256, MAX_DAY_WORDS] = []
        green_wh: uint256 = 0
        first: uint256 = 0
        last: uint256 = 0
        words, green_wh, owner, first, last = self._claim_day(
            meter, day, discharge_words[i], need_words[i], cover_words[i], proofs[i]
        )
        for w: uint256 in words:
            profile.append(w)
        greens.append(green_wh)
        firsts.append(first)
        lasts.append(last)
        total += green_wh
    assert total != 0, "storage: nothing green"
    # ---- interaction: the certificate mints last (its receiver hook runs after every effect here)
    id: uint256 = extcall CERTIFICATE.issue_storage(
        meter, owner, convert(first_day * DAY_S, uint64), convert((last_day + 1) * DAY_S, uint64), profile
    )
    for i: uint256 in range(count, bound=MAX_CLAIM_DAYS):
        log DischargeCertified(
            id=id, meter=meter, day=days[i], green_wh=greens[i], first_charge_slot=firsts[i], last_charge_slot=lasts[i]
        )
    return id


# ================================================================ VIEWS


@external
@view
def content_wh() -> uint256:
    """
    @notice The battery's green content: Wh of green charge in the queue.
    @return uint256 The 32-byte content in Wh.
    """
    return storage_fifo._content_of(storage_fifo._state())


@external
@view
def lots() -> DynArray[storage_fifo.Lot, storage_fifo.MAX_LOTS]:
    """
    @notice The queue of charge lots, oldest first: first and last charge
            slot and Wh left of each.
    @return DynArray Up to 1,024 lots.
    """
    return storage_fifo._lots_view()


@external
@view
def day_root(day: uint256) -> bytes32:
    """
    @notice The Merkle root of `day`'s discharge leaves (zero: none, or not settled).
    @param day The 32-byte day number.
    @return bytes32 The 32-byte root.
    """
    return self._root[day]


@external
@view
def day_charge(day: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice What `day` took from the queue and what claims have used of it.
    @param day The 32-byte day number.
    @return taken_wh, claimed_wh The 32-byte Wh of charge taken that day and the
            shares claimed so far; first_charge_slot, last_charge_slot The charge
            slots of the lots its takes touched (0, 0 if none).
    """
    word: uint256 = self._day[day]
    return (word >> _SHIFT_TAKEN) & _MASK36, (word >> _SHIFT_CLAIMED) & _MASK36, (word >> _SHIFT_FIRST) & _MASK36, word & _MASK36


@external
@view
def day_commitment(day: uint256) -> uint256:
    """
    @notice The top 112 bits of keccak256(abi_encode(root, need_words, cover_words)) of a settled
            `day`, as a number (zero before it is settled).
    @param day The 32-byte day number.
    @return uint256 The 32-byte commitment (below 2**112).
    """
    return self._day[day] >> _SHIFT_COMMITMENT


@external
@view
def claimed(meter: address, day: uint256) -> bool:
    """
    @notice Whether `meter`'s discharge of `day` has been certified.
    @param meter The 20-byte meter address.
    @param day The 32-byte day number.
    @return bool Claimed.
    """
    return self._claims[meter][day // _CLAIM_WINDOW_DAYS] & (1 << (_OWNER_BITS + day % _CLAIM_WINDOW_DAYS)) != 0


@external
@view
def discharge_leaf(meter: address, day: uint256, discharge_words: DynArray[uint256, MAX_DAY_WORDS]) -> bytes32:
    """
    @notice The leaf of `meter`'s discharge words of `day`, so clients can
            check their encoding against the chain's.
    @param meter The 20-byte meter address.
    @param day The 32-byte day number.
    @param discharge_words The Wh per slot, `WORDS_PER_DAY` words.
    @return bytes32 The 32-byte leaf.
    """
    return keccak256(abi_encode(DISCHARGE_LEAF_TAG, self, meter, day, discharge_words))


# ================================================================ INTERNAL


@internal
@view
def _check_settler():
    assert self.settler[msg.sender], "storage: caller is not a settler"


@internal
@view
def _check_open(day: uint256):
    """
    @dev `day` has ended (its last slot has: the one comparison of slots.vy)
         and is not settled yet.
    """
    assert slots._has_ended((day + 1) * SLOTS_PER_DAY - 1), "storage: day not ended"
    assert day >= self.settled_through, "storage: day already settled"


@internal
def _claim_day(
    meter: address,
    day: uint256,
    discharge_words: DynArray[uint256, MAX_DAY_WORDS],
    need_words: DynArray[uint256, MAX_DAY_WORDS],
    cover_words: DynArray[uint256, MAX_DAY_WORDS],
    proof: DynArray[bytes32, MAX_PROOF_DEPTH],
) -> (DynArray[uint256, MAX_DAY_WORDS], uint256, address, uint256, uint256):
    """
    @dev Checks and records the claim of (meter, day): the caller is its
         owner, not claimed before, the words and the leaf's proof match the
         day's commitment, the shares fit the day's charge taken. Returns the
         green words, their sum (Wh), the owner and the day's first and last
         charge slot. Writes the claim bit and the day's claimed charge.
    """
    dword: uint256 = self._day[day]
    assert dword >> _SHIFT_COMMITMENT != 0, "storage: day not settled"
    window: uint256 = day // _CLAIM_WINDOW_DAYS
    cword: uint256 = self._claims[meter][window]
    owner: address = empty(address)
    if cword == 0:
        owner = staticcall REGISTRY.meter_owner(meter)
        cword = convert(owner, uint256)
    else:
        owner = convert(convert(cword & (2**_OWNER_BITS - 1), uint160), address)
    assert owner != empty(address) and msg.sender == owner, "storage: caller is not the meter owner"
    bit: uint256 = 1 << (_OWNER_BITS + day % _CLAIM_WINDOW_DAYS)
    assert cword & bit == 0, "storage: already claimed"
    n: uint256 = WORDS_PER_DAY
    assert len(discharge_words) == n and len(need_words) == n and len(cover_words) == n, "storage: wrong word count"
    leaf: bytes32 = keccak256(abi_encode(DISCHARGE_LEAF_TAG, self, meter, day, discharge_words))
    # the root the proof leads to and the words, against the committed bits; only a failing claim reads
    # the stored root, to tell wrong words from a bad proof
    if self._committed(self._process_proof(leaf, proof), need_words, cover_words) != dword >> _SHIFT_COMMITMENT:
        assert (
            self._committed(self._root[day], need_words, cover_words) == dword >> _SHIFT_COMMITMENT
        ), "storage: words do not match the settlement"
        raise "storage: bad proof"

    green_words: DynArray[uint256, MAX_DAY_WORDS] = []
    green_total: uint256 = 0
    share_total: uint256 = 0
    for k: uint256 in range(n, bound=MAX_DAY_WORDS):
        dw: uint256 = discharge_words[k]
        assert dw & _GUARD == 0, "storage: slot amount too large"
        nw: uint256 = need_words[k]
        vw: uint256 = cover_words[k]
        gw: uint256 = 0
        sh: uint256 = 0
        # lanes low to high until no discharge is left in the word
        for _j: uint256 in range(_SLOTS_PER_WORD):
            if dw == 0:
                break
            d: uint256 = dw & _MASK32
            need_all: uint256 = nw & _MASK32
            if d != 0 and need_all != 0:
                cover: uint256 = vw & _MASK32
                # lanes are below 2**31 and 1 <= eta <= 1e6: every product stays below 2**90
                need: uint256 = unsafe_div(unsafe_add(unsafe_mul(d, _PPM), unsafe_sub(ETA_PPM, 1)), ETA_PPM)
                share: uint256 = need
                if cover != need_all:
                    share = unsafe_div(unsafe_mul(need, cover), need_all)
                share = min(share, cover)
                green: uint256 = min(d, unsafe_div(unsafe_mul(share, ETA_PPM), _PPM))
                share_total = unsafe_add(share_total, share)
                green_total = unsafe_add(green_total, green)
                gw |= green << sh
            dw >>= _LANE_BITS
            nw >>= _LANE_BITS
            vw >>= _LANE_BITS
            sh = unsafe_add(sh, _LANE_BITS)
        green_words.append(gw)
    claimed_charge: uint256 = ((dword >> _SHIFT_CLAIMED) & _MASK36) + share_total
    assert claimed_charge <= (dword >> _SHIFT_TAKEN) & _MASK36, "storage: claims exceed the day's charge taken"

    self._claims[meter][window] = cword | bit
    self._day[day] = (dword & ~(_MASK36 << _SHIFT_CLAIMED)) | (claimed_charge << _SHIFT_CLAIMED)
    return green_words, green_total, owner, (dword >> _SHIFT_FIRST) & _MASK36, dword & _MASK36



@internal
@pure
def _committed(
    root: bytes32, need_words: DynArray[uint256, MAX_DAY_WORDS], cover_words: DynArray[uint256, MAX_DAY_WORDS]
) -> uint256:
    """
    @dev The committed bits (top 112) of a day's root and words.
    """
    return convert(keccak256(abi_encode(root, need_words, cover_words)), uint256) >> _SHIFT_COMMITMENT


@internal
@pure
def _process_proof(leaf: bytes32, proof: DynArray[bytes32, MAX_PROOF_DEPTH]) -> bytes32:
    """
    @dev OpenZeppelin `MerkleProof.processProof`: sorted pairs, no side flags.
    """
    node: bytes32 = leaf
    for sibling: bytes32 in proof:
        if convert(node, uint256) <= convert(sibling, uint256):
            node = keccak256(concat(node, sibling))
        else:
            node = keccak256(concat(sibling, node))
    return node
