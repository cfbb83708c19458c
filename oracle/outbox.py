"""The durable outbox: every signed reading lives here until the chain settles it.

SQLite in WAL mode with `synchronous=FULL`: `add()` returns only after the
row is on disk, so a source may acknowledge its input (an MQTT PUBACK, a
replay file offset) only after `add()` returned, and a kill -9 at any point
loses nothing.

A row's life:

    signed ──send──▶ submitted(tx) ──receipt──▶ accepted | rejected(reason)
       ▲                  │
       └──── tx lost / reverted / chain restarted (requeue) ◀┘

(meter, timestamp) is the key: the chain accepts at most one reading per
meter and timestamp (later ones are "stale"), so the key is also what makes
resubmission after a crash idempotent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gridmint.generated.contracts import REJECT_REASONS

from .eip712 import Reading

SIGNED = "signed"
SUBMITTED = "submitted"
ACCEPTED = "accepted"
REJECTED = "rejected"
STATES = (SIGNED, SUBMITTED, ACCEPTED, REJECTED)

# `ReadingRejected.reason` -> its name ("stale"), as MeterRegistry.vy defines them (generated)
REASONS = {code: reason.name for code, reason in REJECT_REASONS.items()}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    meter       TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    gen         TEXT    NOT NULL,
    cons        TEXT    NOT NULL,
    exp         TEXT    NOT NULL,
    imp         TEXT    NOT NULL,
    signature   BLOB    NOT NULL,
    source      TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'signed',
    tx_hash     TEXT,
    reason      INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL    NOT NULL DEFAULT 0,
    created_at  REAL    NOT NULL,
    settled_at  REAL,
    UNIQUE (meter, ts)
);
CREATE INDEX IF NOT EXISTS readings_state ON readings (state, id);
CREATE INDEX IF NOT EXISTS readings_tx ON readings (tx_hash);
-- the newest values of each input (device) of a meter; `fresh` = reported since the meter's last reading
CREATE TABLE IF NOT EXISTS inputs (
    meter       TEXT    NOT NULL,
    input       TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    registers   TEXT    NOT NULL,
    fresh       INTEGER NOT NULL DEFAULT 1,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (meter, input)
);
-- meters that stopped signing because a counter went down (device reset, meter swap)
CREATE TABLE IF NOT EXISTS halts (
    meter       TEXT PRIMARY KEY,
    input       TEXT,
    register    TEXT    NOT NULL,
    was         TEXT    NOT NULL,
    now         TEXT    NOT NULL,
    ts          INTEGER,
    created_at  REAL    NOT NULL
);
-- availability of the MQTT devices (Tasmota LWT, Shelly online)
CREATE TABLE IF NOT EXISTS devices (
    topic         TEXT PRIMARY KEY,
    online        INTEGER NOT NULL,
    offline_count INTEGER NOT NULL DEFAULT 0,
    changed_at    REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    tx_hash     TEXT PRIMARY KEY,
    nonce       INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    sent_at     REAL    NOT NULL,
    gas_used    INTEGER,
    status      INTEGER
);
"""


@dataclass(frozen=True)
class Row:
    id: int
    reading: Reading
    signature: bytes
    state: str
    tx_hash: str | None
    reason: int | None
    attempts: int


class Conflict(Exception):
    """A different sample already sits in the outbox under the same (meter, timestamp)."""


