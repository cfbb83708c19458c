"""Parsers on the payload shapes real devices send, and on malformed ones."""

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dsmr_parser.parsers import TelegramParser

from oracle.sources.parsers import (
    TASMOTA_SML,
    MalformedInput,
    check_device_time,
    local_time,
    p1_time,
    parse_p1,
    parse_shelly,
    parse_tasmota,
    tasmota_time,
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
    assert ts == int(datetime(2026, 11, 23, 10, 30, 20, tzinfo=timezone.utc).timestamp())


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


# ------------------------------------------------------------------ real telegrams of several vendors

P1_DIR = Path(__file__).resolve().parents[2] / "data" / "p1"


def _read(name: str) -> str:
    return (P1_DIR / name).read_bytes().decode("ascii")  # CRLF kept: the CRC covers it


def _utc(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


# expected Wh worked out by hand from each telegram's text (sum of its tariff registers, in its unit)
VENDOR_TELEGRAMS = [
    # file, zone, crc, (imported Wh, exported Wh), timestamp
    # 1.8.1 001581.123 + 1.8.2 001435.706 kWh; 2.8.x 0; 161113205757W = 19:57:57 UTC
    ("v4_2.txt", "Europe/Amsterdam", True, (3_016_829, 0), _utc(2016, 11, 13, 19, 57, 57)),
    # 4.426 + 2.399 kWh; 2.444 + 0 kWh; 170102192002W
    ("v5.txt", "Europe/Amsterdam", True, (6_825, 2_444), _utc(2017, 1, 2, 18, 20, 2)),
    # Fluvius: 0.034 + 15.758 kWh; 0.000 + 0.011 kWh; 200512135409S = 11:54:09 UTC (CEST)
    ("fluvius_v171.txt", "Europe/Brussels", True, (15_792, 11), _utc(2020, 5, 12, 11, 54, 9)),
    # Sagemcom T210-D-R in Wh: 005017120 + 001528646 Wh (= 1.8.0 006545766); 0 + 58 Wh; 221006155014S
    ("sagemcom_t210_d_r.txt", "Europe/Vienna", True, (6_545_766, 58), _utc(2022, 10, 6, 13, 50, 14)),
    # Iskra Ireland: 10.181 + 10.182 kWh; 10.281 + 10.282 kWh; 230202132747S (Irish summer time flag)
    ("iskra_ie.txt", "Europe/Dublin", True, (20_363, 20_563), _utc(2023, 2, 2, 13, 27, 47)),
    # E.ON Hungary: tariffs 1-4 = 47.719 + 125.921 + 0 + 0 kWh; 401.829 + 225.348 + 0 + 0; 230724150730S
    ("v5_eon_hu.txt", "Europe/Budapest", True, (173_640, 627_177), _utc(2023, 7, 24, 13, 7, 30)),
    # DSMR 2.2 / 3: no CRC, no time: 1.001 + 1.001 kWh; 12345.678 x 2 kWh
    ("v2_2.txt", "Europe/Amsterdam", False, (2_002, 2_002), None),
    ("v3.txt", "Europe/Amsterdam", False, (24_691_356, 24_691_356), None),
]


@pytest.mark.parametrize("name, tz, crc, expected, ts", VENDOR_TELEGRAMS, ids=[v[0] for v in VENDOR_TELEGRAMS])
def test_parse_p1__vendor_telegram__registers_in_wh_and_device_time(name, tz, crc, expected, ts):
    telegram = _read(name)
    stamp, values = parse_p1(telegram, tz, require_crc=crc)
    assert (values["imported_wh"], values["exported_wh"]) == expected
    assert stamp == ts


def test_parse_p1__wh_meter__not_scaled_a_thousand_times():
    telegram = _read("sagemcom_t210_d_r.txt")
    assert "1-0:1.8.1(005017120*Wh)" in telegram
    _, values = parse_p1(telegram, "Europe/Vienna")
    assert values["imported_wh"] == 5_017_120 + 1_528_646


def test_parse_p1__tariffs_3_and_4__summed():
    lines = [line for line in P1_LINES if ":1.8." not in line] + [
        "1-0:1.8.1(000001.000*kWh)", "1-0:1.8.2(000002.000*kWh)", "1-0:1.8.3(000003.000*kWh)", "1-0:1.8.4(000004.000*kWh)",
    ]
    _, values = parse_p1(_telegram(lines))
    assert values["imported_wh"] == 10_000


def test_parse_p1__unknown_unit__refused():
    lines = [line.replace("000100.001*kWh", "000100.001*MWh") for line in P1_LINES]
    with pytest.raises(MalformedInput) as err:
        parse_p1(_telegram(lines))
    assert err.value.kind == "bad_unit" and "MWh" in err.value.detail


def test_parse_p1__no_crc_when_one_is_required__refused():
    telegram = _read("v2_2.txt")
    with pytest.raises(MalformedInput) as err:
        parse_p1(telegram)
    assert err.value.kind == "no_crc"


@pytest.mark.parametrize(
    "text, tz, expected",
    [
        ("2026-11-23T10:15:00", "Europe/Berlin", _utc(2026, 11, 23, 9, 15)),  # CET
        ("2026-07-01T10:15:00", "Europe/Berlin", _utc(2026, 7, 1, 8, 15)),  # CEST
        ("2026-07-01T10:15:00", "UTC", _utc(2026, 7, 1, 10, 15)),
        ("2026-07-01T10:15:00+02:00", "UTC", _utc(2026, 7, 1, 8, 15)),  # an offset wins over the zone
    ],
)
def test_local_time__device_local_clock__converted_with_the_meter_zone(text, tz, expected):
    assert local_time(text, tz) == expected


def test_p1_time__repeated_autumn_hour__summer_and_winter_flags_differ_by_an_hour():
    # 2026-10-25 02:30 happens twice in Amsterdam: first in CEST (S), then in CET (W)
    summer = p1_time("261025023000S", "Europe/Amsterdam")
    winter = p1_time("261025023000W", "Europe/Amsterdam")
    assert (summer, winter) == (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 1, 30))


@pytest.mark.parametrize(
    "ts, kind",
    [(5, "clock_unset"), (1_700_000_000 + 301, "clock_ahead"), ("x", "bad_time"), (float("nan"), "bad_time")],
)
def test_check_device_time__unset_or_ahead_clock__refused(ts, kind):
    with pytest.raises(MalformedInput) as err:
        check_device_time(ts, now=1_700_000_000)
    assert err.value.kind == kind


def test_tasmota_time__local_time_field__read_in_the_zone():
    assert tasmota_time(TASMOTA_ENERGY_PAYLOAD, "Europe/Berlin") == _utc(2026, 11, 23, 9, 15)
    assert tasmota_time('{"ENERGY": {"Total": 1}}', "Europe/Berlin") is None
    with pytest.raises(MalformedInput):
        tasmota_time('{"Time": "1970-01-01T00:00:0x"}', "UTC")
