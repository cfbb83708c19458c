"""Every committed slot root checked against its published data (ReadingLog.RootCommitted).

For each `RootCommitted(committer, slot, root, leaf_count, data_kind, data_ref, data_uri)`:
the published bytes are fetched (an archive at `data_uri`, or the calldata of the transaction
"tx:<hash>"), their keccak256 must be `data_ref`; each line is a signed reading (the relay's
archive line); every signature must be its meter's key for the registry's EIP-712 domain, every
reading must lie in `slot`, the distinct leaves must number `leaf_count` and build `root`
(gridmint/merkle.py). A blob's data lives on the consensus layer for ~18 days; the relay keeps a
copy of its payload at `data_uri`, checked here against the blob's versioned hash (KZG commitment);
with no copy reachable it is reported as not derivable.

`check_roots(events, separator, fetch)` -> findings; gridmint/audit/slot_parts.py runs it in the audit with the
registry's domain separator and `fetch_published` (or a fetcher of its own).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Callable, Iterable

from gridmint import merkle
from gridmint.audit.events import Event
from gridmint.audit.findings import INVARIANT, NOT_DERIVABLE, Finding
from gridmint.slotjob import verify_chunk
from gridmint.slots import SLOT_S, slot_of

CONTRACT = "ReadingLog"
DATA_CALLDATA, DATA_BLOB, DATA_ARCHIVE = 1, 2, 3

Fetch = Callable[[int, str, bytes], "bytes | None"]  # (data_kind, data_uri, data_ref) -> bytes or None


def fetch_published(w3=None, timeout_s: float = 30.0) -> Fetch:
    """A fetcher for archives (http(s)://, file://) and calldata ("tx:<hash>" through `w3`)."""

    def fetch(kind: int, uri: str, ref: bytes) -> bytes | None:
        # an archive, or the copy of a blob's payload the relay keeps at `data_uri` (checked against
        # the blob's versioned hash, so the copy proves the blob's content)
        if kind in (DATA_ARCHIVE, DATA_BLOB) and uri.startswith(("http://", "https://", "file://")):
            with urllib.request.urlopen(uri, timeout=timeout_s) as resp:
                return resp.read()
        if kind == DATA_CALLDATA and uri.startswith("tx:") and w3 is not None:
            return bytes(w3.eth.get_transaction(uri[3:])["input"])
        return None

    return fetch


def parse_published(body: bytes) -> list[tuple]:
    """Compact rows (meter20, ts, gen, cons, exp, imp, sig65) of a slot's JSON-lines data."""
    rows = []
    for line in body.splitlines():
        if not line.strip():
            continue
        o = json.loads(line)
        rows.append((
            bytes.fromhex(o["meter"][2:]), int(o["timestamp"]), int(o["generatedWh"]), int(o["consumedWh"]),
            int(o["exportedWh"]), int(o["importedWh"]), bytes.fromhex(o["signature"][2:]),
        ))
    return rows


def _b32(v) -> bytes:
    """A bytes32 event argument as bytes: the auditor's decoder gives 0x-hex, web3 and tests bytes."""
    return bytes.fromhex(v[2:]) if isinstance(v, str) else bytes(v)


def check_roots(events: Iterable[Event], separator: bytes, fetch: Fetch, slot_s: int = SLOT_S) -> list[Finding]:
    findings: list[Finding] = []
    for e in events:
        if e.contract != CONTRACT or e.name != "RootCommitted":
            continue
        a = e.args
        who, slot = a["committer"], a["slot"]

        def finding(kind, check, expected=None, actual=None, detail=""):
            findings.append(Finding(kind, check, CONTRACT, who, e.block, expected, actual, "", detail, slot * slot_s))

        try:
            body = fetch(a["data_kind"], a["data_uri"], _b32(a["data_ref"]))
        except OSError as exc:
            body = None
            detail = f"slot {slot}: data not reachable at {a['data_uri']!r} ({exc.__class__.__name__})"
        else:
            detail = f"slot {slot}: no fetcher for data kind {a['data_kind']} at {a['data_uri']!r}"
        if body is None:
            finding(NOT_DERIVABLE, "roots.data-unavailable", detail=detail)
            continue
        if a["data_kind"] == DATA_BLOB:
            from gridmint.blobs import BLOB_PAYLOAD_MAX, blob_of, versioned_hash_of

            got = versioned_hash_of(blob_of(body)) if len(body) <= BLOB_PAYLOAD_MAX else b""
        else:
            got = merkle.keccak(body)
        if got != _b32(a["data_ref"]):
            finding(INVARIANT, "roots.data-hash", "0x" + _b32(a["data_ref"]).hex(), "0x" + got.hex(),
                    detail=f"slot {slot}: published data does not hash to the committed data_ref")
            continue
        try:
            rows = parse_published(body)
        except (ValueError, KeyError, TypeError, IndexError):
            finding(INVARIANT, "roots.data-malformed", detail=f"slot {slot}: published data is not signed readings")
            continue
        outside = [r for r in rows if slot_of(r[1], slot_s) != slot]
        if outside:
            finding(INVARIANT, "roots.reading-outside-slot", 0, len(outside), detail=f"slot {slot}: readings of other slots")
        leaves, bad = verify_chunk(rows, separator)
        if bad:
            finding(INVARIANT, "roots.bad-signature", 0, len(bad), detail=f"slot {slot}: readings not signed by their meter")
        all_leaves = {merkle.leaf_of(_sh(r), r[6]) for r in rows}
        if len(all_leaves) != a["leaf_count"]:
            finding(INVARIANT, "roots.leaf-count", a["leaf_count"], len(all_leaves), detail=f"slot {slot}: leaf count")
        root = merkle.build_root(all_leaves) if all_leaves else b"\0" * 32
        if root != _b32(a["root"]):
            finding(INVARIANT, "roots.root", "0x" + root.hex(), "0x" + _b32(a["root"]).hex(),
                    detail=f"slot {slot}: the published readings do not build the committed root")
    return findings


def _sh(row) -> bytes:
    from gridmint.slotjob import struct_hash_row

    return struct_hash_row(row)
