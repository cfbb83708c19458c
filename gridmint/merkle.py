"""The reading tree: one Merkle root commits every signed reading of a slot.

Pure functions, no I/O; `contracts/ReadingLog.vy` checks proofs with the same rules.

Leaf (docs/rules.md spells it out):

    leaf = keccak256(hashStruct(Reading) || signature)

`hashStruct(Reading)` is the 32-byte EIP-712 struct hash of the reading (`struct_hash_of` here:
the contract's `abi_encode(_READING_TYPEHASH, ...)`; oracle/eip712.struct_hash gives the same bytes,
tests/unit/readinglog/test_merkle.py checks it),
`signature` the meter's 65-byte r || s || v signature of the reading's EIP-712
digest, exactly as `submit_readings` takes it. The preimage is 97 bytes, so a
leaf can never be confused with an inner node (the hash of 64 bytes).

Tree: sorted pairs, as OpenZeppelin's `MerkleProof.processProof`: a parent is
keccak256(min(a, b) || max(a, b)), comparing the 32-byte hashes as unsigned
integers; a proof is the list of sibling hashes from the leaf up, with no
left/right flags. Leaves are sorted ascending and deduplicated before the
tree is built, so the root of a set of readings does not depend on the order
they arrived in; on a level with an odd count the last node moves up
unchanged. The root of one leaf is that leaf; an empty slot has no root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_utils import to_canonical_address

# safe-pysha3 (pinned in requirements.lock): ~10x faster per call than eth_hash's auto backend,
# which matters on the 1M-leaf path; the same Keccak-256 (tests compare it with eth_hash)
from sha3 import keccak_256 as _keccak_256


def keccak(data: bytes) -> bytes:
    return _keccak_256(data).digest()


# The EIP-712 type of a reading, as MeterRegistry.vy and oracle/eip712.py spell it
READING_TYPE = (
    "Reading(address meter,uint64 timestamp,uint256 generatedWh,"
    "uint256 consumedWh,uint256 exportedWh,uint256 importedWh)"
)
READING_TYPEHASH = _keccak_256(READING_TYPE.encode()).digest()
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
SIGNATURE_BYTES = 65
# A proof of a tree of up to 2**32 leaves has at most 32 siblings (ReadingLog.MAX_PROOF_DEPTH).
MAX_PROOF_DEPTH = 32


def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    """The EIP-712 domain separator of the registry's domain (its `eip712Domain()` values): what every
    meter signature binds a reading to (chain id + registry address)."""
    return keccak(
        keccak(DOMAIN_TYPE.encode()) + keccak(name.encode()) + keccak(version.encode())
        + int(chain_id).to_bytes(32, "big") + bytes.fromhex(verifying_contract[2:]).rjust(32, b"\0")
    )


def leaf_of(struct_hash_32: bytes, signature_65: bytes) -> bytes:
    """The 32-byte leaf of a reading given its struct hash and 65-byte signature."""
    if len(struct_hash_32) != 32:
        raise ValueError("a struct hash is 32 bytes")
    if len(signature_65) != SIGNATURE_BYTES:
        raise ValueError("a signature is 65 bytes")
    return keccak(struct_hash_32 + signature_65)


def struct_hash_of(meter: bytes | str, timestamp: int, generated_wh: int, consumed_wh: int, exported_wh: int,
                   imported_wh: int) -> bytes:
    """hashStruct(Reading): keccak256 of the type hash and the six fields as 32-byte words."""
    m = meter if isinstance(meter, bytes) else to_canonical_address(meter)
    return _keccak_256(
        READING_TYPEHASH + m.rjust(32, b"\0") + b"".join(
            v.to_bytes(32, "big") for v in (timestamp, generated_wh, consumed_wh, exported_wh, imported_wh))
    ).digest()


def reading_leaf(reading, signature_65: bytes) -> bytes:
    """The 32-byte leaf of a signed reading: any 6-tuple (meter, timestamp, generated, consumed,
    exported, imported Wh), e.g. oracle.eip712.Reading."""
    return leaf_of(struct_hash_of(*reading[:6]), signature_65)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes: keccak256 of the smaller then the larger."""
    return _keccak_256(a + b).digest() if a <= b else _keccak_256(b + a).digest()


class ReadingTree:
    """A built tree: its levels (level 0 = sorted, deduplicated leaves) and an index of leaves."""

    __slots__ = ("levels", "_index")

    def __init__(self, leaves: Iterable[bytes]):
        level = sorted(set(leaves))
        if not level:
            raise ValueError("an empty slot has no tree")
        if any(len(x) != 32 for x in level):
            raise ValueError("leaves are 32 bytes")
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            nxt = [hash_pair(a, b) for a, b in zip(level[0::2], level[1::2])]
            if len(level) % 2:
                nxt.append(level[-1])
            self.levels.append(nxt)
            level = nxt
        self._index: dict[bytes, int] | None = None

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def leaf_count(self) -> int:
        return len(self.levels[0])

    def index_of(self, leaf: bytes) -> int:
        if self._index is None:
            self._index = {x: i for i, x in enumerate(self.levels[0])}
        try:
            return self._index[leaf]
        except KeyError:
            raise KeyError("leaf not in this tree") from None

    def proof(self, leaf: bytes) -> list[bytes]:
        """The sibling hashes from `leaf` up to the root (OpenZeppelin order)."""
        i = self.index_of(leaf)
        out = []
        for level in self.levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            i //= 2
        return out


def build_root(leaves: Iterable[bytes]) -> bytes:
    """The root of a set of leaves (see the module doc)."""
    return ReadingTree(leaves).root


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from `leaf` (OpenZeppelin `processProof`)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return len(proof) <= MAX_PROOF_DEPTH and process_proof(leaf, proof) == root
