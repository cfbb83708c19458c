"""The community relay: takes signed readings from gateways, commits each slot, credits by policy.

It holds no meter key (gateways sign at the edge) and one gas key. Every reading
is checked before any gas is spent: the signature recovers to the reading's
meter (low s, as the registry demands), the meter is registered, active and
accepted on chain, the reading is newer than every reading already held or
credited for that meter (a replay or an old reading is refused), its counters
never fall, it is not from the future, and its slot is still open.

Outbox (SQLite, WAL): a reading is stored before it is acknowledged. A slot is
committed in three durable steps, so a kill -9 at any point loses nothing and
commits nothing twice:
  built -> the root, leaf count and archive are on disk (the slot is closed: no
           reading joins it any more, so its root can never change);
  sent  -> the signed commit transaction (its hash and raw bytes) is on disk
           before it is broadcast; after a crash it is re-broadcast as is (same
           nonce: a node takes it at most once) or found mined;
  done  -> the chain holds the root (`root_of(relay, slot)`).
The chain's own rule (one root per slot per relay, never replaced) backs it.

Crediting policy: `every` (each reading, as a central oracle does), `hours:N`
(a meter's newest reading once N hours have passed since its last credit),
`demand` (only `credit_now(meters)`, e.g. before its owner trades). Anyone may
credit a reading with `submit_readings` or `ReadingLog.credit_proven`.

Data of a slot: an archive file (JSON lines, one signed reading per line,
sorted by leaf) whose keccak256 is the commit's `data_ref`; `data_uri` is where
it is served (`archive_base_url` + file name, or a file:// path).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eth_hash.auto import keccak
from eth_utils import to_canonical_address, to_checksum_address

from gridmint import merkle
from gridmint.blobs import BLOB_BYTES, BLOB_PAYLOAD_MAX, blob_of, payload_of_blob, versioned_hash_of  # noqa: F401
from gridmint.slots import SLOT_S, has_ended, slot_of
from gridmint.slotjob import recover_address, run_slot
from oracle.eip712 import Domain, Reading, struct_hash

DATA_CALLDATA, DATA_BLOB, DATA_ARCHIVE = 1, 2, 3
# the registry stores registers as 48-bit Wh counters (MeterRegistry.MAX_REGISTER_WH)
MAX_REGISTER_WH = 2**48 - 1

# Refusal reasons (the relay's, before any gas; words for logs and HTTP bodies).
REFUSED = {
    "bad_signature": "the signature is not the meter's key",
    "unknown_meter": "the meter is not registered, active and accepted",
    "replayed": "this reading was already received",
    "stale": "not after the newest reading of this meter",
    "counter_down": "a register fell below the meter's previous reading",
    "future": "the reading's time lies ahead of the relay's clock beyond the allowed skew",
    "slot_closed": "its slot has already been committed",
    "malformed": "the reading or signature is malformed",
}


class RelayChain(Protocol):
    """What the relay needs from the chain (a web3 port, or boa in unit tests)."""

    address: str

    def now(self) -> int: ...
    def meter_status(self, meter: str) -> tuple[bool, int, tuple]: ...  # (may credit, last accepted s, its 4 registers Wh)
    def root_of(self, slot: int) -> bytes: ...
    def prepare_commit(self, slot: int, root: bytes, count: int, kind: int, ref: bytes, uri: str) -> tuple[str, bytes]: ...
    def broadcast(self, raw: bytes) -> None: ...
    def receipt_status(self, tx_hash: str) -> int | None: ...  # 1 mined ok, 0 reverted, None unknown
    def submit(self, readings: list[Reading], signatures: list[bytes]) -> dict[tuple[str, int], int]: ...


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # a key of REFUSED when refused

    @property
    def words(self) -> str:
        return REFUSED.get(self.reason, "")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    meter TEXT NOT NULL, timestamp INTEGER NOT NULL, slot INTEGER NOT NULL,
    generated_wh INTEGER NOT NULL, consumed_wh INTEGER NOT NULL,
    exported_wh INTEGER NOT NULL, imported_wh INTEGER NOT NULL,
    signature BLOB NOT NULL, leaf BLOB NOT NULL,
    credit_state TEXT NOT NULL DEFAULT 'pending',  -- pending | credited | rejected:<code> | superseded
    PRIMARY KEY (meter, timestamp));
CREATE INDEX IF NOT EXISTS readings_slot ON readings (slot);
CREATE TABLE IF NOT EXISTS slots (
    slot INTEGER PRIMARY KEY, state TEXT NOT NULL,  -- built | sent | done
    root BLOB NOT NULL, leaf_count INTEGER NOT NULL, data_kind INTEGER NOT NULL,
    data_ref BLOB NOT NULL, data_uri TEXT NOT NULL,
    tx_hash TEXT, raw_tx BLOB);
CREATE TABLE IF NOT EXISTS credits (meter TEXT PRIMARY KEY, credited_at INTEGER NOT NULL);
"""