class Outbox:
    """Thread-safe: one connection per thread, writes serialized by SQLite's lock."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ intake

    def last_sample(self, meter: str) -> Reading | None:
        """The meter's newest sample in the outbox (any state): the base for the falling-counter check."""
        row = self._conn().execute(
            "SELECT meter, ts, gen, cons, exp, imp FROM readings WHERE meter = ? ORDER BY ts DESC LIMIT 1",
            (meter,),
        ).fetchone()
        return None if row is None else _reading(row)

    def has(self, reading: Reading) -> bool:
        """True if exactly this sample is stored."""
        return self._has(self._conn(), reading)

    @staticmethod
    def _has(conn: sqlite3.Connection, reading: Reading) -> bool:
        row = conn.execute(
            "SELECT meter, ts, gen, cons, exp, imp FROM readings WHERE meter = ? AND ts = ?",
            (reading.meter, reading.timestamp),
        ).fetchone()
        return row is not None and _reading(row) == reading

    def add(self, reading: Reading, signature: bytes, source: str) -> bool:
        """Stores a signed reading durably. True if new, False if this exact sample was already stored
        (a redelivered MQTT message, a replayed file). Raises `Conflict` for a different sample
        under the same key."""
        return self._insert(self._conn(), reading, signature, source)

    def record(
        self, meter: str, input_id: str, ts: int, values: dict[str, int],
        reading: Reading | None = None, signature: bytes | None = None, source: str = "",
    ) -> bool:
        """One input's newest values and, if they complete a reading, that signed reading: both in
        one transaction, so a crash keeps both or neither. A signed reading marks every input of the
        meter as used (not fresh). Returns what `add` returns (True if nothing was signed)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO inputs (meter, input, ts, registers, fresh, updated_at) VALUES (?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (meter, input) DO UPDATE SET ts = excluded.ts, registers = excluded.registers,"
                " fresh = 1, updated_at = excluded.updated_at",
                (meter, input_id, ts, json.dumps({k: str(v) for k, v in values.items()}), time.time()),
            )
            new = True
            if reading is not None:
                new = self._insert(conn, reading, signature, source)
                conn.execute("UPDATE inputs SET fresh = 0 WHERE meter = ?", (meter,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return new

    def inputs_of(self, meter: str) -> dict[str, tuple[int, dict[str, int], bool]]:
        """input -> (its device time, its newest register values, reported since the last reading)."""
        return {
            name: (int(ts), {k: int(v) for k, v in json.loads(regs).items()}, bool(fresh))
            for name, ts, regs, fresh in self._conn().execute(
                "SELECT input, ts, registers, fresh FROM inputs WHERE meter = ?", (meter,)
            )
        }

    # ------------------------------------------------------------------ alerts

    def halt(self, meter: str, input_id: str | None, register: str, was: int, now: int, ts: int | None) -> None:
        """Records that `meter` stops signing: `register` fell from `was` to `now` (kept until re-commissioned)."""
        self._conn().execute(
            "INSERT OR IGNORE INTO halts (meter, input, register, was, now, ts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (meter, input_id, register, str(was), str(now), ts, time.time()),
        )

    def halts(self) -> dict[str, dict]:
        return {
            meter: {"input": inp, "register": reg, "was_wh": int(was), "now_wh": int(now), "device_time": ts,
                    "since": created}
            for meter, inp, reg, was, now, ts, created in self._conn().execute(
                "SELECT meter, input, register, was, now, ts, created_at FROM halts"
            )
        }

    def device_seen(self, topic: str, online: bool) -> tuple[bool, bool]:
        """Records a device's availability; returns (it changed, it came back after being offline)."""
        conn = self._conn()
        row = conn.execute("SELECT online FROM devices WHERE topic = ?", (topic,)).fetchone()
        was = None if row is None else bool(row[0])
        if was == online:
            return False, False
        conn.execute(
            "INSERT INTO devices (topic, online, offline_count, changed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (topic) DO UPDATE SET online = excluded.online,"
            " offline_count = offline_count + excluded.offline_count, changed_at = excluded.changed_at",
            (topic, int(online), 0 if online else 1, time.time()),
        )
        return True, online and was is False

    def devices(self) -> dict[str, dict]:
        return {
            topic: {"online": bool(online), "offline_count": n, "since": changed}
            for topic, online, n, changed in self._conn().execute(
                "SELECT topic, online, offline_count, changed_at FROM devices"
            )
        }

    def _insert(self, conn: sqlite3.Connection, reading: Reading, signature: bytes, source: str) -> bool:
        try:
            conn.execute(
                "INSERT INTO readings (meter, ts, gen, cons, exp, imp, signature, source, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reading.meter,
                    reading.timestamp,
                    str(reading.generated_wh),
                    str(reading.consumed_wh),
                    str(reading.exported_wh),
                    str(reading.imported_wh),
                    signature,
                    source,
                    time.time(),
                ),
            )
            return True
        except sqlite3.IntegrityError:
            if self._has(conn, reading):
                return False
            raise Conflict(f"{reading.meter} already has a different sample at {reading.timestamp}") from None

    # --------------------------------------------------------------- submitter

    def next_batch(self, limit: int, now: float | None = None) -> list[Row]:
        """Oldest signed readings that are due, in insertion order (per meter ascending in time)."""
        now = time.time() if now is None else now
        rows = self._conn().execute(
            "SELECT id, meter, ts, gen, cons, exp, imp, signature, state, tx_hash, reason, attempts"
            " FROM readings WHERE state = 'signed' AND not_before <= ? ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [_row(r) for r in rows]

    def mark_submitted(self, ids: list[int], tx_hash: str, nonce: int) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT OR REPLACE INTO batches (tx_hash, nonce, size, sent_at) VALUES (?, ?, ?, ?)",
                (tx_hash, nonce, len(ids), time.time()),
            )
            conn.executemany(
                "UPDATE readings SET state = 'submitted', tx_hash = ?, attempts = attempts + 1 WHERE id = ?",
                [(tx_hash, i) for i in ids],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def in_flight(self) -> list[tuple[str, int, float]]:
        """(tx_hash, nonce, sent_at) of batches that still have submitted readings, by nonce."""
        return self._conn().execute(
            "SELECT b.tx_hash, b.nonce, b.sent_at FROM batches b WHERE EXISTS"
            " (SELECT 1 FROM readings r WHERE r.tx_hash = b.tx_hash AND r.state = 'submitted')"
            " ORDER BY b.nonce"
        ).fetchall()

    def rows_of_tx(self, tx_hash: str) -> list[Row]:
        rows = self._conn().execute(
            "SELECT id, meter, ts, gen, cons, exp, imp, signature, state, tx_hash, reason, attempts"
            " FROM readings WHERE tx_hash = ? AND state = 'submitted' ORDER BY id",
            (tx_hash,),
        ).fetchall()
        return [_row(r) for r in rows]

    def settle(
        self,
        tx_hash: str,
        outcomes: dict[tuple[str, int], int | None],
        gas_used: int | None,
        status: int | None,
    ) -> None:
        """Applies a mined batch: `outcomes[(meter, ts)]` is None for accepted, else the reject reason."""
        conn = self._conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for (meter, ts), reason in outcomes.items():
                conn.execute(
                    "UPDATE readings SET state = ?, reason = ?, settled_at = ? WHERE meter = ? AND ts = ?"
                    " AND state = 'submitted'",
                    (ACCEPTED if reason is None else REJECTED, reason, now, meter, ts),
                )
            conn.execute("UPDATE batches SET gas_used = ?, status = ? WHERE tx_hash = ?", (gas_used, status, tx_hash))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def requeue_tx(self, tx_hash: str, delay_s: float = 0.0) -> int:
        """Puts a lost or reverted batch's readings back to `signed` (retried after `delay_s`)."""
        cur = self._conn().execute(
            "UPDATE readings SET state = 'signed', tx_hash = NULL, not_before = ? WHERE tx_hash = ?"
            " AND state = 'submitted'",
            (time.time() + delay_s, tx_hash),
        )
        return cur.rowcount

    # ------------------------------------------------------------------ status

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for state, n in self._conn().execute("SELECT state, COUNT(*) FROM readings GROUP BY state"):
            out[state] = n
        return out

    def rejects_by_reason(self) -> dict[str, int]:
        return {
            REASONS.get(reason, str(reason)): n
            for reason, n in self._conn().execute(
                "SELECT reason, COUNT(*) FROM readings WHERE state = 'rejected' GROUP BY reason"
            )
        }

    def last_accepted(self) -> dict[str, int]:
        return dict(
            self._conn().execute("SELECT meter, MAX(ts) FROM readings WHERE state = 'accepted' GROUP BY meter")
        )

    def meters_summary(self) -> dict[str, dict]:
        """Per meter: newest accepted reading, newest rejected one with its reason, backlog."""
        conn = self._conn()
        out: dict[str, dict] = {}

        def entry(meter):
            return out.setdefault(meter, {"last_accepted": None, "last_rejected": None, "backlog": 0})

        for row in conn.execute(
            "SELECT r.meter, r.ts, r.gen, r.cons, r.exp, r.imp FROM readings r JOIN (SELECT meter, MAX(ts) AS ts"
            " FROM readings WHERE state = 'accepted' GROUP BY meter) m ON r.meter = m.meter AND r.ts = m.ts"
        ):
            reading = _reading(row)
            entry(reading.meter)["last_accepted"] = {
                "timestamp": reading.timestamp, "generated_wh": reading.generated_wh,
                "consumed_wh": reading.consumed_wh, "exported_wh": reading.exported_wh,
                "imported_wh": reading.imported_wh,
            }
        for meter, ts, reason in conn.execute(
            "SELECT r.meter, r.ts, r.reason FROM readings r JOIN (SELECT meter, MAX(ts) AS ts FROM readings"
            " WHERE state = 'rejected' GROUP BY meter) m ON r.meter = m.meter AND r.ts = m.ts"
        ):
            entry(meter)["last_rejected"] = {"timestamp": ts, "reason": reason, "reason_name": REASONS.get(reason)}
        for meter, n in conn.execute(
            "SELECT meter, COUNT(*) FROM readings WHERE state IN ('signed', 'submitted') GROUP BY meter"
        ):
            entry(meter)["backlog"] = n
        return out

    def accepted(self) -> list[Reading]:
        rows = self._conn().execute(
            "SELECT meter, ts, gen, cons, exp, imp FROM readings WHERE state = 'accepted' ORDER BY id"
        ).fetchall()
        return [_reading(r) for r in rows]

    def batch_gas_per_reading(self) -> list[int]:
        """Gas per reading of every settled batch."""
        return [
            gas // size
            for gas, size in self._conn().execute("SELECT gas_used, size FROM batches WHERE gas_used IS NOT NULL")
        ]

    def last_batch_gas(self) -> int | None:
        row = self._conn().execute(
            "SELECT gas_used FROM batches WHERE gas_used IS NOT NULL ORDER BY nonce DESC LIMIT 1"
        ).fetchone()
        return None if row is None else row[0]


def _reading(row) -> Reading:
    meter, ts, gen, cons, exp, imp = row
    return Reading(meter, int(ts), int(gen), int(cons), int(exp), int(imp))


def _row(r) -> Row:
    return Row(
        id=r[0],
        reading=_reading(r[1:7]),
        signature=bytes(r[7]),
        state=r[8],
        tx_hash=r[9],
        reason=r[10],
        attempts=r[11],
    )


# ------------------------------------------------------------ backfill and halts (module functions)


def states_of(outbox: Outbox, keys: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, int | None]]:
    """(state, reject reason) of each stored (meter, timestamp) in `keys`; keys not stored are left out."""
    conn = outbox._conn()
    out = {}
    for meter, ts in keys:
        row = conn.execute("SELECT state, reason FROM readings WHERE meter = ? AND ts = ?", (meter, ts)).fetchone()
        if row is not None:
            out[(meter, ts)] = (row[0], row[1])
    return out


