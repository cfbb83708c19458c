"""Decoded events, the one shape every part of the auditor reads.

`Event` is source-agnostic: the fetcher builds it from `eth_getLogs` through the ABIs of the
deployment record, the titanoboa tests from boa's raw logs, the synthetic year directly. Nothing
downstream knows where an event came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic, to_checksum_address


@dataclass(frozen=True, slots=True)
class Event:
    contract: str  # the contract's name in the deployment record, e.g. "WattToken"
    name: str  # the event's name, e.g. "ReadingAccepted"
    args: dict[str, Any]  # arguments by ABI name, in ABI order; addresses checksummed
    block: int  # block number
    log_index: int  # the log's index in its block
    tx: str  # transaction hash (0x-hex); a synthetic id for in-process sources
    timestamp: int  # block time, seconds since the epoch (UTC)


class UnknownEvent(ValueError):
    """A log of a known contract whose topic no ABI in the record names (the record is stale)."""


class Decoder:
    """Decodes raw logs of the record's contracts by their ABIs (topic0 -> event ABI per address).

    eth-abi does the decoding; the per-event type lists are prepared once and addresses are
    checksummed through a cache, so decoding costs tens of microseconds per log (web3's
    `get_event_data` costs about ten times more)."""

    def __init__(self, contracts: dict[str, dict]):
        """`contracts`: name -> {"address": ..., "abi": [...]}, as in deployments/<...>.json."""
        self.names: dict[str, str] = {}  # lower-case address -> contract name
        self._events: dict[tuple[str, bytes], tuple] = {}
        self._checksums: dict[str, str] = {}
        for name, entry in contracts.items():
            address = entry["address"].lower()
            self.names[address] = name
            for item in entry["abi"]:
                if item.get("type") == "event" and not item.get("anonymous"):
                    inputs = item["inputs"]
                    plan = [(i["name"], _abi_type(i), bool(i.get("indexed"))) for i in inputs]
                    data_types = [t for _, t, indexed in plan if not indexed]
                    self._events[(address, event_abi_to_log_topic(item))] = (item["name"], plan, data_types)

    def addresses(self, exclude: Iterable[str] = ()) -> list[str]:
        skip = set(exclude)
        return [to_checksum_address(a) for a, n in self.names.items() if n not in skip]

    def _checksum(self, a: str) -> str:
        c = self._checksums.get(a)
        if c is None:
            c = self._checksums[a] = to_checksum_address(a)
        return c

    def decode(self, address: str, topics: list[bytes], data: bytes, block: int, log_index: int, tx: str,
               timestamp: int) -> Event:
        address = address.lower()
        name = self.names.get(address)
        if name is None:
            raise UnknownEvent(f"log of {address}, which is not in the deployment record")
        entry = self._events.get((address, bytes(topics[0]) if topics else b""))
        if entry is None:
            raise UnknownEvent(f"{name} log {log_index} of block {block} has a topic its ABI does not name")
        event_name, plan, data_types = entry
        try:
            values = iter(abi_decode(data_types, bytes(data))) if data_types else iter(())
            args: dict[str, Any] = {}
            k = 1
            for arg, typ, indexed in plan:
                if indexed:
                    topic = bytes(topics[k])
                    k += 1
                    # dynamic types are indexed by their hash
                    value = "0x" + topic.hex() if _dynamic(typ) else abi_decode([typ], topic)[0]
                else:
                    value = next(values)
                args[arg] = self._plain(typ, value)
        except (IndexError, StopIteration, DecodingError) as e:
            raise UnknownEvent(f"{name} log {log_index} of block {block} does not decode as {event_name}: {e}") from None
        return Event(name, event_name, args, block, log_index, tx, timestamp)

    def _plain(self, typ: str, value: Any) -> Any:
        if typ == "address":
            return self._checksum(value)
        if isinstance(value, (list, tuple)):
            base = typ[: typ.index("[")] if "[" in typ else typ
            return [self._plain(base, v) for v in value]
        if isinstance(value, bytes):
            return "0x" + value.hex()
        return value


def _abi_type(item: dict) -> str:
    typ = item["type"]
    if typ.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + typ[len("tuple"):]
    return typ


def _dynamic(typ: str) -> bool:
    return typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")
