"""Pure parsers for real meter payloads -> register values in Wh.

Registers are the four of DESIGN.md: generated_wh, consumed_wh, exported_wh,
imported_wh. Every parser either returns integers (cumulative Wh, floored:
a cumulative counter floored stays monotonic and never claims energy not yet
measured) or raises `MalformedInput` with a short kind used as a metric label.
"""

from __future__ import annotations

import json
import re
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


# ------------------------------------------------------------------ device time

# a device clock before this (2020-01-01 UTC) was never set: Tasmota reports 1970-01-01 until NTP syncs
EARLIEST_DEVICE_TIME = 1_577_836_800


def local_time(text: str, tz: str, *, dst: bool | None = None) -> int:
    """A device's local wall-clock time ("2026-11-23T10:15:00", or with an offset, which then wins)
    -> unix seconds. `tz` is an IANA zone ("Europe/Berlin"). In the hour a DST change repeats,
    `dst` picks the summer (True) or winter (False) reading; without it the first (summer) one."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        stamp = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise MalformedInput("bad_time", f"not a time: {text!r}") from None
    if stamp.tzinfo is None:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise MalformedInput("bad_time", f"unknown time zone {tz!r}") from None
        stamp = stamp.replace(tzinfo=zone, fold=0 if dst in (None, True) else 1)
    return int(stamp.timestamp())


def check_device_time(ts: float, now: float, max_ahead_s: float = 300.0) -> int:
    """A device timestamp fit to sign: whole seconds, set (after 2020), at most `max_ahead_s` ahead."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or ts != ts:
        raise MalformedInput("bad_time", f"not a timestamp: {ts!r}")
    if ts < EARLIEST_DEVICE_TIME:
        raise MalformedInput("clock_unset", f"device time {int(ts)} is before 2020 (clock not set)")
    if ts > now + max_ahead_s:
        raise MalformedInput("clock_ahead", f"device time {int(ts)} is {int(ts - now)} s ahead of ours")
    return int(ts)


def tasmota_time(payload: bytes | str, tz: str) -> int | None:
    """The `Time` of a Tasmota telemetry payload (the device's local time) in unix seconds, or None."""
    doc = _json(payload)
    if "Time" not in doc:
        return None
    return local_time(doc["Time"], tz)


# ------------------------------------------------------------------ DSMR P1

# P1 energy registers (OBIS): totals and tariffs 1-4; a telegram's unit per register (kWh or Wh)
P1_IMPORT_TARIFFS = ("1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.3", "1-0:1.8.4")
P1_EXPORT_TARIFFS = ("1-0:2.8.1", "1-0:2.8.2", "1-0:2.8.3", "1-0:2.8.4")
P1_IMPORT_TOTAL, P1_EXPORT_TOTAL = "1-0:1.8.0", "1-0:2.8.0"
P1_TIMESTAMP = "0-0:1.0.0"

_P1_PARSER = None


def _obis_name(code: str) -> str:
    return "R_" + code.replace("-", "_").replace(":", "_").replace(".", "_")


def _p1_parser():
    """One dsmr-parser spec for every vendor: the timestamp (raw, converted with the meter's zone)
    and the energy totals and tariff registers, with the unit each line carries."""
    global _P1_PARSER
    if _P1_PARSER is None:
        from dsmr_parser.parsers import CosemParser, TelegramParser, ValueParser

        objects = [{
            "obis_reference": r"^\d-\d:1\.0\.0.+?\r\n",
            "value_parser": CosemParser(ValueParser(str)),
            "value_name": _obis_name(P1_TIMESTAMP),
        }]
        for code in (P1_IMPORT_TOTAL, P1_EXPORT_TOTAL, *P1_IMPORT_TARIFFS, *P1_EXPORT_TARIFFS):
            a, b, c = code.split(":")[1].split(".")
            objects.append({
                "obis_reference": rf"^\d-\d:{a}\.{b}\.{c}.+?\r\n",
                "value_parser": CosemParser(ValueParser(Decimal)),
                "value_name": _obis_name(code),
            })
        _P1_PARSER = TelegramParser({"checksum_support": False, "objects": objects}, apply_checksum_validation=False)
    return _P1_PARSER


