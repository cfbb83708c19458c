"""Pure parsers for real meter payloads -> register values in Wh.

Registers are the four of DESIGN.md: generated_wh, consumed_wh, exported_wh,
imported_wh. Every parser either returns integers (cumulative Wh, floored:
a cumulative counter floored stays monotonic and never claims energy not yet
measured) or raises `MalformedInput` with a short kind used as a metric label.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Mapping

REGISTERS = ("generated_wh", "consumed_wh", "exported_wh", "imported_wh")

# the default register maps of the supported devices (register -> dotted JSON path)
TASMOTA_ENERGY = {"generated_wh": "ENERGY.Total"}  # a Tasmota plug behind a PV inverter
TASMOTA_SML = {"imported_wh": "SML.Total_in", "exported_wh": "SML.Total_out"}  # IR head on the grid meter
SHELLY_EMDATA = {"imported_wh": "total_act", "exported_wh": "total_act_ret"}  # Shelly Pro 3EM emdata:0

UNIT_SCALE = {"kWh": Decimal(1000), "Wh": Decimal(1)}


class MalformedInput(ValueError):
    """Input that must not be signed; `kind` labels the rejects metric."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def to_wh(value: Any, unit: str) -> int:
    """A counter value in `unit` -> whole Wh, floored. Rejects bools, NaN, negatives and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise MalformedInput("bad_value", f"not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedInput("bad_value", f"not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise MalformedInput("bad_value", f"not a counter value: {value!r}")
    try:
        scale = UNIT_SCALE[unit]
    except KeyError:
        raise MalformedInput("bad_value", f"unknown unit {unit!r}") from None
    return int((number * scale).to_integral_value(rounding=ROUND_FLOOR))


def _path(doc: Any, dotted: str) -> Any:
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MalformedInput("missing_field", f"no {dotted!r} in payload")
        node = node[part]
    return node


def _json(payload: bytes | str) -> Any:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedInput("bad_json", exc.__class__.__name__) from None
    if not isinstance(doc, dict):
        raise MalformedInput("bad_json", "payload is not a JSON object")
    return doc


def _registers(doc: Any, keymap: Mapping[str, str], unit: str) -> dict[str, int]:
    out = {}
    for register, dotted in keymap.items():
        if register not in REGISTERS:
            raise ValueError(f"unknown register {register!r}")  # a config error, not input
        out[register] = to_wh(_path(doc, dotted), unit)
    return out


def parse_tasmota(payload: bytes | str, keymap: Mapping[str, str] = TASMOTA_ENERGY, unit: str = "kWh") -> dict[str, int]:
    """A Tasmota `tele/<device>/SENSOR` payload (`ENERGY.Total` or an SML script's keys, in kWh)."""
    return _registers(_json(payload), keymap, unit)


def parse_shelly(
    topic: str, payload: bytes | str, keymap: Mapping[str, str] = SHELLY_EMDATA
) -> tuple[float | None, dict[str, int]]:
    """A Shelly Pro 3EM energy counter in Wh, in either of its MQTT shapes:

    - `<prefix>/status/emdata:0`: the component status object itself;
    - `<prefix>/events/rpc` with `{"method": "NotifyStatus", "params": {"ts": ..., "emdata:0": {...}}}`.

    Returns (device timestamp or None, registers)."""
    doc = _json(payload)
    if topic.endswith("/events/rpc"):
        if doc.get("method") not in ("NotifyStatus", "NotifyFullStatus"):
            raise MalformedInput("missing_field", "not a NotifyStatus event")
        params = doc.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("emdata:0"), dict):
            raise MalformedInput("missing_field", "no emdata:0 in event")
        ts = params.get("ts")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, (int, float))):
            raise MalformedInput("bad_value", "ts is not a number")
        return ts, _registers(params["emdata:0"], keymap, "Wh")
    if topic.endswith("/status/emdata:0"):
        return None, _registers(doc, keymap, "Wh")
    raise MalformedInput("unknown_topic", topic)


# ------------------------------------------------------------------ DSMR P1

_P1_PARSER = None


def _p1_parser():
    global _P1_PARSER
    if _P1_PARSER is None:
        from dsmr_parser import telegram_specifications
        from dsmr_parser.parsers import TelegramParser

        _P1_PARSER = TelegramParser(telegram_specifications.V5, apply_checksum_validation=True)
    return _P1_PARSER


def parse_p1(telegram: str) -> tuple[datetime | None, dict[str, int]]:
    """A DSMR 5 P1 telegram: its CRC is checked first (a wrong CRC raises `bad_crc`), then
    `1-0:1.8.x` (delivered to the client = imported) and `1-0:2.8.x` (delivered by the client =
    exported) are summed over the tariffs. Returns (the telegram's own timestamp, registers)."""
    from dsmr_parser.exceptions import InvalidChecksumError, ParseError

    parser = _p1_parser()
    try:
        parser.validate_checksum(telegram)
    except InvalidChecksumError:
        raise MalformedInput("bad_crc", "P1 telegram CRC mismatch") from None
    except ParseError:
        raise MalformedInput("bad_telegram", "incomplete P1 telegram") from None
    try:
        parsed = parser.parse(telegram, throw_ex=True)
    except Exception as exc:  # dsmr-parser raises several types for bad lines
        raise MalformedInput("bad_telegram", exc.__class__.__name__) from None

    def total(names) -> int | None:
        values = [getattr(parsed, name).value for name in names if hasattr(parsed, name)]
        if not values:
            return None
        return int((sum(values, Decimal(0)) * 1000).to_integral_value(rounding=ROUND_FLOOR))

    imported = total(("ELECTRICITY_USED_TARIFF_1", "ELECTRICITY_USED_TARIFF_2"))
    exported = total(("ELECTRICITY_DELIVERED_TARIFF_1", "ELECTRICITY_DELIVERED_TARIFF_2"))
    if imported is None or exported is None:
        raise MalformedInput("missing_field", "no 1.8.x / 2.8.x registers in telegram")
    stamp = getattr(parsed, "P1_MESSAGE_TIMESTAMP", None)
    ts = None if stamp is None else stamp.value
    return ts, {"imported_wh": imported, "exported_wh": exported}
