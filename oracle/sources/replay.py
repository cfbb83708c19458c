"""Replay (backfill) files: CSV or JSON lines of whole readings, checked in full before anything
is signed; `replay` hands each row to a sink and reports what became of it."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from eth_utils import is_address, to_checksum_address

from .parsers import REGISTERS

REPLAY_COLUMNS = ("meter", "timestamp", *REGISTERS)


class ReplayError(ValueError):
    """A backfill file that cannot be used as it is; the message names the line and the column."""


def read_replay(path: Path) -> Iterator[tuple[int, dict]]:
    """Rows of a replay file: CSV with the header `meter,timestamp,generated_wh,consumed_wh,
    exported_wh,imported_wh` (any order, no other columns), or JSON lines with those keys.
    Yields (line number, row); a wrong header or a line that is not a JSON object raises
    `ReplayError`."""
    path = Path(path)
    with open(path, newline="") as fh:
        if path.suffix in (".jsonl", ".ndjson", ".json"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict):
                    raise ReplayError(f"{path.name} line {n}: not a JSON object")
                yield n, row
        else:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in REPLAY_COLUMNS if c not in header]
            extra = [c for c in header if c not in REPLAY_COLUMNS]
            if missing or extra:
                what = f"no column {missing[0]}" if missing else f"unknown column {extra[0]!r}"
                raise ReplayError(f"{path.name} line 1 (header): {what}; the columns are {','.join(REPLAY_COLUMNS)}")
            for n, row in enumerate(reader, 2):
                yield n, row


def parse_replay_row(name: str, n: int, row: dict) -> tuple[str, int, dict[str, int]]:
    """(meter, timestamp, registers in Wh) of one replay row, or `ReplayError` naming line and column.
    `timestamp` is unix seconds or ISO 8601 (no zone = UTC); registers are whole Wh."""
    from gridmint.units import UnitError, parse_timestamp

    def bad(column: str, why: str) -> ReplayError:
        return ReplayError(f"{name} line {n}, column {column}: {why}")

    for column in REPLAY_COLUMNS:
        if row.get(column) in (None, ""):
            raise bad(column, "missing")
    unknown = sorted(set(row) - set(REPLAY_COLUMNS))
    if unknown:
        raise bad(unknown[0], "unknown column")
    meter = row["meter"]
    if not isinstance(meter, str) or not is_address(meter):
        raise bad("meter", f"not an address: {meter!r}")
    raw_ts = row["timestamp"]
    try:
        if isinstance(raw_ts, bool) or not isinstance(raw_ts, (int, str)):
            raise UnitError(str(raw_ts))
        ts = parse_timestamp(str(raw_ts))
    except UnitError:
        raise bad("timestamp", f"not a timestamp: {raw_ts!r} (unix seconds or ISO 8601)") from None
    if ts <= 0 or ts >= 2**56:
        raise bad("timestamp", f"out of range: {raw_ts!r}")
    values = {}
    for register in REGISTERS:
        raw = row[register]
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdigit():
            raise bad(register, f"not a whole number of Wh: {raw!r}")
        values[register] = int(text)
    return to_checksum_address(meter), ts, values


def check_replay(path: Path, meters: set[str] | None = None) -> int:
    """Reads the whole file before anything is signed; returns its row count or raises `ReplayError`
    at the first bad row (also for a meter without a key, when `meters` is given)."""
    count = 0
    for n, row in read_replay(Path(path)):
        meter, _ts, _values = parse_replay_row(Path(path).name, n, row)
        if meters is not None and meter not in meters:
            raise ReplayError(f"{Path(path).name} line {n}, column meter: no key for {meter} in the keystore")
        count += 1
    return count


class ReplaySink(Protocol):
    """What `replay` hands rows to (`oracle.ingest.Ingestor`): `process` answers with an outcome that
    has `stored`, `kind` (why refused), `detail` and `halted`."""

    def process(self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None,
                input_id: str | None = None): ...


@dataclass(frozen=True)
class RowResult:
    """What became of one row: `line` of the file, the row's meter and timestamp (s); `stored`
    (signed and stored now or before), else `kind` and `detail` say why it was refused;
    `halted`: this row halted its meter; `signed`: this run signed it."""

    line: int
    meter: str
    timestamp: int
    stored: bool
    kind: str | None = None
    detail: str = ""
    halted: bool = False
    signed: bool = False  # signed and stored by this run (False for a row stored before)


def replay(path: Path, sink: ReplaySink, progress: Callable[[int], None] | None = None) -> list[RowResult]:
    """Signs and stores every row of a replay file, in file order (idempotent: rows already stored
    are not signed again); rows the sink refuses (what the chain would refuse, a falling counter,
    a halted meter) are reported with their reason."""
    results = []
    for n, row in read_replay(Path(path)):
        meter, ts, values = parse_replay_row(Path(path).name, n, row)
        outcome = sink.process(meter, values, "replay", ts)
        results.append(RowResult(n, meter, ts, outcome.stored, outcome.kind, outcome.detail, outcome.halted,
                                 outcome.reading is not None))
        if progress:
            progress(1)
    return results