def p1_time(text: str, tz: str) -> int:
    """A P1 timestamp `YYMMDDhhmmssX` (X: S summer, W winter time) in the meter's zone -> unix seconds."""
    text = str(text).strip()
    if len(text) != 13 or not text[:12].isdigit() or text[12] not in "SW":
        raise MalformedInput("bad_time", f"not a P1 timestamp: {text!r}")
    iso = f"20{text[0:2]}-{text[2:4]}-{text[4:6]}T{text[6:8]}:{text[8:10]}:{text[10:12]}"
    return local_time(iso, tz, dst=text[12] == "S")


def _p1_wh(obj, code: str) -> int:
    unit = obj.unit
    if unit not in UNIT_SCALE:
        raise MalformedInput("bad_unit", f"{code} in {unit!r} (known: kWh, Wh)")
    return to_wh(obj.value, unit)


def parse_p1(telegram: str, tz: str = "Europe/Amsterdam", require_crc: bool = True) -> tuple[int | None, dict[str, int]]:
    """A DSMR P1 telegram (2.2 to 5, and the Belgian, Luxembourg, Irish, Hungarian variants).

    Its CRC is checked first (a wrong CRC raises `bad_crc`; a telegram without one, as DSMR 2.2/3
    send, is refused as `no_crc` unless `require_crc` is False). Each register is scaled by the unit
    the telegram gives it (kWh or Wh; any other unit is refused). Imported = `1-0:1.8.x`
    (delivered to the client), exported = `1-0:2.8.x` (delivered by the client): the sum of every
    tariff register present (1 to 4), or the total register `x.8.0` where the meter sends no
    tariffs. Returns (the telegram's own time in unix seconds, or None, registers)."""
    from dsmr_parser.exceptions import InvalidChecksumError, ParseError
    from dsmr_parser.parsers import TelegramParser

    has_crc = bool(re.search(r"![0-9A-Fa-f]{1,4}\s*$", telegram))
    if has_crc:
        try:
            TelegramParser.validate_checksum(telegram)
        except InvalidChecksumError:
            raise MalformedInput("bad_crc", "P1 telegram CRC mismatch") from None
        except ParseError:
            raise MalformedInput("bad_telegram", "incomplete P1 telegram") from None
    elif not telegram.lstrip().startswith("/") or "!" not in telegram:
        raise MalformedInput("bad_telegram", "incomplete P1 telegram")
    elif require_crc:
        raise MalformedInput("no_crc", "P1 telegram without a CRC (DSMR 2.2/3: set p1_crc = false)")
    try:
        parsed = _p1_parser().parse(telegram, throw_ex=True)
    except Exception as exc:  # dsmr-parser raises several types for bad lines
        raise MalformedInput("bad_telegram", exc.__class__.__name__) from None

    def total(tariffs, total_code) -> int | None:
        present = [(code, getattr(parsed, _obis_name(code))) for code in tariffs if hasattr(parsed, _obis_name(code))]
        if not present and hasattr(parsed, _obis_name(total_code)):
            present = [(total_code, getattr(parsed, _obis_name(total_code)))]
        if not present:
            return None
        return sum(_p1_wh(obj, code) for code, obj in present)

    imported = total(P1_IMPORT_TARIFFS, P1_IMPORT_TOTAL)
    exported = total(P1_EXPORT_TARIFFS, P1_EXPORT_TOTAL)
    if imported is None or exported is None:
        raise MalformedInput("missing_field", "no 1.8.x / 2.8.x registers in telegram")
    stamp = getattr(parsed, _obis_name(P1_TIMESTAMP), None)
    ts = None if stamp is None or not stamp.value else p1_time(stamp.value, tz)
    return ts, {"imported_wh": imported, "exported_wh": exported}
