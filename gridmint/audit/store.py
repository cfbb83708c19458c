"""The auditor's incremental event store: SQLite (WAL), raw logs keyed by (block, log index).

A page of logs, the timestamps of their blocks and the new high-water mark are written in one
transaction, so a run that dies mid-fetch (the node vanished, kill -9) leaves the store at the
last whole page: the next run resumes there and, since rows are keyed by (block, log index),
re-reading a page replaces rows instead of duplicating them. The block hash at the high-water
mark is kept to notice a reorg; the tail is then dropped and read again.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx TEXT NOT NULL, address TEXT NOT NULL,
    topics BLOB NOT NULL, data BLOB NOT NULL, PRIMARY KEY (block, log_index)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, hash TEXT NOT NULL);
"""


class StoreMismatch(ValueError):
    """The store belongs to another deployment (chain id or addresses differ)."""


class EventStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---- identity
    def bind(self, chain_id: int, addresses: list[str], from_block: int) -> None:
        """Ties the store to one deployment; refuses a store filled for another."""
        identity = json.dumps({"chain_id": chain_id, "addresses": sorted(a.lower() for a in addresses)})
        stored = self.get("identity")
        if stored is None:
            with self.db:
                self._set("identity", identity)
                self._set("from_block", str(from_block))
                self._set("fetched_to", str(from_block - 1))
        elif stored != identity:
            raise StoreMismatch(f"{self.path} holds events of another deployment; use another --store")

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def from_block(self) -> int:
        return int(self.get("from_block") or 0)

    @property
    def fetched_to(self) -> int:
        return int(self.get("fetched_to") or -1)

    @property
    def fetched_to_hash(self) -> str | None:
        return self.get("fetched_to_hash")

    # ---- writes
    def add_page(self, logs: list[dict], blocks: dict[int, tuple[int, str]], fetched_to: int,
                 fetched_to_hash: str | None) -> None:
        """One page in one transaction: logs (eth_getLogs shape), {number: (timestamp, hash)}, mark."""
        rows = [
            (int(log["blockNumber"], 16), int(log["logIndex"], 16), log["transactionHash"], log["address"].lower(),
             b"".join(bytes.fromhex(t[2:]) for t in log["topics"]), bytes.fromhex(log["data"][2:]))
            for log in logs if not log.get("removed")
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?)",
                                [(n, ts, h) for n, (ts, h) in blocks.items()])
            self._set("fetched_to", str(fetched_to))
            if fetched_to_hash is not None:
                self._set("fetched_to_hash", fetched_to_hash)

    def rewind(self, to_block: int) -> None:
        """Drops everything after `to_block` (a reorg reached the stored tail)."""
        with self.db:
            self.db.execute("DELETE FROM logs WHERE block > ?", (to_block,))
            self.db.execute("DELETE FROM blocks WHERE number > ?", (to_block,))
            self._set("fetched_to", str(max(to_block, self.from_block - 1)))
            self.db.execute("DELETE FROM meta WHERE key = 'fetched_to_hash'")

    # ---- reads
    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM logs").fetchone()[0]

    def known_blocks(self, numbers: set[int]) -> set[int]:
        if not numbers:
            return set()
        found = set()
        items = sorted(numbers)
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            q = f"SELECT number FROM blocks WHERE number IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.db.execute(q, chunk))
        return found

    def block(self, number: int) -> tuple[int, str] | None:
        row = self.db.execute("SELECT timestamp, hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return (row[0], row[1]) if row else None

    def raw_logs(self, to_block: int | None = None) -> Iterator[tuple]:
        """(block, log_index, tx, address, [topics], data, timestamp) in chain order."""
        q = ("SELECT l.block, l.log_index, l.tx, l.address, l.topics, l.data, b.timestamp FROM logs l "
             "JOIN blocks b ON b.number = l.block")
        args: tuple = ()
        if to_block is not None:
            q += " WHERE l.block <= ?"
            args = (to_block,)
        for block, index, tx, address, topics, data, ts in self.db.execute(q + " ORDER BY l.block, l.log_index", args):
            yield block, index, tx, address, [topics[i:i + 32] for i in range(0, len(topics), 32)], data, ts