class RelayStore:
    """The relay's durable outbox."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()


def _row_reading(row) -> Reading:
    return Reading(row[0], row[1], row[2], row[3], row[4], row[5])


class Relay:
    """Receives, commits and credits; thread-safe (one lock around the store)."""

    def __init__(
        self,
        store: RelayStore,
        chain: RelayChain,
        domain: Domain,
        archive_dir: Path,
        slot_s: int = SLOT_S,
        max_clock_skew_s: int = 300,
        policy: str = "hours:24",
        archive_base_url: str | None = None,
        crash_at: str | None = None,
        data: str = "archive",
    ):
        self.store, self.chain, self.domain = store, chain, domain
        self.separator = domain.separator
        self.archive_dir = Path(archive_dir)
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        self.slot_s, self.skew = slot_s, max_clock_skew_s
        self.policy = parse_policy(policy)
        self.archive_base_url = archive_base_url
        if data not in ("archive", "blob"):
            raise ValueError(f"slot data goes to an archive or a blob, not {data!r}")
        self.data = data  # "blob": in the commit's own blob when it fits, else the archive
        self._crash_at = crash_at  # tests only: "after_send" kills the process right after broadcasting
        self._lock = threading.RLock()
        self._trees: dict[int, merkle.ReadingTree] = {}

    # ------------------------------------------------------------ receive

    def receive(self, reading: Reading, signature: bytes) -> Verdict:
        """Checks a signed reading before any gas is spent and stores it if it passes."""
        try:
            meter = to_checksum_address(reading.meter)
            sh = struct_hash(reading)
        except (ValueError, TypeError):
            return Verdict(False, "malformed")
        if len(signature) != 65:
            return Verdict(False, "malformed")
        signer = recover_address(keccak(b"\x19\x01" + self.separator + sh), signature)
        if signer is None or signer != to_canonical_address(meter):
            return Verdict(False, "bad_signature")
        if reading.timestamp > self.chain.now() + self.skew:
            return Verdict(False, "future")
        with self._lock:
            db = self.store.db
            if db.execute("SELECT 1 FROM readings WHERE meter=? AND timestamp=?", (meter, reading.timestamp)).fetchone():
                return Verdict(False, "replayed")
            may_credit, last_on_chain, regs_on_chain = self.chain.meter_status(meter)
            if not may_credit:
                return Verdict(False, "unknown_meter")
            prev = db.execute(
                "SELECT timestamp, generated_wh, consumed_wh, exported_wh, imported_wh FROM readings "
                "WHERE meter=? ORDER BY timestamp DESC LIMIT 1", (meter,)).fetchone()
            if reading.timestamp <= last_on_chain or (prev and reading.timestamp <= prev[0]):
                return Verdict(False, "stale")
            # monotonic against the newest reading held here and the registry's last accepted one
            floors = [regs_on_chain] + ([prev[1:]] if prev else [])
            if any(new < old for floor in floors for new, old in zip(reading[2:], floor)):
                return Verdict(False, "counter_down")
            if max(reading[2:]) > MAX_REGISTER_WH:
                return Verdict(False, "malformed")
            slot = slot_of(reading.timestamp, self.slot_s)
            if db.execute("SELECT 1 FROM slots WHERE slot=?", (slot,)).fetchone():
                return Verdict(False, "slot_closed")
            db.execute(
                "INSERT INTO readings (meter, timestamp, slot, generated_wh, consumed_wh, exported_wh, imported_wh,"
                " signature, leaf) VALUES (?,?,?,?,?,?,?,?,?)",
                (meter, reading.timestamp, slot, *reading[2:], signature, keccak(sh + signature)),
            )
        return Verdict(True)

    # ------------------------------------------------------------ commit

    def open_slots(self) -> list[int]:
        with self._lock:
            return [s for (s,) in self.store.db.execute(
                "SELECT DISTINCT slot FROM readings WHERE slot NOT IN (SELECT slot FROM slots) ORDER BY slot")]

    def commit_ready(self, client=None) -> list[int]:
        """Commits every ended slot (and finishes any commit a crash interrupted); returns the slots done."""
        done = []
        now = self.chain.now()
        for slot in self.open_slots():
            if has_ended(slot, now, self.slot_s):
                self._build(slot, client)
        with self._lock:
            pending = [s for (s,) in self.store.db.execute("SELECT slot FROM slots WHERE state != 'done' ORDER BY slot")]
        for slot in pending:
            if self._finish(slot):
                done.append(slot)
        return done

    def _build(self, slot: int, client=None) -> None:
        with self._lock:
            rows = self.store.db.execute(
                "SELECT meter, timestamp, generated_wh, consumed_wh, exported_wh, imported_wh, signature "
                "FROM readings WHERE slot=?", (slot,)).fetchall()
            compact = [(to_canonical_address(r[0]), *r[1:6], r[6]) for r in rows]
            result = run_slot(compact, self.separator, client)  # every signature again, as the auditor will
            tree = result.tree
            by_leaf = {keccak(struct_hash(_row_reading(r)) + r[6]): r for r in rows}
            path = self.archive_dir / f"slot-{slot}.jsonl"
            body = b"".join(
                json.dumps(archive_line(_row_reading(by_leaf[leaf]), by_leaf[leaf][6]), separators=(",", ":")).encode() + b"\n"
                for leaf in tree.levels[0]
            )
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(body)
            tmp.replace(path)
            uri = f"{self.archive_base_url.rstrip('/')}/{path.name}" if self.archive_base_url else path.resolve().as_uri()
            kind, ref = DATA_ARCHIVE, keccak(body)
            if self.data == "blob" and len(body) <= BLOB_PAYLOAD_MAX:
                kind, ref = DATA_BLOB, versioned_hash_of(blob_of(body))  # the archive stays as a copy
            self.store.db.execute(
                "INSERT INTO slots (slot, state, root, leaf_count, data_kind, data_ref, data_uri) VALUES (?,?,?,?,?,?,?)",
                (slot, "built", tree.root, tree.leaf_count, kind, ref, uri))
            self._trees[slot] = tree

    def _finish(self, slot: int) -> bool:
        with self._lock:
            state, root, count, kind, ref, uri, tx_hash, raw = self.store.db.execute(
                "SELECT state, root, leaf_count, data_kind, data_ref, data_uri, tx_hash, raw_tx FROM slots WHERE slot=?",
                (slot,)).fetchone()
            on_chain = self.chain.root_of(slot)
            if on_chain == root:
                self.store.db.execute("UPDATE slots SET state='done' WHERE slot=?", (slot,))
                return True
            if on_chain != b"\0" * 32:
                raise RuntimeError(f"slot {slot}: the chain holds another root of this relay")
            if state == "sent":
                status = self.chain.receipt_status(tx_hash)
                if status == 0:
                    state = "built"  # reverted (e.g. out of gas): sign it again
                elif status is None:
                    self.chain.broadcast(raw)  # the same signed transaction: the node takes it once
            if state == "built":
                if kind == DATA_BLOB:
                    body = (self.archive_dir / f"slot-{slot}.jsonl").read_bytes()
                    tx_hash, raw = self.chain.prepare_commit_blob(slot, root, count, body, uri)
                else:
                    tx_hash, raw = self.chain.prepare_commit(slot, root, count, DATA_ARCHIVE, ref, uri)
                self.store.db.execute("UPDATE slots SET state='sent', tx_hash=?, raw_tx=? WHERE slot=?", (tx_hash, raw, slot))
                self.chain.broadcast(raw)
                if self._crash_at == "after_send":
                    import os
                    import signal

                    os.kill(os.getpid(), signal.SIGKILL)
            if self.chain.root_of(slot) == root:
                self.store.db.execute("UPDATE slots SET state='done' WHERE slot=?", (slot,))
                return True
            return False

    # ------------------------------------------------------------ credit

    def credit_due(self, now: int | None = None) -> int:
        """Credits by policy; returns how many readings the registry accepted."""
        kind, hours = self.policy
        if kind == "demand":
            return 0
        now = self.chain.now() if now is None else now
        with self._lock:
            meters = [m for (m,) in self.store.db.execute("SELECT DISTINCT meter FROM readings WHERE credit_state='pending'")]
            due = []
            for m in meters:
                last = self.store.db.execute("SELECT credited_at FROM credits WHERE meter=?", (m,)).fetchone()
                if kind == "every" or last is None or now - last[0] >= hours * 3_600:
                    due.append(m)
        return self.credit_now(due, every=(kind == "every"), now=now)

    def credit_now(self, meters: list[str], every: bool = False, now: int | None = None) -> int:
        """Submits each meter's newest held reading (all pending ones with `every`); anyone could."""
        now = self.chain.now() if now is None else now
        picked: list[tuple] = []
        with self._lock:
            db = self.store.db
            for m in (to_checksum_address(x) for x in meters):
                rows = db.execute(
                    "SELECT meter, timestamp, generated_wh, consumed_wh, exported_wh, imported_wh, signature FROM readings "
                    "WHERE meter=? AND credit_state='pending' ORDER BY timestamp", (m,)).fetchall()
                if not rows:
                    continue
                if not every:
                    db.executemany("UPDATE readings SET credit_state='superseded' WHERE meter=? AND timestamp=?",
                                   [(r[0], r[1]) for r in rows[:-1]])
                    rows = rows[-1:]
                picked.extend(rows)
        accepted = 0
        for i in range(0, len(picked), 64):
            batch = picked[i : i + 64]
            outcome = self.chain.submit([_row_reading(r) for r in batch], [r[6] for r in batch])
            with self._lock:
                for r in batch:
                    code = outcome.get((r[0], r[1]), 0)
                    state = "credited" if code == 0 else f"rejected:{code}"
                    accepted += code == 0
                    self.store.db.execute("UPDATE readings SET credit_state=? WHERE meter=? AND timestamp=?", (state, r[0], r[1]))
                    self.store.db.execute(
                        "INSERT INTO credits (meter, credited_at) VALUES (?, ?) ON CONFLICT(meter) DO UPDATE SET credited_at=?",
                        (r[0], now, now))
        return accepted

    # ------------------------------------------------------------ proofs

    def proof(self, meter: str, timestamp: int) -> dict | None:
        """The proof of a committed reading, as `/proof/<meter>/<timestamp>` serves it (None: not committed)."""
        with self._lock:
            try:
                meter = to_checksum_address(meter)
            except ValueError:
                return None
            row = self.store.db.execute(
                "SELECT meter, timestamp, generated_wh, consumed_wh, exported_wh, imported_wh, signature, leaf, slot "
                "FROM readings WHERE meter=? AND timestamp=?", (meter, timestamp)).fetchone()
            if row is None:
                return None
            slot = row[8]
            rec = self.store.db.execute("SELECT state, root FROM slots WHERE slot=?", (slot,)).fetchone()
            if rec is None or rec[0] != "done":
                return None
            tree = self._tree(slot)
            leaf = row[7]
            if tree.root != rec[1]:  # not the committed set (cannot happen unless the store was edited)
                return None
            try:
                path = tree.proof(leaf)
            except KeyError:  # refused by the slot job: not in the root
                return None
            return {
                "committer": self.chain.address,
                "slot": slot,
                "root": "0x" + rec[1].hex(),
                "reading": archive_line(_row_reading(row), row[6]),
                "leaf": "0x" + leaf.hex(),
                "proof": ["0x" + p.hex() for p in path],
            }

    def _tree(self, slot: int) -> merkle.ReadingTree:
        if slot not in self._trees:
            leaves = [leaf for (leaf,) in self.store.db.execute("SELECT leaf FROM readings WHERE slot=?", (slot,))]
            if len(self._trees) > 64:
                self._trees.pop(next(iter(self._trees)))
            self._trees[slot] = merkle.ReadingTree(leaves)
        return self._trees[slot]

    def status(self) -> dict:
        with self._lock:
            db = self.store.db
            return {
                "readings": db.execute("SELECT COUNT(*) FROM readings").fetchone()[0],
                "pending_credit": db.execute("SELECT COUNT(*) FROM readings WHERE credit_state='pending'").fetchone()[0],
                "slots": dict(db.execute("SELECT state, COUNT(*) FROM slots GROUP BY state").fetchall()),
            }


