# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Reading log: one Merkle root per slot commits every signed reading
@custom:contract-name ReadingLog
@license GNU Affero General Public License v3.0 only
@notice A relay (appointed by the operator, holding no meter key) commits,
        once slot k has ended, the Merkle root of every signed reading it
        received for slot k, with where the readings are published: the
        calldata of a transaction (`DATA_CALLDATA`, `data_ref` = keccak256
        of the bytes, `data_uri` = "tx:<hash>"), an EIP-4844 blob carried
        by the commit itself (`DATA_BLOB`, `data_ref` = `blobhash(0)`), or
        an archive (`DATA_ARCHIVE`, `data_ref` = keccak256 of the file,
        `data_uri` = its address). One root per slot per relay, never
        replaced; a commit stores one word, so its gas does not depend on
        how many readings it covers.
        Leaf: keccak256(hashStruct(Reading) || 65-byte signature); tree:
        OpenZeppelin sorted pairs (see gridmint/merkle.py, docs/rules.md).
        Anyone can check a committed reading (`verify_reading`, a view for
        other contracts), record the proof on chain (`prove`, event
        `ReadingProven`) or credit it through the registry
        (`credit_proven`, which relays it to `submit_readings`: the same
        checks, the same idempotency).
        Non-standard functions: `set_relay`, `commit`, `prove`,
        `credit_proven`, views `is_relay`, `root_of`, `leaf_of`,
        `is_committed`, `verify_reading`, `REGISTRY`, `SLOT_S`.
@custom:security A root proves only that its relay committed those bytes;
        the meter's signature is what makes a reading true, and every view
        here that says "proven" checks it against the meter key the registry
        knows (a registered or retired meter address).
