"""The slot job: verify every signed reading of a slot and build its tree, on Dask.

Work is split into chunks of readings; each chunk is one Dask task that checks
every signature (libsecp256k1 through coincurve: recover the key from the
65-byte signature, compare its address with the reading's meter, low s and v in
{27, 28} as the registry demands) and returns the leaves of the readings that
pass. The driver then sorts the leaves and builds the tree (gridmint/merkle.py).

By default the job runs on an in-process `distributed.LocalCluster` (one worker
process per core); pass a scheduler address (`tcp://host:8786`) to spread the
same job over many machines. Nothing here is a scheduler of our own: chunks are
plain Dask tasks.

Readings are compact rows:
    (meter 20 bytes, timestamp s, generated Wh, consumed Wh, exported Wh, imported Wh, signature 65 bytes)
and travel between processes packed as fixed 125-byte records (`pack_rows`): meter 20, timestamp 8,
four registers of 6 bytes each (the registry's 48-bit Wh counters) padded to 8, signature 65. A chunk of
a slot is then one `bytes` object, which moves between Dask workers at memory speed; leaves come back
packed the same way (32 bytes each).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from coincurve import PublicKey

from gridmint import merkle
from gridmint.merkle import keccak, struct_hash_of

# secp256k1 group order; a low-s signature has s <= N // 2 (EIP-2, as the registry checks)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

Row = tuple  # (meter20: bytes, ts: int, gen: int, cons: int, exp: int, imp: int, sig65: bytes)

_HALF_N = SECP256K1_N // 2
DEFAULT_CHUNK_ROWS = 20_000
RECORD_BYTES = 20 + 8 + 4 * 8 + 65
_MAX_REGISTER_WH = 2**48 - 1


def pack_rows(rows: Sequence[Row]) -> bytes:
    """Fixed 125-byte records of compact rows (registers must fit the registry's 48 bits)."""
    out = bytearray()
    for meter, ts, gen, cons, exp, imp, sig in rows:
        if len(meter) != 20 or len(sig) != 65 or max(gen, cons, exp, imp) > _MAX_REGISTER_WH:
            raise ValueError("row does not fit a record")
        out += meter + ts.to_bytes(8, "big") + gen.to_bytes(8, "big") + cons.to_bytes(8, "big")
        out += exp.to_bytes(8, "big") + imp.to_bytes(8, "big") + sig
    return bytes(out)


def unpack_rows(blob: bytes) -> list[Row]:
    if len(blob) % RECORD_BYTES:
        raise ValueError("not a whole number of records")
    f = int.from_bytes
    return [
        (blob[i : i + 20], f(blob[i + 20 : i + 28], "big"), f(blob[i + 28 : i + 36], "big"), f(blob[i + 36 : i + 44], "big"),
         f(blob[i + 44 : i + 52], "big"), f(blob[i + 52 : i + 60], "big"), blob[i + 60 : i + 125])
        for i in range(0, len(blob), RECORD_BYTES)
    ]


def verify_packed(blob: bytes, separator: bytes, known: frozenset[bytes] | None = None) -> tuple[bytes, list[int]]:
    """`verify_chunk` over packed records: (the passing leaves packed 32 bytes each, refused indices)."""
    leaves, bad = verify_chunk(unpack_rows(blob), separator, known)
    return b"".join(leaves), bad


def struct_hash_row(row: Row) -> bytes:
    """hashStruct(Reading) of a compact row (the same bytes as oracle.eip712.struct_hash)."""
    return struct_hash_of(*row[:6])


def recover_address(digest32: bytes, sig65: bytes) -> bytes | None:
    """The 20-byte signer of `digest32`, or None for a malformed, high-s or unrecoverable signature."""
    if len(sig65) != 65:
        return None
    v = sig65[64]
    if v not in (27, 28) or int.from_bytes(sig65[32:64], "big") > _HALF_N:
        return None
    try:
        pub = PublicKey.from_signature_and_message(sig65[:64] + bytes([v - 27]), digest32, hasher=None)
    except Exception:  # coincurve raises a bare Exception for an unrecoverable signature
        return None
    return keccak(pub.format(compressed=False)[1:])[-20:]


def verify_chunk(rows: Sequence[Row], separator: bytes, known: frozenset[bytes] | None = None) -> tuple[list[bytes], list[int]]:
    """(leaves of the rows whose signature is their meter's, indices of the others). `known`, when
    given, is the set of 20-byte meter addresses the registry knows: others are refused too."""
    leaves: list[bytes] = []
    bad: list[int] = []
    prefix = b"\x19\x01" + separator
    for i, row in enumerate(rows):
        sh = struct_hash_row(row)
        sig = row[6]
        signer = recover_address(keccak(prefix + sh), sig)
        if signer is None or signer != row[0] or (known is not None and signer not in known):
            bad.append(i)
            continue
        leaves.append(keccak(sh + sig))
    return leaves, bad


@dataclass
class SlotResult:
    tree: merkle.ReadingTree
    refused: int
    seconds_verify: float
    seconds_build: float
    timings: dict = field(default_factory=dict)

    @property
    def root(self) -> bytes:
        return self.tree.root


def _chunks(rows: Sequence[Row], size: int) -> Iterable[Sequence[Row]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def local_client(workers: int | None = None):
    """An in-process Dask LocalCluster client: one single-threaded worker process per core
    (signature checks hold the GIL between coincurve calls, so processes, not threads)."""
    import os

    from distributed import Client, LocalCluster

    import dask

    n = workers or os.cpu_count() or 1
    # a loaded machine can take longer than the 30 s defaults to move a chunk
    dask.config.set({"distributed.comm.timeouts.connect": "120s", "distributed.comm.timeouts.tcp": "300s"})
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def connect(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: the scheduler at `scheduler` (tcp://host:port) or a new LocalCluster."""
    if scheduler:
        from distributed import Client

        return Client(scheduler)
    return local_client(workers)


def run_slot(
    rows: Sequence[Row] | Sequence[object],
    separator: bytes,
    client=None,
    known: frozenset[bytes] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> SlotResult:
    """Verifies every row and builds the slot's tree. With `client=None` the job runs in this
    process (small slots; the relay's default); with a Dask client the chunks run as tasks, each on
    a packed chunk. `rows` may also be Dask futures of packed chunks already on the workers (the
    bench signs them there): then only 32-byte leaves travel back."""
    t0 = time.perf_counter()
    leaves: list[bytes] = []
    refused = 0
    if client is None:
        for chunk in _chunks(rows, chunk_rows):
            ok, bad = verify_chunk(chunk, separator, known)
            leaves.extend(ok)
            refused += len(bad)
    else:
        from distributed import Future

        if rows and isinstance(rows[0], Future):
            packed = list(rows)
        else:
            packed = [pack_rows(chunk) for chunk in _chunks(rows, chunk_rows)]
        # `known` (20 bytes a meter) travels with each task: a set is small next to a chunk of records
        futures = [client.submit(verify_packed, chunk, separator, known, pure=False) for chunk in packed]
        for fut in futures:
            ok, bad = fut.result()
            leaves.extend(ok[i : i + 32] for i in range(0, len(ok), 32))
            refused += len(bad)
            fut.release()
    t1 = time.perf_counter()
    if not leaves:
        raise ValueError("no valid reading in this slot")
    tree = merkle.ReadingTree(leaves)
    t2 = time.perf_counter()
    return SlotResult(tree, refused, t1 - t0, t2 - t1)