def archive_line(reading: Reading, signature: bytes) -> dict:
    """One signed reading as the archive and the proof endpoint write it."""
    return {
        "meter": to_checksum_address(reading.meter),
        "timestamp": reading.timestamp,
        "generatedWh": reading.generated_wh,
        "consumedWh": reading.consumed_wh,
        "exportedWh": reading.exported_wh,
        "importedWh": reading.imported_wh,
        "signature": "0x" + signature.hex(),
    }


def parse_archive_line(obj: dict) -> tuple[Reading, bytes]:
    """The inverse of `archive_line`; raises ValueError on a malformed line."""
    try:
        r = Reading(to_checksum_address(obj["meter"]), int(obj["timestamp"]), int(obj["generatedWh"]),
                    int(obj["consumedWh"]), int(obj["exportedWh"]), int(obj["importedWh"]))
        sig = bytes.fromhex(obj["signature"].removeprefix("0x"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed archive line: {exc}") from None
    return r, sig


def tx_hash_of(raw: bytes) -> str:
    """The hash of a signed transaction as nodes index it. A blob transaction travels in its network
    form (0x03 || rlp([tx, blobs, commitments, proofs])) but is hashed without the sidecar."""
    if raw[:1] == b"\x03":
        import rlp

        decoded = rlp.decode(raw[1:])
        if decoded and isinstance(decoded[0], list):  # network form: the first item is the transaction
            return "0x" + keccak(b"\x03" + rlp.encode(decoded[0])).hex()
    return "0x" + keccak(raw).hex()


def parse_policy(policy: str) -> tuple[str, int]:
    """`every` | `hours:N` | `demand` -> (kind, hours)."""
    if policy in ("every", "demand"):
        return policy, 0
    if policy.startswith("hours:"):
        try:
            hours = int(policy.split(":", 1)[1])
        except ValueError:
            hours = 0
        if hours > 0:
            return "hours", hours
    raise ValueError(f"credit policy must be every, hours:N (N >= 1) or demand, not {policy!r}")


# ---------------------------------------------------------------- a web3 port


class Web3RelayChain:
    """The relay's chain port over web3.py with a local gas account (it holds no meter key)."""

    def __init__(self, w3, account, registry_address: str, registry_abi: list, log_address: str, log_abi: list):
        self.w3, self.account = w3, account
        self.address = account.address
        self.registry = w3.eth.contract(address=to_checksum_address(registry_address), abi=registry_abi)
        self.log = w3.eth.contract(address=to_checksum_address(log_address), abi=log_abi)
        self.gas_used: list[tuple[str, int]] = []  # ("commit" | "credit", whole-transaction gas) of this process
        self._counted: set[str] = set()

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def meter_status(self, meter: str) -> tuple[bool, int, tuple]:
        info = self.registry.functions.meters(meter).call()
        last = self.registry.functions.last_reading(meter).call()
        return bool(info[2] and info[3]), int(last[0]), tuple(int(x) for x in last[2:6])

    def root_of(self, slot: int) -> bytes:
        return bytes(self.log.functions.root_of(self.address, slot).call())

    def _sign(self, call, gas: int | None = None) -> tuple[str, bytes]:
        tx = call.build_transaction({
            "from": self.address, "chainId": self.w3.eth.chain_id,
            "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
        })
        if gas:
            tx["gas"] = gas
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    def prepare_commit(self, slot, root, count, kind, ref, uri) -> tuple[str, bytes]:
        return self._sign(self.log.functions.commit(slot, root, count, kind, ref, uri))

    def prepare_commit_blob(self, slot: int, root: bytes, count: int, payload: bytes, uri: str = "") -> tuple[str, bytes]:
        """A type-3 commit carrying the slot's data as its first blob; the contract records
        `blobhash(0)` as the data's reference (the data itself costs blob gas, not execution gas).
        """
        # gas given: an estimate without the blob would revert ("no blob"); a commit needs < 60,000
        tx = self.log.functions.commit(slot, root, count, DATA_BLOB, b"\0" * 32, uri).build_transaction({
            "from": self.address, "chainId": self.w3.eth.chain_id, "gas": 100_000,
            "nonce": self.w3.eth.get_transaction_count(self.address, "pending"),
        })
        tx["type"] = 3
        tx["maxFeePerBlobGas"] = max(1, int(self.w3.eth.blob_base_fee) * 2)
        tx.pop("gasPrice", None)
        signed = self.account.sign_transaction(tx, blobs=[blob_of(payload)])
        raw = bytes(signed.raw_transaction)
        return tx_hash_of(raw), raw

    def broadcast(self, raw: bytes) -> str:
        """Sends a signed transaction (again, after a crash or a retried request: the node takes it
        once) and waits for it to be mined; returns its hash."""
        from web3.exceptions import TimeExhausted, Web3RPCError

        tx_hash = tx_hash_of(raw)
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:  # already known / imported / nonce too low: sent before
            words = str(exc).lower()
            if not ("known" in words or "already imported" in words or "nonce" in words):
                raise
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        except TimeExhausted:
            return tx_hash  # a replaced nonce never mines this hash: `_finish` checks the root instead
        if tx_hash not in self._counted:  # a transaction sent twice is counted once
            self._counted.add(tx_hash)
            self.gas_used.append(("commit", int(receipt["gasUsed"])))
        return tx_hash

    def receipt_status(self, tx_hash: str) -> int | None:
        from web3.exceptions import TransactionNotFound

        try:
            return int(self.w3.eth.get_transaction_receipt(tx_hash)["status"])
        except TransactionNotFound:
            return None

    def submit(self, readings: list[Reading], signatures: list[bytes]) -> dict[tuple[str, int], int]:
        from oracle.chain import decode_outcomes

        tx_hash, raw = self._sign(self.registry.functions.submit_readings([r.as_call_arg() for r in readings], signatures))
        self.w3.eth.send_raw_transaction(raw)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        self.gas_used.append(("credit", int(receipt["gasUsed"])))
        accepted, rejected = decode_outcomes(receipt)
        out = {(to_checksum_address(r.meter), r.timestamp): 0 for r in readings}
        for (meter, ts), code in rejected.items():
            out[(to_checksum_address(meter), ts)] = code
        return out
