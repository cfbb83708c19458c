"""Parsers on the payload shapes real devices send, and on malformed ones."""

import json
import math

import pytest
from dsmr_parser.parsers import TelegramParser

from oracle.sources.parsers import (
    TASMOTA_SML,
    MalformedInput,
    parse_p1,
    parse_shelly,
    parse_tasmota,
    to_wh,
)

# Tasmota 13 energy monitoring plug (tele/<device>/SENSOR)
TASMOTA_ENERGY_PAYLOAD = (
    '{"Time":"2026-11-23T10:15:00","ENERGY":{"TotalStartTime":"2025-04-01T09:12:44","Total":1234.567,'
    '"Yesterday":3.210,"Today":1.001,"Period":12,"Power":842,"ApparentPower":861,"ReactivePower":178,'
    '"Factor":0.98,"Voltage":231,"Current":3.725}}'
)
# Tasmota SML script on an IR read head (eBZ DD3), names as in the Tasmota docs
TASMOTA_SML_PAYLOAD = '{"Time":"2026-11-23T10:15:00","SML":{"Total_in":4711.0421,"Total_out":815.0007,"Power_curr":-523}}'
# Shelly Pro 3EM, Gen2 RPC notification and component status
SHELLY_NOTIFY = {
    "src": "shellypro3em-c8f09e8a1b2c",
    "dst": "shellypro3em-c8f09e8a1b2c/events",
    "method": "NotifyStatus",
    "params": {
        "ts": 1795428000.25,
        "emdata:0": {
            "id": 0,
            "a_total_act_energy": 700123.45,
            "b_total_act_energy": 650000.01,
            "c_total_act_energy": 651234.56,
            "total_act": 2001358.02,
            "total_act_ret": 98765.99,
        },
    },
}
SHELLY_STATUS = {"id": 0, "total_act": 2001358.02, "total_act_ret": 98765.99, "a_total_act_ret_energy": 1.0}


def _telegram(lines: list[str]) -> str:
    body = "/ISk5\\2MT382-1000\r\n\r\n" + "".join(line + "\r\n" for line in lines) + "!"
    return body + "%04X\r\n" % TelegramParser.crc16(body)


P1_LINES = [
    "1-3:0.2.8(50)",
    "0-0:1.0.0(261123113020W)",
    "0-0:96.1.1(4B384547303034303436333935353037)",
    "1-0:1.8.1(001234.567*kWh)",
    "1-0:1.8.2(000765.432*kWh)",
    "1-0:2.8.1(000100.001*kWh)",
    "1-0:2.8.2(000200.002*kWh)",
    "0-0:96.14.0(0002)",
    "1-0:1.7.0(01.193*kW)",
    "1-0:2.7.0(00.000*kW)",
]


def test_tasmota_energy_total_kwh_to_wh():
    assert parse_tasmota(TASMOTA_ENERGY_PAYLOAD) == {"generated_wh": 1_234_567}


def test_tasmota_sml_keymap_floors_sub_wh():
    assert parse_tasmota(TASMOTA_SML_PAYLOAD, TASMOTA_SML) == {"imported_wh": 4_711_042, "exported_wh": 815_000}


def test_shelly_notify_status_and_status_topic():
    ts, values = parse_shelly("shellypro3em-x/events/rpc", json.dumps(SHELLY_NOTIFY))
    assert ts == 1795428000.25
    assert values == {"imported_wh": 2_001_358, "exported_wh": 98_765}
    ts, values = parse_shelly("shellypro3em-x/status/emdata:0", json.dumps(SHELLY_STATUS))
    assert ts is None and values == {"imported_wh": 2_001_358, "exported_wh": 98_765}


def test_p1_sums_tariffs_and_reads_the_meter_clock():
    ts, values = parse_p1(_telegram(P1_LINES))
    assert values == {"imported_wh": 1_999_999, "exported_wh": 300_003}
    # "W" = winter time (CET): 11:30:20 local is 10:30:20 UTC
    assert ts.isoformat() == "2026-11-23T10:30:20+00:00"


@pytest.mark.parametrize(
    "payload, kind",
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b'{"Time": "2026-11-23T10:00:00"}', "missing_field"),
        (b'{"ENERGY": {"Total": "abc"}}', "bad_value"),
        (b'{"ENERGY": {"Total": -1.5}}', "bad_value"),
        (b'{"ENERGY": {"Total": true}}', "bad_value"),
        (b'{"ENERGY": {"Total": NaN}}', "bad_value"),
        (b'{"ENERGY": {"Total": null}}', "bad_value"),
    ],
)
def test_tasmota_malformed(payload, kind):
    with pytest.raises(MalformedInput) as err:
        parse_tasmota(payload)
    assert err.value.kind == kind


@pytest.mark.parametrize(
    "topic, doc, kind",
    [
        ("x/events/rpc", {"method": "NotifyEvent", "params": {}}, "missing_field"),
        ("x/events/rpc", {"method": "NotifyStatus", "params": {"ts": 1}}, "missing_field"),
        ("x/events/rpc", {"method": "NotifyStatus", "params": {"ts": "now", "emdata:0": {}}}, "bad_value"),
        ("x/status/emdata:0", {"id": 0, "total_act": 5}, "missing_field"),
        ("x/status/switch:0", {"id": 0}, "unknown_topic"),
    ],
)
def test_shelly_malformed(topic, doc, kind):
    with pytest.raises(MalformedInput) as err:
        parse_shelly(topic, json.dumps(doc))
    assert err.value.kind == kind


def test_p1_wrong_crc_is_refused_before_parsing():
    good = _telegram(P1_LINES)
    tampered = good.replace("001234.567", "009234.567")
    with pytest.raises(MalformedInput) as err:
        parse_p1(tampered)
    assert err.value.kind == "bad_crc"


def test_p1_incomplete_and_missing_registers():
    with pytest.raises(MalformedInput) as err:
        parse_p1("/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(001234.567*kWh)\r\n")
    assert err.value.kind == "bad_telegram"
    with pytest.raises(MalformedInput) as err:
        parse_p1(_telegram([line for line in P1_LINES if ":2.8." not in line]))
    assert err.value.kind == "missing_field"


def test_to_wh_is_exact_on_decimal_kwh():
    # 0.1 + 0.2 style float error must not lose a Wh: Decimal(str(x))
    assert to_wh(1.001, "kWh") == 1001
    assert to_wh(4711.0429999, "kWh") == 4_711_042
    assert to_wh(12, "Wh") == 12
    with pytest.raises(MalformedInput):
        to_wh(math.inf, "kWh")
    with pytest.raises(MalformedInput):
        to_wh(1, "MWh")
