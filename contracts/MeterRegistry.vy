# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Meter registry: signed smart-meter readings in, WATT and certifiable generation out
@custom:contract-name MeterRegistry
@license GNU Affero General Public License v3.0 only
@notice Members' meters sign EIP-712 `Reading`s of their four cumulative
        registers; anyone may relay them in batches. The operator registers
        a meter with its commissioning values (the registers read when it
        was installed); its owner then accepts it. From then on each
        accepted reading credits its deltas from the previous accepted
        reading, or from the commissioning values for the first one:
        export mints WATT (up to the battery's free capacity, the rest is
        `GridExport`), import burns WATT (what it cannot cover is
        `GridImport`), renewable generation becomes certifiable. The total
        credited for a meter therefore depends only on its newest accepted
        reading, whichever earlier ones were relayed and in whatever order.
        A bad reading never reverts a batch: it is skipped with
        `ReadingRejected(meter, timestamp, reason)` and changes nothing else.
        Non-standard functions: `register_meter`, `accept_meter`,
        `set_meter_active`, `rotate_meter_key`, `recommission_meter` (same key,
        new baseline, accepted again), `submit_readings`,
        `take_certifiable` and `take_certifiable_part` (certificate contract
        only), `take_stored` (storage ledger only), `set_certificate`,
        `set_storage_ledger`,
        `announce_max_clock_skew`, `apply_max_clock_skew`, `pause`,
        `unpause`, views `meters`, `meter_name`, `meter_owner`,
        `last_reading`, `certifiable`, `owed_wh`, `reading_digest`,
        `pending_change`.
@custom:security The operator is a role, not a god: a meter credits or
        debits nobody until its owner has accepted it (and again after every
        key rotation), its rated power is capped by the deploy-time
        `MAX_RATED_POWER_W`, and `max_clock_skew` changes only after
        `NOTICE_S` and never above `MAX_CLOCK_SKEW_LIMIT_S`.
        A reading older than `MAX_CREDIT_LAG_S` (immutable) at block time
        is rejected as too late (reason 8): crediting on demand cannot park
        exports rent-free for longer than that; the meter's newest reading
        credits the same cumulative total.
        Registers are stored as 48-bit Wh counters (2.8e14 Wh, 281 TWh): a
        reading whose register does not fit is rejected as implausible
        (reason 7). Timestamps are bounded by `MAX_TIMESTAMP` (2**40 - 1 -
        2**32 s) so that every period end, plus any claim window the
        certificate contract allows (at most 2**32 s), fits its 40-bit
        fields; a later reading is rejected as from the future (reason 5).
        Certifiable periods are half-open (period_start, period_end]:
        consecutive issuances may touch at an end point but never overlap.
        A period runs from the meter's commissioning or last issuance to its
        last accepted reading (night intervals with no generation included);
        certifiable Wh are derived from the generated register, so relaying
        a reading stores nothing for them.
        Storage (issue 26): the StorageLedger takes the Wh a renewable meter
        stored in the battery (`take_stored`): they leave its certifiable
        Wh, which then exclude them. Wh taken beyond what is certifiable
        at the time (the generator issued first, or its reading is not yet
        credited) are owed: they come off its next credited generation
        before anything is certifiable again (certifiable = max(0,
        generated since the boundary + carry - owed)). So over a meter's
        life issued + certifiable + stored = credited + owed, and owed is
        paid before any later issuance: no Wh is certified both as
        generation and as discharge.
