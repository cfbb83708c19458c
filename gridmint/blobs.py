"""A slot's data in an EIP-4844 blob: encoding, decoding and the versioned hash the chain records.

A blob is 4,096 field elements of 32 bytes; each carries 31 data bytes (its first byte 0 keeps it
below the BLS12-381 modulus). The data starts with its length (4 bytes, big-endian), so a blob holds
at most 4,096 * 31 - 4 = 126,972 bytes: ~1,000 signed readings as JSON lines. The versioned hash is
0x01 || sha256(KZG commitment)[1:] (EIP-4844), computed with ckzg and the trusted setup eth-account
ships for signing blob transactions.
"""

from __future__ import annotations

import hashlib

# ckzg's loaded trusted setup, once per process
_KZG_SETUP = None

BLOB_BYTES = 4_096 * 32
# each 32-byte field element carries 31 data bytes (its first byte 0 keeps it below the BLS modulus);
# the first 4 data bytes are the payload's length
BLOB_PAYLOAD_MAX = 4_096 * 31 - 4


def blob_of(payload: bytes) -> bytes:
    """An EIP-4844 blob carrying `payload` (at most BLOB_PAYLOAD_MAX bytes: ~1,000 readings)."""
    if len(payload) > BLOB_PAYLOAD_MAX:
        raise ValueError(f"a blob carries at most {BLOB_PAYLOAD_MAX} bytes, not {len(payload)}")
    data = len(payload).to_bytes(4, "big") + payload
    out = bytearray()
    for i in range(0, len(data), 31):
        out += b"\0" + data[i : i + 31].ljust(31, b"\0")
    return bytes(out.ljust(BLOB_BYTES, b"\0"))


def versioned_hash_of(blob: bytes) -> bytes:
    """The EIP-4844 versioned hash of a blob: 0x01 || sha256(KZG commitment)[1:] (ckzg, with the
    trusted setup eth-account ships for signing blob transactions)."""
    import ckzg
    from eth_account.typed_transactions.base import TRUSTED_SETUP

    global _KZG_SETUP
    if _KZG_SETUP is None:
        _KZG_SETUP = ckzg.load_trusted_setup(TRUSTED_SETUP, 0)
    commitment = ckzg.blob_to_kzg_commitment(blob, _KZG_SETUP)
    return b"\x01" + hashlib.sha256(commitment).digest()[1:]


def payload_of_blob(blob: bytes) -> bytes:
    """The inverse of `blob_of`."""
    if len(blob) != BLOB_BYTES:
        raise ValueError("a blob is 131,072 bytes")
    data = b"".join(blob[i + 1 : i + 32] for i in range(0, BLOB_BYTES, 32))
    n = int.from_bytes(data[:4], "big")
    if n > BLOB_PAYLOAD_MAX:
        raise ValueError("not a gridmint blob")
    return data[4 : 4 + n]