"""

# @dev Operator role: appoints relays.
from snekmate.auth import ownable

initializes: ownable

# @dev The one slot boundary (slot k = [k * SLOT_S, (k + 1) * SLOT_S)).
from .modules import slots

initializes: slots

exports: (ownable.owner, ownable.transfer_ownership, slots.SLOT_S)


struct Reading:
    meter: address
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


interface IReadingRegistry:
    def reading_digest(reading: Reading) -> bytes32: view
    def meters(meter: address) -> MeterInfo: view
    def retired(meter: address) -> bool: view
    def submit_readings(readings: DynArray[Reading, 64], signatures: DynArray[Bytes[65], 64]) -> uint256: nonpayable


# ---------------------------------------------------------------- CONSTANTS

_READING_TYPEHASH: constant(bytes32) = keccak256(
    "Reading(address meter,uint64 timestamp,uint256 generatedWh,uint256 consumedWh,uint256 exportedWh,uint256 importedWh)"
)
# @dev secp256k1n / 2: signatures with a larger `s` are malleable copies.
_MAX_S: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

# @dev Where a slot's readings are published.
DATA_CALLDATA: public(constant(uint8)) = 1
DATA_BLOB: public(constant(uint8)) = 2
DATA_ARCHIVE: public(constant(uint8)) = 3

# @dev The deepest proof accepted: trees of up to 2**32 leaves.
MAX_PROOF_DEPTH: public(constant(uint256)) = 32
MAX_LEAF_COUNT: public(constant(uint256)) = 2**32
MAX_URI_BYTES: constant(uint256) = 256

# ---------------------------------------------------------------- IMMUTABLES

# @dev The MeterRegistry whose meter keys and EIP-712 domain sign the readings.
REGISTRY: public(immutable(IReadingRegistry))

# ---------------------------------------------------------------- STORAGE

# @dev Relay address => may commit roots.
is_relay: public(HashMap[address, bool])

# @dev Relay address => slot => committed root (zero: none yet). Written once.
_roots: HashMap[address, HashMap[uint256, bytes32]]

# ---------------------------------------------------------------- EVENTS

event RootCommitted:
    committer: indexed(address)
    slot: indexed(uint256)
    root: bytes32
    leaf_count: uint256
    data_kind: uint8
    data_ref: bytes32
    data_uri: String[256]


event ReadingProven:
    committer: indexed(address)
    slot: indexed(uint256)
    meter: indexed(address)
    timestamp: uint64
    leaf: bytes32


event UpdateRelay:
    relay: indexed(address)
    enabled: bool


@deploy
def __init__(registry_: IReadingRegistry, slot_s_: uint256):
    """
    @dev The deployer becomes the operator.
    @param registry_ The 20-byte MeterRegistry address.
    @param slot_s_ The slot length in seconds: 1,800 or 900.
    """
    assert registry_.address != empty(address), "reading_log: zero registry"
    ownable.__init__()
    slots.__init__(slot_s_)
    REGISTRY = registry_


# ================================================================ OPERATOR


@external
def set_relay(relay: address, enabled: bool):
    """
    @notice Appoints or removes a relay (operator only). A removed relay's
            roots stay committed and provable.
    @param relay The 20-byte relay address (its gas key; it holds no meter key).
    @param enabled Whether it may commit.
    """
    ownable._check_owner()
    assert relay != empty(address), "reading_log: zero relay"
    self.is_relay[relay] = enabled
    log UpdateRelay(relay=relay, enabled=enabled)


# ================================================================ COMMIT


@external
def commit(
    slot: uint256, root: bytes32, leaf_count: uint256, data_kind: uint8, data_ref: bytes32, data_uri: String[256]
):
    """
    @notice Commits the root of every signed reading of `slot` the caller
            relayed (relays only, once slot `slot` has ended, once per slot).
    @param slot The 32-byte slot number (slot k covers [k * SLOT_S, (k + 1) * SLOT_S) s).
    @param root The 32-byte Merkle root (sorted pairs) of the slot's leaves.
    @param leaf_count The 32-byte number of distinct leaves, 1 .. 2**32.
    @param data_kind The 1-byte place of the data: 1 calldata, 2 blob, 3 archive.
    @param data_ref The 32-byte keccak256 of the published bytes (calldata,
           archive); for a blob the versioned hash of the commit's first blob
           (zero or equal to it).
    @param data_uri Up to 256 characters: "tx:<hash>" for calldata, the
           archive's address, empty for a blob.
    """
    assert self.is_relay[msg.sender], "reading_log: caller is not a relay"
    assert slots._has_ended(slot), "reading_log: slot not ended"
    assert root != empty(bytes32), "reading_log: zero root"
    assert leaf_count != 0 and leaf_count <= MAX_LEAF_COUNT, "reading_log: bad leaf count"
    assert self._roots[msg.sender][slot] == empty(bytes32), "reading_log: root already committed"
    ref: bytes32 = data_ref
    if data_kind == DATA_BLOB:
        ref = blobhash(0)
        assert ref != empty(bytes32), "reading_log: no blob"
        assert data_ref == empty(bytes32) or data_ref == ref, "reading_log: blob hash mismatch"
    else:
        assert data_kind == DATA_CALLDATA or data_kind == DATA_ARCHIVE, "reading_log: unknown data kind"
        assert data_ref != empty(bytes32), "reading_log: zero data ref"
        assert len(data_uri) != 0, "reading_log: empty data uri"
    self._roots[msg.sender][slot] = root
    log RootCommitted(
        committer=msg.sender,
        slot=slot,
        root=root,
        leaf_count=leaf_count,
        data_kind=data_kind,
        data_ref=ref,
        data_uri=data_uri,
    )


# ================================================================ PROVE


@external
def prove(
    committer: address, slot: uint256, reading: Reading, signature: Bytes[65], proof: DynArray[bytes32, MAX_PROOF_DEPTH]
):
    """
    @notice Records on chain that `reading` is committed in `committer`'s
            root of `slot` and signed by its meter's key; anyone may call
            (to dispute a certificate's slot, or show a withheld reading).
    @param committer The 20-byte relay that committed the root.
    @param slot The 32-byte slot the reading's timestamp lies in.
    @param reading The reading.
    @param signature The meter's 65-byte (r, s, v) signature.
    @param proof Up to 32 sibling hashes, leaf to root.
    """
    leaf: bytes32 = self._leaf(reading, signature)
    assert self._committed(committer, slot, reading.timestamp, leaf, proof), "reading_log: not committed"
    assert self._signed_by_meter(reading, signature), "reading_log: bad meter signature"
    log ReadingProven(committer=committer, slot=slot, meter=reading.meter, timestamp=reading.timestamp, leaf=leaf)


@external
def credit_proven(
    committer: address, slot: uint256, reading: Reading, signature: Bytes[65], proof: DynArray[bytes32, MAX_PROOF_DEPTH]
) -> bool:
    """
    @notice Credits a committed reading through the registry (anyone may
            call): the proof is checked here, then the reading is relayed to
            `submit_readings`, which applies every rule of a direct relay
            (signature, stale, lag, plausibility), so no reading credits
            twice whichever path carried it.
    @param committer The 20-byte relay that committed the root.
    @param slot The 32-byte slot the reading's timestamp lies in.
    @param reading The reading.
    @param signature The meter's 65-byte (r, s, v) signature.
    @param proof Up to 32 sibling hashes, leaf to root.
    @return bool Whether the registry accepted it (false: see its `ReadingRejected`).
    """
    leaf: bytes32 = self._leaf(reading, signature)
    assert self._committed(committer, slot, reading.timestamp, leaf, proof), "reading_log: not committed"
    # interaction last; this contract keeps no state the call could see half-written
    accepted: uint256 = extcall REGISTRY.submit_readings([reading], [signature])
    return accepted == 1


# ================================================================ VIEWS


@external
@view
def root_of(committer: address, slot: uint256) -> bytes32:
    """
    @notice The root `committer` committed for `slot` (zero: none).
    @param committer The 20-byte relay address.
    @param slot The 32-byte slot number.
    @return bytes32 The 32-byte root.
    """
    return self._roots[committer][slot]


@external
@view
def leaf_of(reading: Reading, signature: Bytes[65]) -> bytes32:
    """
    @notice The leaf of a signed reading: keccak256(hashStruct(reading) || signature).
    @param reading The reading.
    @param signature The 65-byte signature.
    @return bytes32 The 32-byte leaf.
    """
    return self._leaf(reading, signature)


@external
@view
def is_committed(
    committer: address, slot: uint256, reading: Reading, signature: Bytes[65], proof: DynArray[bytes32, MAX_PROOF_DEPTH]
) -> bool:
    """
    @notice Whether (reading, signature) is a leaf of `committer`'s root of
            `slot` and the reading's time lies in that slot. Does not check
            the signature (see `verify_reading`).
    @param committer The 20-byte relay address.
    @param slot The 32-byte slot number.
    @param reading The reading.
    @param signature The 65-byte signature.
    @param proof Up to 32 sibling hashes, leaf to root.
    @return bool Whether the proof leads to the committed root.
    """
    if len(signature) != 65:
        return False
    return self._committed(committer, slot, reading.timestamp, self._leaf(reading, signature), proof)


@external
@view
def verify_reading(
    committer: address, slot: uint256, reading: Reading, signature: Bytes[65], proof: DynArray[bytes32, MAX_PROOF_DEPTH]
) -> bool:
    """
    @notice Whether (reading, signature) is committed in `committer`'s root of
            `slot` and signed by the key of `reading.meter`, a meter the
            registry knows (registered, or retired by a key rotation). The
            view other contracts (certificates) call.
    @param committer The 20-byte relay address.
    @param slot The 32-byte slot number.
    @param reading The reading.
    @param signature The 65-byte signature (low s, v in {27, 28}).
    @param proof Up to 32 sibling hashes, leaf to root.
    @return bool Proven.
    """
    if len(signature) != 65:
        return False
    if not self._committed(committer, slot, reading.timestamp, self._leaf(reading, signature), proof):
        return False
    return self._signed_by_meter(reading, signature)


# ================================================================ INTERNAL


@internal
@pure
def _leaf(r: Reading, signature: Bytes[65]) -> bytes32:
    assert len(signature) == 65, "reading_log: signature not 65 bytes"
    struct_hash: bytes32 = keccak256(
        abi_encode(_READING_TYPEHASH, r.meter, r.timestamp, r.generatedWh, r.consumedWh, r.exportedWh, r.importedWh)
    )
    return keccak256(concat(struct_hash, signature))


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


@internal
@view
def _committed(
    committer: address, slot: uint256, timestamp: uint64, leaf: bytes32, proof: DynArray[bytes32, MAX_PROOF_DEPTH]
) -> bool:
    root: bytes32 = self._roots[committer][slot]
    if root == empty(bytes32):
        return False
    # a leaf proves a reading of its own slot only
    if slots._slot_of(convert(timestamp, uint256)) != slot:
        return False
    return self._process_proof(leaf, proof) == root


@internal
@view
def _signed_by_meter(r: Reading, signature: Bytes[65]) -> bool:
    """
    @dev The registry's signature rule: 65 bytes, v in {27, 28}, low s, the
         signer is `r.meter`, and the registry knows that meter address.
    """
    if len(signature) != 65:
        return False
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if s > _MAX_S or (v != 27 and v != 28):
        return False
    digest: bytes32 = staticcall REGISTRY.reading_digest(r)
    recovered: address = ecrecover(digest, v, extract32(signature, 0, output_type=uint256), s)
    if recovered == empty(address) or recovered != r.meter:
        return False
    info: MeterInfo = staticcall REGISTRY.meters(r.meter)
    return info.owner != empty(address) or staticcall REGISTRY.retired(r.meter)