"""

from .interfaces import IWattLedger

# @dev Operator role: registration, parameters, pause.
from snekmate.auth import ownable

initializes: ownable

# @dev EIP-712 domain {name: "gridmint", version: "1"} and EIP-5267.
from snekmate.utils import eip712_domain_separator

initializes: eip712_domain_separator

# @dev Stops new readings during an incident; views keep working.
from snekmate.utils import pausable

initializes: pausable

# @dev Announce-then-apply after NOTICE_S for `max_clock_skew` (DESIGN.md "Operator bounds").
from .modules import notice

initializes: notice

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    eip712_domain_separator.eip712Domain,
    pausable.paused,
    notice.pending_change,
    notice.NOTICE_S,
)


struct Reading:
    meter: address
    timestamp: uint64
    generatedWh: uint256
    consumedWh: uint256
    exportedWh: uint256
    importedWh: uint256


# @dev A meter's four registers (Wh) at a time (s): its commissioning values.
struct Registers:
    timestamp: uint64
    generatedWh: uint256
    consumedWh: uint256
    exportedWh: uint256
    importedWh: uint256


struct MeterInfo:
    owner: address
    method: uint8
    active: bool
    accepted: bool
    rated_power_w: uint256
    name: String[64]


struct LastReading:
    timestamp: uint64
    has_baseline: bool
    generated_wh: uint256
    consumed_wh: uint256
    exported_wh: uint256
    imported_wh: uint256


# ---------------------------------------------------------------- CONSTANTS

_READING_TYPEHASH: constant(bytes32) = keccak256(
    "Reading(address meter,uint64 timestamp,uint256 generatedWh,uint256 consumedWh,uint256 exportedWh,uint256 importedWh)"
)
# @dev secp256k1n / 2: signatures with a larger `s` are malleable copies.
_MAX_S: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

MAX_BATCH: constant(uint256) = 64
METHOD_NONE: constant(uint8) = 0
METHOD_MAX: constant(uint8) = 5
# @dev The largest register value (Wh) a meter record can hold: 48 bits, 281 TWh.
MAX_REGISTER_WH: public(constant(uint256)) = 2**48 - 1
# @dev The latest timestamp (s) the registry accepts, for readings and commissioning:
#      certificates store period ends in 40 bits and their expiry (period end + a claim
#      window of at most 2**32 s) must fit the same width. Year ~36,700.
MAX_TIMESTAMP: public(constant(uint64)) = 2**40 - 1 - 2**32
# @dev The largest deploy-time cap on rated power: keeps power * dt far below 2**256.
_RATED_POWER_CAP_W: constant(uint256) = 2**64 - 1
# @dev `notice` parameter id of `max_clock_skew` (read its pending change with `pending_change`).
PARAM_MAX_CLOCK_SKEW: public(constant(uint256)) = 1

# Rejection reasons (DESIGN.md).
# @dev unknown meter
REJECT_UNKNOWN_METER: constant(uint8) = 1
# @dev inactive or not accepted by its owner
REJECT_INACTIVE_METER: constant(uint8) = 2
# @dev bad signature
REJECT_BAD_SIGNATURE: constant(uint8) = 3
# @dev stale (not after the last accepted reading)
REJECT_STALE: constant(uint8) = 4
# @dev from the future (beyond the allowed clock skew)
REJECT_FUTURE: constant(uint8) = 5
# @dev a counter went down
REJECT_COUNTER_DOWN: constant(uint8) = 6
# @dev implausible (more energy than the meter's rated power allows)
REJECT_IMPLAUSIBLE: constant(uint8) = 7
# @dev too late (older than `MAX_CREDIT_LAG_S` at block time: a newer reading credits it)
REJECT_TOO_LATE: constant(uint8) = 8

# Packed meter info word:
# owner | method << 160 | active << 168 | accepted << 169 | rated_power_w << 176
_SHIFT_METHOD: constant(uint256) = 160
_SHIFT_ACTIVE: constant(uint256) = 168
_SHIFT_ACCEPTED: constant(uint256) = 169
_SHIFT_POWER: constant(uint256) = 176

# Packed last-reading word:
# timestamp (56 bits) | has_baseline << 56 | gen << 64 | cons << 112 | exp << 160 | imp << 208
_MASK48: constant(uint256) = 2**48 - 1
_MASK56: constant(uint256) = 2**56 - 1
_MASK64: constant(uint256) = 2**64 - 1
_BASELINE_BIT: constant(uint256) = 2**56
_SHIFT_GEN: constant(uint256) = 64
_SHIFT_CONS: constant(uint256) = 112
_SHIFT_EXP: constant(uint256) = 160
_SHIFT_IMP: constant(uint256) = 208

# Packed certification boundary (see `_cert_base`)
_SHIFT_BASE_TS: constant(uint256) = 48
_SHIFT_CARRY: constant(uint256) = 104
_SHIFT_OWED: constant(uint256) = 168
_BASE_SET: constant(uint256) = 2**255

# ---------------------------------------------------------------- IMMUTABLES

# @dev The WATT token the registry mints to and burns from.
WATT: public(immutable(IWattLedger))

# @dev The largest `rated_power_w` (W) any meter may be registered with.
MAX_RATED_POWER_W: public(immutable(uint256))

# @dev The largest `max_clock_skew` (s) the operator may ever set.
MAX_CLOCK_SKEW_LIMIT_S: public(immutable(uint64))

# @dev The oldest a reading may be (s before block time) when it is credited:
#      exports credited late cannot stay in the battery rent-free for longer
#      than this (rent counts from the mint), whichever path relays them.
MAX_CREDIT_LAG_S: public(immutable(uint64))

# ---------------------------------------------------------------- STORAGE

# @dev Seconds a reading may lie ahead of block time (clock drift of meters).
max_clock_skew: public(uint64)

# @dev The EnvironmentalCertificate contract, the only taker of certifiable Wh.
certificate: public(address)

# @dev The StorageLedger, the only taker of stored Wh (issue 26).
storage_ledger: public(address)

# @dev Meter address => packed (owner, method, active, accepted, rated power).
_info: HashMap[address, uint256]

# @dev Meter address => generator name recorded on its certificates.
_name: HashMap[address, String[64]]

# @dev Meter address => packed last accepted reading (timestamp, baseline flag, 4 counters);
#      the commissioning values until the first reading is accepted.
_last: HashMap[address, uint256]

# @dev Meter address => packed certification boundary of a renewable meter:
#      bits 0..47 the generated register at the boundary (its commissioning or its
#      last issuance), bits 48..103 the boundary's timestamp (the next period's start),
#      bits 104..167 Wh carried over a key rotation (new hardware restarts its
#      counters), bits 168..231 Wh owed to storage (taken by the StorageLedger
#      beyond what was certifiable), bit 255 set once a boundary exists. Certifiable generation is
#      derived from it and `_last` (generated now - at the boundary + carry), so a
#      reading writes nothing here: only registrations, issuances and rotations do.
_cert_base: HashMap[address, uint256]

# @dev Addresses a meter record was rotated away from; never registrable again,
# so their old signed readings can never be credited a second time.
retired: public(HashMap[address, bool])

# ---------------------------------------------------------------- EVENTS

event MeterRegistered:
    meter: indexed(address)
    owner: indexed(address)
    method: uint8
    rated_power_w: uint256
    name: String[64]
    commissioned_at: uint64
    generated_wh: uint256
    consumed_wh: uint256
    exported_wh: uint256
    imported_wh: uint256


event MeterAccepted:
    meter: indexed(address)
    owner: indexed(address)


event MeterActiveChanged:
    meter: indexed(address)
    active: bool


event MeterKeyRotated:
    old_meter: indexed(address)
    new_meter: indexed(address)
    commissioned_at: uint64
    generated_wh: uint256
    consumed_wh: uint256
    exported_wh: uint256
    imported_wh: uint256


event MeterRecommissioned:
    meter: indexed(address)
    owner: indexed(address)
    commissioned_at: uint64
    not_before: uint64
    generated_wh: uint256
    consumed_wh: uint256
    exported_wh: uint256
    imported_wh: uint256


event ReadingAccepted:
    meter: indexed(address)
    owner: indexed(address)
    timestamp: uint64
    generated_wh: uint256
    consumed_wh: uint256
    exported_wh: uint256
    imported_wh: uint256


event ReadingRejected:
    meter: indexed(address)
    timestamp: uint64
    reason: uint8


event GridExport:
    owner: indexed(address)
    wh: uint256


event GridImport:
    owner: indexed(address)
    wh: uint256


event CertifiableTaken:
    meter: indexed(address)
    wh: uint256
    period_start: uint64
    period_end: uint64


event UpdateMaxClockSkewAnnounced:
    max_clock_skew: uint64
    effective_at: uint256


event UpdateMaxClockSkew:
    max_clock_skew: uint64


event UpdateCertificate:
    certificate: indexed(address)


event StoredTaken:
    meter: indexed(address)
    wh: uint256
    owed_wh: uint256


event UpdateStorageLedger:
    storage_ledger: indexed(address)


@deploy
def __init__(
    watt_: IWattLedger,
    max_clock_skew_: uint64,
    max_clock_skew_limit_s_: uint64,
    max_rated_power_w_: uint256,
    notice_s_: uint256,
    max_credit_lag_s_: uint64,
):
    """
    @dev The deployer becomes the operator.
    @param watt_ The 20-byte WATT token address.
    @param max_clock_skew_ The 8-byte initial clock skew in seconds (<= the limit).
    @param max_clock_skew_limit_s_ The 8-byte immutable upper limit of the clock skew in seconds.
    @param max_rated_power_w_ The 32-byte immutable largest rated power in W (<= 2**64 - 1).
    @param notice_s_ The 32-byte notice in seconds between announcing and applying a change.
    @param max_credit_lag_s_ The 8-byte immutable largest age in seconds of a reading when it is
           credited (at least 1,800: one slot).
    """
    assert max_clock_skew_ <= max_clock_skew_limit_s_, "registry: clock skew above limit"
    assert max_credit_lag_s_ >= 1_800, "registry: credit lag below one slot"
    assert max_rated_power_w_ != 0 and max_rated_power_w_ <= _RATED_POWER_CAP_W, "registry: bad max rated power"
    ownable.__init__()
    eip712_domain_separator.__init__("gridmint", "1")
    pausable.__init__()
    notice.__init__(notice_s_)
    WATT = watt_
    MAX_RATED_POWER_W = max_rated_power_w_
    MAX_CLOCK_SKEW_LIMIT_S = max_clock_skew_limit_s_
    MAX_CREDIT_LAG_S = max_credit_lag_s_
    self.max_clock_skew = max_clock_skew_
    log UpdateMaxClockSkew(max_clock_skew=max_clock_skew_)


# ================================================================ OPERATOR


@external
def register_meter(
    meter: address, owner: address, method: uint8, rated_power_w: uint256, name: String[64], commissioning: Registers
):
    """
    @notice Registers a meter (operator only). It starts active but credits
            or debits nobody until `owner` calls `accept_meter`. Its first
            accepted reading credits its deltas from `commissioning`, and
            certification starts there: generation before commissioning is
            never certifiable.
    @param meter The 20-byte meter address (its key's identity).
    @param owner The 20-byte member credited for the meter's flows.
    @param method The 1-byte generation method: 0 none, 1 solar, 2 wind,
           3 hydro, 4 geothermal, 5 biomass.
    @param rated_power_w The 32-byte largest power in W the site can move
           through any register (max of generator and grid connection),
           at most `MAX_RATED_POWER_W`.
    @param name The up-to-64-character generator name for certificates.
    @param commissioning The meter's registers (Wh, each < 2**48) and the
           8-byte time (s) they were read at installation; the time may lie
           at most `max_clock_skew` ahead of block time.
    """
    ownable._check_owner()
    assert meter != empty(address), "registry: zero meter"
    assert owner != empty(address), "registry: zero owner"
    assert self._info[meter] == 0, "registry: meter already registered"
    assert not self.retired[meter], "registry: meter key retired"
    assert method <= METHOD_MAX, "registry: unknown method"
    assert rated_power_w != 0, "registry: zero rated power"
    assert rated_power_w <= MAX_RATED_POWER_W, "registry: rated power too large"
    commissioned: uint256 = self._pack_commissioning(commissioning)
    self._info[meter] = self._pack_info(owner, method, True, False, rated_power_w)
    self._name[meter] = name
    self._last[meter] = commissioned
    if method != METHOD_NONE:
        # certification counts from the commissioning values
        self._cert_base[meter] = (
            _BASE_SET | commissioning.generatedWh | (convert(commissioning.timestamp, uint256) << _SHIFT_BASE_TS)
        )
    log MeterRegistered(
        meter=meter,
        owner=owner,
        method=method,
        rated_power_w=rated_power_w,
        name=name,
        commissioned_at=commissioning.timestamp,
        generated_wh=commissioning.generatedWh,
        consumed_wh=commissioning.consumedWh,
        exported_wh=commissioning.exportedWh,
        imported_wh=commissioning.importedWh,
    )


@external
def accept_meter(meter: address):
    """
    @notice Accepts `meter` (its owner only): from now on its readings
            credit and debit the caller's WATT and certify generation in the
            caller's name. Check its commissioning values (`last_reading`)
            and rated power (`meters`) first. A rotated key must be accepted
            again.
    @param meter The 20-byte meter address.
    """
    info: uint256 = self._info[meter]
    assert info != 0, "registry: unknown meter"
    owner: address = self._info_owner(info)
    assert msg.sender == owner, "registry: caller is not the meter owner"
    assert not self._info_accepted(info), "registry: meter already accepted"
    self._info[meter] = info | (1 << _SHIFT_ACCEPTED)
    log MeterAccepted(meter=meter, owner=owner)


@external
def set_meter_active(meter: address, active: bool):
    """
    @notice Activates or deactivates a meter (operator only). Readings of
            an inactive meter are rejected with reason 2. Activation does
            not stand in for the owner's acceptance.
    @param meter The 20-byte meter address.
    @param active The new state.
    """
    ownable._check_owner()
    info: uint256 = self._info[meter]
    assert info != 0, "registry: unknown meter"
    if active:
        info |= 1 << _SHIFT_ACTIVE
    else:
        info &= ~(1 << _SHIFT_ACTIVE)
    self._info[meter] = info
    log MeterActiveChanged(meter=meter, active=active)


@external
def rotate_meter_key(old: address, new: address, commissioning: Registers):
    """
    @notice Moves a meter record to a new key when its hardware is
            replaced (operator only). Owner, method, rating, name, the
            active flag and certifiable generation move with it; the old
            key is retired. The new hardware's first reading credits its
            deltas from `commissioning`. The new key credits and debits
            nothing until the owner accepts it again with `accept_meter`:
            the operator cannot swap in a key it controls behind the
            owner's back.
    @param old The 20-byte current meter address.
    @param new The 20-byte new meter address.
    @param commissioning The new hardware's registers (Wh, each < 2**48)
           and the 8-byte time (s) they were read; not before the old key's
           last accepted reading, at most `max_clock_skew` ahead of block time.
    """
    ownable._check_owner()
    info: uint256 = self._info[old]
    assert info != 0, "registry: unknown meter"
    assert new != empty(address), "registry: zero meter"
    assert self._info[new] == 0, "registry: meter already registered"
    assert not self.retired[new], "registry: meter key retired"
    assert (
        commissioning.timestamp >= convert(self._last[old] & _MASK56, uint64)
    ), "registry: commissioning before last reading"
    commissioned: uint256 = self._pack_commissioning(commissioning)
    # everything but the owner's acceptance moves to the new key
    self._info[new] = info & ~(1 << _SHIFT_ACCEPTED)
    self._name[new] = self._name[old]
    self._last[new] = commissioned
    base: uint256 = self._cert_base[old]
    if base != 0:
        wh: uint256 = 0
        start: uint256 = 0
        end: uint256 = 0
        wh, start, end = self._pending(old)
        assert wh <= _MASK64, "registry: certifiable overflow"
        # the pending Wh ride along; the period still starts at the old boundary;
        # the new hardware's generation counts from its commissioning value
        # Wh still owed to storage stay owed by the new key
        self._cert_base[new] = (
            _BASE_SET
            | commissioning.generatedWh
            | (base & (_MASK56 << _SHIFT_BASE_TS))
            | (wh << _SHIFT_CARRY)
            | (self._owed_left(old) << _SHIFT_OWED)
        )
    self._info[old] = 0
    # the name stays on the retired key: certificates issued under it still show it
    self._last[old] = 0
    self._cert_base[old] = 0
    self.retired[old] = True
    log MeterKeyRotated(
        old_meter=old,
        new_meter=new,
        commissioned_at=commissioning.timestamp,
        generated_wh=commissioning.generatedWh,
        consumed_wh=commissioning.consumedWh,
        exported_wh=commissioning.exportedWh,
        imported_wh=commissioning.importedWh,
    )


@external
def recommission_meter(meter: address, commissioning: Registers):
    """
    @notice Re-commissions a meter whose counters on chain went ahead of the
            device (a typo that reached the chain, a device reset) with its
            same key (operator only; no key ceremony: the hardware did not
            change). Its baseline becomes `commissioning`; it credits and
            debits nothing until its owner accepts it again
            (`accept_meter`); and no reading signed before this call ever
            counts again: every reading with a timestamp up to `not_before`
            = max(commissioning time, now + `max_clock_skew`, its last
            accepted reading) is stale (reason 4), since a reading signed
            before now could carry a time up to `max_clock_skew` ahead.
            Certifiable generation accrued so far is kept (carried, as on a
            key rotation); the next reading's plausibility counts from
            `not_before`.
    @param meter The 20-byte meter address.
    @param commissioning The device's registers (Wh, each < 2**48) and the
           8-byte time (s) they were read, at most `max_clock_skew` ahead of
           block time.
    """
    ownable._check_owner()
    info: uint256 = self._info[meter]
    assert info != 0, "registry: unknown meter"
    commissioned: uint256 = self._pack_commissioning(commissioning)
    last: uint256 = self._last[meter]
    not_before: uint256 = max(
        max(convert(commissioning.timestamp, uint256), block.timestamp + convert(self.max_clock_skew, uint256)),
        last & _MASK56,
    )
    base: uint256 = self._cert_base[meter]
    if base != 0:
        wh: uint256 = 0
        start: uint256 = 0
        end: uint256 = 0
        wh, start, end = self._pending(meter)
        assert wh <= _MASK64, "registry: certifiable overflow"
        # the pending Wh ride along; the period still starts at the old boundary;
        # generation counts from the new commissioning value
        # Wh still owed to storage stay owed
        self._cert_base[meter] = (
            _BASE_SET
            | commissioning.generatedWh
            | (base & (_MASK56 << _SHIFT_BASE_TS))
            | (wh << _SHIFT_CARRY)
            | (self._owed_left(meter) << _SHIFT_OWED)
        )
    # not_before <= MAX_TIMESTAMP + max_clock_skew < 2**56
    self._last[meter] = (commissioned & ~_MASK56) | not_before
    self._info[meter] = info & ~(1 << _SHIFT_ACCEPTED)
    log MeterRecommissioned(
        meter=meter,
        owner=self._info_owner(info),
        commissioned_at=commissioning.timestamp,
        not_before=convert(not_before, uint64),
        generated_wh=commissioning.generatedWh,
        consumed_wh=commissioning.consumedWh,
        exported_wh=commissioning.exportedWh,
        imported_wh=commissioning.importedWh,
    )


@external
def announce_max_clock_skew(max_clock_skew_: uint64):
    """
    @notice Announces a new clock skew (operator only); it can be applied
            with `apply_max_clock_skew` once `NOTICE_S` seconds have passed.
            A new announcement replaces a pending one and restarts its notice.
    @param max_clock_skew_ The 8-byte skew in seconds, at most `MAX_CLOCK_SKEW_LIMIT_S`.
    """
    ownable._check_owner()
    assert max_clock_skew_ <= MAX_CLOCK_SKEW_LIMIT_S, "registry: clock skew above limit"
    effective_at: uint256 = notice._announce(PARAM_MAX_CLOCK_SKEW, convert(max_clock_skew_, uint256))
    log UpdateMaxClockSkewAnnounced(max_clock_skew=max_clock_skew_, effective_at=effective_at)


@external
def apply_max_clock_skew():
    """
    @notice Applies the announced clock skew (operator only), once its
            notice is over.
    """
    ownable._check_owner()
    # announced values were checked against the limit; the limit is a uint64
    skew: uint64 = convert(notice._take(PARAM_MAX_CLOCK_SKEW), uint64)
    self.max_clock_skew = skew
    log UpdateMaxClockSkew(max_clock_skew=skew)


@external
def set_certificate(certificate_: address):
    """
    @notice Wires the certificate contract, the only taker of certifiable
            generation. Callable once, at deploy, so generation cannot be
            handed to two issuers.
    @param certificate_ The 20-byte EnvironmentalCertificate address.
    """
    ownable._check_owner()
    assert self.certificate == empty(address), "registry: certificate already set"
    assert certificate_ != empty(address), "registry: zero certificate"
    self.certificate = certificate_
    log UpdateCertificate(certificate=certificate_)


@external
def set_storage_ledger(storage_ledger_: address):
    """
    @notice Wires the StorageLedger, the only taker of stored Wh. Callable
            once, at deploy, so stored generation has one ledger.
    @param storage_ledger_ The 20-byte StorageLedger address.
    """
    ownable._check_owner()
    assert self.storage_ledger == empty(address), "registry: storage ledger already set"
    assert storage_ledger_ != empty(address), "registry: zero storage ledger"
    self.storage_ledger = storage_ledger_
    log UpdateStorageLedger(storage_ledger=storage_ledger_)


@external
def pause():
    """
    @notice Stops `submit_readings` (operator only); nothing else stops.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes `submit_readings` (operator only).
    """
    ownable._check_owner()
    pausable._unpause()


# ================================================================ READINGS


@external
def submit_readings(readings: DynArray[Reading, MAX_BATCH], signatures: DynArray[Bytes[65], MAX_BATCH]) -> uint256:
    """
    @notice Relays signed readings; anyone may call. Each reading is
            accepted or skipped on its own with `ReadingRejected`.
    @param readings Up to 64 readings.
    @param signatures One 65-byte (r, s, v) signature per reading, by the meter key.
    @return uint256 The number of readings accepted.
    """
    pausable._require_not_paused()
    assert len(readings) == len(signatures), "registry: length mismatch"
    accepted: uint256 = 0
    for i: uint256 in range(MAX_BATCH):
        if i >= len(readings):
            break
        reason: uint8 = self._apply_reading(readings[i], signatures[i])
        if reason == 0:
            accepted += 1
        else:
            log ReadingRejected(meter=readings[i].meter, timestamp=readings[i].timestamp, reason=reason)
    return accepted


@external
def take_certifiable(meter: address) -> (uint256, uint64, uint64, address, uint8):
    """
    @notice Hands all certifiable generation of `meter` to the certificate
            contract and resets it, so the same Wh can never be issued twice.
    @param meter The 20-byte meter address.
    @return wh The 32-byte Wh taken, period_start, period_end The 8-byte
            bounds (seconds) of the half-open period (start, end] it covers,
            owner The 20-byte meter owner (zero if unknown), method The
            1-byte generation method.
    """
    assert msg.sender == self.certificate, "registry: caller is not the certificate"
    info: uint256 = self._info[meter]
    wh: uint256 = 0
    start: uint256 = 0
    end: uint256 = 0
    wh, start, end = self._pending(meter)
    if wh != 0:
        # the new boundary: everything generated up to `end` is taken
        gen: uint256 = (self._last[meter] >> _SHIFT_GEN) & _MASK48
        self._cert_base[meter] = _BASE_SET | gen | (end << _SHIFT_BASE_TS)
        log CertifiableTaken(meter=meter, wh=wh, period_start=convert(start, uint64), period_end=convert(end, uint64))
    return wh, convert(start, uint64), convert(end, uint64), self._info_owner(info), self._info_method(info)


@external
def take_certifiable_part(meter: address, wh: uint256, until: uint64) -> (uint256, uint64, uint64, address, uint8):
    """
    @notice Hands the first part of the certifiable generation of `meter`,
            `wh` Wh generated in (period_start, until], to the certificate
            contract; the rest stays certifiable over (until, period_end].
            A long pending period can so be issued one bounded part (e.g.
            one calendar month) at a time. The certificate contract computes
            `wh` from the owner's per-slot profile of the part; like every
            slot value it is checked off chain against the credited readings
            (gridmint/audit/claims.py: the generated Wh of the readings
            stamped in (period_start, until]). A part may carry 0 Wh (a
            month the meter generated nothing): the boundary still moves.
    @param meter The 20-byte meter address.
    @param wh The 32-byte Wh the part takes, at most what is certifiable.
    @param until The 8-byte end (s) of the part, strictly inside the
           pending period (period_start < until < period_end).
    @return wh The 32-byte Wh taken, period_start, period_end The 8-byte
            bounds (seconds) of the part (start, until] (all zero, with
            nothing taken, if nothing is certifiable), owner The 20-byte
            meter owner (zero if unknown), method The 1-byte generation method.
    """
    assert msg.sender == self.certificate, "registry: caller is not the certificate"
    info: uint256 = self._info[meter]
    pending: uint256 = 0
    start: uint256 = 0
    end: uint256 = 0
    pending, start, end = self._pending(meter)
    if pending == 0:
        return 0, 0, 0, self._info_owner(info), self._info_method(info)
    cut: uint256 = convert(until, uint256)
    assert start < cut and cut < end, "registry: part outside the pending period"
    assert wh <= pending, "registry: part exceeds the certifiable Wh"
    # the new boundary: the period now starts at `until`; what the part leaves is carried
    # (pending = carry + generated now - generated at the boundary, so the boundary reads now)
    left: uint256 = pending - wh
    assert left <= _MASK64, "registry: certifiable overflow"
    gen: uint256 = (self._last[meter] >> _SHIFT_GEN) & _MASK48
    self._cert_base[meter] = _BASE_SET | gen | (cut << _SHIFT_BASE_TS) | (left << _SHIFT_CARRY)
    log CertifiableTaken(meter=meter, wh=wh, period_start=convert(start, uint64), period_end=until)
    return wh, convert(start, uint64), until, self._info_owner(info), self._info_method(info)


@external
def take_stored(meter: address, wh: uint256) -> uint256:
    """
    @notice Takes `wh` Wh of a renewable meter's generation that went into
            the battery (storage ledger only): they leave its certifiable
            Wh now, and what exceeds them (`owed_wh` of the event: issued
            before the take, or not yet credited) comes off its next
            credited generation first, before anything is certifiable.
    @param meter The 20-byte meter address (a renewable meter's).
    @param wh The 32-byte Wh stored.
    @return uint256 The 32-byte Wh of this take not covered by certifiable generation now.
    """
    assert msg.sender == self.storage_ledger, "registry: caller is not the storage ledger"
    base: uint256 = self._cert_base[meter]
    # only renewable meters have a certification boundary: a method-0 export never charges green
    assert base != 0, "registry: not a renewable meter"
    pending: uint256 = 0
    _start: uint256 = 0
    _end: uint256 = 0
    pending, _start, _end = self._pending(meter)
    owed: uint256 = ((base >> _SHIFT_OWED) & _MASK64) + wh
    assert owed <= _MASK64, "registry: owed overflow"
    self._cert_base[meter] = (base & ~(_MASK64 << _SHIFT_OWED)) | (owed << _SHIFT_OWED)
    owed_part: uint256 = wh - min(wh, pending)
    log StoredTaken(meter=meter, wh=wh, owed_wh=owed_part)
    return owed_part


# ================================================================ VIEWS


@external
@view
def meters(meter: address) -> MeterInfo:
    """
    @notice The meter's record (owner zero when unknown).
    @param meter The 20-byte meter address.
    @return MeterInfo Owner, method, active flag, whether the owner accepted
            it, rated power (W), name.
    """
    info: uint256 = self._info[meter]
    return MeterInfo(
        owner=self._info_owner(info),
        method=self._info_method(info),
        active=self._info_active(info),
        accepted=self._info_accepted(info),
        rated_power_w=self._info_power(info),
        name=self._name[meter],
    )


@external
@view
def meter_owner(meter: address) -> address:
    """
    @notice The member `meter` credits (zero for an unknown or retired key).
    @param meter The 20-byte meter address.
    @return address The 20-byte owner.
    """
    return self._info_owner(self._info[meter])


@external
@view
def owed_wh(meter: address) -> uint256:
    """
    @notice Wh `meter` owes to storage beyond its credited generation since
            its last issuance: they come off its next generation first.
    @param meter The 20-byte meter address.
    @return uint256 The 32-byte Wh owed.
    """
    return self._owed_left(meter)


@external
@view
def meter_name(meter: address) -> String[64]:
    """
    @notice The generator name of `meter`, also after its key was retired
            (names never change, so certificates can refer to them).
    @param meter The 20-byte meter address.
    @return String The up-to-64-character name.
    """
    return self._name[meter]


@external
@view
def last_reading(meter: address) -> LastReading:
    """
    @notice The last accepted reading of `meter` (its registers in Wh), or
            its commissioning values before its first accepted reading.
    @param meter The 20-byte meter address.
    @return LastReading Timestamp in seconds (0 for an unknown or retired
            key), whether a baseline exists (true for every registered
            meter: the commissioning values are its first baseline), counters.
    """
    word: uint256 = self._last[meter]
    return LastReading(
        timestamp=convert(word & _MASK56, uint64),
        has_baseline=(word & _BASELINE_BIT) != 0,
        generated_wh=(word >> _SHIFT_GEN) & _MASK48,
        consumed_wh=(word >> _SHIFT_CONS) & _MASK48,
        exported_wh=(word >> _SHIFT_EXP) & _MASK48,
        imported_wh=word >> _SHIFT_IMP,
    )


@external
@view
def certifiable(meter: address) -> (uint256, uint64, uint64):
    """
    @notice Generation of `meter` credited but not yet certified.
    @param meter The 20-byte meter address.
    @return wh The 32-byte Wh, period_start, period_end (seconds) of the
            half-open period (start, end] it covers.
    """
    wh: uint256 = 0
    start: uint256 = 0
    end: uint256 = 0
    wh, start, end = self._pending(meter)
    return wh, convert(start, uint64), convert(end, uint64)


@external
@view
def reading_digest(reading: Reading) -> bytes32:
    """
    @notice The EIP-712 digest a meter signs for `reading`, so clients can
            check their encoding against the chain's.
    @param reading The reading.
    @return bytes32 The 32-byte typed-data digest.
    """
    return self._digest(reading)


# ================================================================ INTERNAL


@internal
def _apply_reading(r: Reading, signature: Bytes[65]) -> uint8:
    """
    @dev Checks one reading and, if it passes every check, applies it.
         Returns 0 when accepted or the rejection reason; a rejected
         reading writes nothing.
    """
    info: uint256 = self._info[r.meter]
    if info == 0:
        return REJECT_UNKNOWN_METER
    # not credited in anyone's name until its owner accepted it
    if not self._info_active(info) or not self._info_accepted(info):
        return REJECT_INACTIVE_METER
    if not self._valid_signature(self._digest(r), signature, r.meter):
        return REJECT_BAD_SIGNATURE
    # every registered meter has a baseline: its commissioning values or its last accepted reading
    last: uint256 = self._last[r.meter]
    last_ts: uint256 = last & _MASK56
    ts: uint256 = convert(r.timestamp, uint256)
    if ts <= last_ts:
        return REJECT_STALE
    # a reading older than the lag would have parked its exports rent-free: the newest one credits them
    if ts + convert(MAX_CREDIT_LAG_S, uint256) < block.timestamp:
        return REJECT_TOO_LATE
    # MAX_TIMESTAMP keeps every downstream field (certificate period and expiry) intact
    if ts > block.timestamp + convert(self.max_clock_skew, uint256) or ts > convert(MAX_TIMESTAMP, uint256):
        return REJECT_FUTURE
    if r.generatedWh > _MASK48 or r.consumedWh > _MASK48 or r.exportedWh > _MASK48 or r.importedWh > _MASK48:
        return REJECT_IMPLAUSIBLE

    new_last: uint256 = (
        ts
        | _BASELINE_BIT
        | (r.generatedWh << _SHIFT_GEN)
        | (r.consumedWh << _SHIFT_CONS)
        | (r.exportedWh << _SHIFT_EXP)
        | (r.importedWh << _SHIFT_IMP)
    )
    owner: address = self._info_owner(info)

    prev_gen: uint256 = (last >> _SHIFT_GEN) & _MASK48
    prev_cons: uint256 = (last >> _SHIFT_CONS) & _MASK48
    prev_exp: uint256 = (last >> _SHIFT_EXP) & _MASK48
    prev_imp: uint256 = last >> _SHIFT_IMP
    if r.generatedWh < prev_gen or r.consumedWh < prev_cons or r.exportedWh < prev_exp or r.importedWh < prev_imp:
        return REJECT_COUNTER_DOWN
    # the counters are not below their previous values (checked above)
    d_gen: uint256 = unsafe_sub(r.generatedWh, prev_gen)
    d_cons: uint256 = unsafe_sub(r.consumedWh, prev_cons)
    d_exp: uint256 = unsafe_sub(r.exportedWh, prev_exp)
    d_imp: uint256 = unsafe_sub(r.importedWh, prev_imp)

    # most Wh any register can move in the interval: rated_power_w * dt / 3600,
    # compared as delta * 3600 > power * dt to avoid rounding. Deltas are below
    # 2**48, power below 2**64 and dt below 2**56, so neither product can overflow.
    dt: uint256 = unsafe_sub(ts, last_ts)
    budget: uint256 = unsafe_mul(self._info_power(info), dt)
    if (
        unsafe_mul(d_gen, 3600) > budget
        or unsafe_mul(d_cons, 3600) > budget
        or unsafe_mul(d_exp, 3600) > budget
        or unsafe_mul(d_imp, 3600) > budget
    ):
        return REJECT_IMPLAUSIBLE

    # ---- effects
    # certifiable generation follows from `_last` (see `_cert_base`): nothing else to store
    self._last[r.meter] = new_last
    log ReadingAccepted(
        meter=r.meter,
        owner=owner,
        timestamp=r.timestamp,
        generated_wh=d_gen,
        consumed_wh=d_cons,
        exported_wh=d_exp,
        imported_wh=d_imp,
    )

    # ---- interaction (WATT is our own token; it only mints/burns)
    if d_exp != 0 or d_imp != 0:
        minted: uint256 = 0
        burned: uint256 = 0
        minted, burned = extcall WATT.credit_flows(owner, d_exp, d_imp)
        if minted < d_exp:
            log GridExport(owner=owner, wh=unsafe_sub(d_exp, minted))
        if burned < d_imp:
            log GridImport(owner=owner, wh=unsafe_sub(d_imp, burned))
    return 0


@internal
@view
def _pending(meter: address) -> (uint256, uint256, uint256):
    """
    @dev Certifiable generation of `meter`: (Wh, period start, period end), zeros
         if none. Generated since the boundary plus any carry, minus the Wh
         owed to storage; the period is (boundary, last accepted reading].
    """
    base: uint256 = self._cert_base[meter]
    if base == 0:
        return 0, 0, 0
    last: uint256 = self._last[meter]
    # the generated register never falls below the boundary it was read from: no underflow
    wh: uint256 = ((base >> _SHIFT_CARRY) & _MASK64) + unsafe_sub((last >> _SHIFT_GEN) & _MASK48, base & _MASK48)
    owed: uint256 = (base >> _SHIFT_OWED) & _MASK64
    if wh <= owed:
        return 0, 0, 0
    return unsafe_sub(wh, owed), (base >> _SHIFT_BASE_TS) & _MASK56, last & _MASK56


@internal
@view
def _owed_left(meter: address) -> uint256:
    """
    @dev Wh `meter` owes to storage beyond its generation since the boundary
         plus carry (0 when that generation covers them).
    """
    base: uint256 = self._cert_base[meter]
    wh: uint256 = ((base >> _SHIFT_CARRY) & _MASK64) + unsafe_sub(
        (self._last[meter] >> _SHIFT_GEN) & _MASK48, base & _MASK48
    )
    owed: uint256 = (base >> _SHIFT_OWED) & _MASK64
    if owed <= wh:
        return 0
    return unsafe_sub(owed, wh)


@internal
@view
def _digest(r: Reading) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(_READING_TYPEHASH, r.meter, r.timestamp, r.generatedWh, r.consumedWh, r.exportedWh, r.importedWh)
    )
    return eip712_domain_separator._hash_typed_data_v4(struct_hash)


@internal
@pure
def _valid_signature(digest: bytes32, signature: Bytes[65], signer: address) -> bool:
    """
    @dev Non-reverting signature check (snekmate's ecdsa reverts on a
         malleable `s`, which would let one bad reading sink a batch).
         Accepts only 65-byte (r, s, v) signatures with v in {27, 28} and
         low s (EIP-2).
    """
    if len(signature) != 65:
        return False
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if s > _MAX_S or (v != 27 and v != 28):
        return False
    recovered: address = ecrecover(digest, v, r, s)
    return recovered != empty(address) and recovered == signer


@internal
@view
def _pack_commissioning(c: Registers) -> uint256:
    """
    @dev Checks commissioning values and packs them as a `_last` word with the
         baseline flag set; reverts when they could not be stored or lie ahead.
    """
    assert c.timestamp != 0, "registry: zero commissioning time"
    assert c.timestamp <= MAX_TIMESTAMP, "registry: commissioning time beyond max timestamp"
    assert (
        convert(c.timestamp, uint256) <= block.timestamp + convert(self.max_clock_skew, uint256)
    ), "registry: commissioning time in the future"
    assert (
        c.generatedWh <= _MASK48 and c.consumedWh <= _MASK48 and c.exportedWh <= _MASK48 and c.importedWh <= _MASK48
    ), "registry: commissioning register too large"
    return (
        convert(c.timestamp, uint256)
        | _BASELINE_BIT
        | (c.generatedWh << _SHIFT_GEN)
        | (c.consumedWh << _SHIFT_CONS)
        | (c.exportedWh << _SHIFT_EXP)
        | (c.importedWh << _SHIFT_IMP)
    )


@internal
@pure
def _pack_info(owner: address, method: uint8, active: bool, accepted: bool, power: uint256) -> uint256:
    word: uint256 = convert(owner, uint256) | (convert(method, uint256) << _SHIFT_METHOD) | (power << _SHIFT_POWER)
    if active:
        word |= 1 << _SHIFT_ACTIVE
    if accepted:
        word |= 1 << _SHIFT_ACCEPTED
    return word


@internal
@pure
def _info_owner(info: uint256) -> address:
    return convert(convert(info & (2**160 - 1), uint160), address)


@internal
@pure
def _info_method(info: uint256) -> uint8:
    return convert((info >> _SHIFT_METHOD) & 255, uint8)


@internal
@pure
def _info_active(info: uint256) -> bool:
    return (info >> _SHIFT_ACTIVE) & 1 == 1


@internal
@pure
def _info_accepted(info: uint256) -> bool:
    return (info >> _SHIFT_ACCEPTED) & 1 == 1


@internal
@pure
def _info_power(info: uint256) -> uint256:
    return info >> _SHIFT_POWER
