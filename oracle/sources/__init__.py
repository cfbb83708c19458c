"""Meter sources: each turns its input (MQTT payloads, P1 telegrams, a replay file, a simulator
driven by real weather and load profiles) into register values in Wh and hands them to a `Sink`
(the daemon's `oracle.ingest.Ingestor`). Data flows forward only: no source imports ingestion."""

from __future__ import annotations

from typing import Protocol

from ..eip712 import Reading


class SourceError(Exception):
    """A source cannot start (broker unreachable, login or TLS refused); the message is one line."""


class Sink(Protocol):
    """Where a source delivers samples (`oracle.ingest.Ingestor` is one)."""

    def ingest(self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None,
               input_id: str | None = None) -> bool:
        """Stores one sample (Wh; `timestamp` in unix seconds); True once it is durable."""

    def refuse(self, source: str, kind: str, detail: str, meter: str | None = None):
        """Counts and logs an input that cannot be used (`kind` labels the metric)."""

    def last(self, meter: str) -> Reading | None:
        """The meter's newest reading (stored or on chain), if any."""