class InFlight(Exception):
    """The meter has readings sent and not yet settled: the chain may have seen them."""


@dataclass(frozen=True)
class Unsent:
    """What the chain has never seen of a meter: signed readings not yet sent and its devices' stored values."""

    readings: int
    inputs: int


def unsent_of(outbox: Outbox, meter: str) -> Unsent:
    conn = outbox._conn()
    readings = conn.execute("SELECT COUNT(*) FROM readings WHERE meter = ? AND state = 'signed'", (meter,)).fetchone()[0]
    inputs = conn.execute("SELECT COUNT(*) FROM inputs WHERE meter = ?", (meter,)).fetchone()[0]
    return Unsent(readings, inputs)


def clear_halt(outbox: Outbox, meter: str, drop_unsent: bool) -> Unsent:
    """Lifts the halt of `meter`, in one transaction; with `drop_unsent` also deletes what the chain
    never saw of it: its signed, unsent readings and its devices' stored values (the next sample of
    each device is checked against the meter's last reading that remains). Raises `InFlight` if any
    of its readings are submitted and not settled, `KeyError` if it is not halted. Returns what was
    dropped (nothing without `drop_unsent`)."""
    conn = outbox._conn()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM halts WHERE meter = ?", (meter,)).fetchone() is None:
            raise KeyError(meter)
        if conn.execute("SELECT 1 FROM readings WHERE meter = ? AND state = 'submitted'", (meter,)).fetchone():
            raise InFlight(meter)
        dropped = Unsent(0, 0)
        if drop_unsent:
            readings = conn.execute("DELETE FROM readings WHERE meter = ? AND state = 'signed'", (meter,)).rowcount
            inputs = conn.execute("DELETE FROM inputs WHERE meter = ?", (meter,)).rowcount
            dropped = Unsent(readings, inputs)
        conn.execute("DELETE FROM halts WHERE meter = ?", (meter,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return dropped
