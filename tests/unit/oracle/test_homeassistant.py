"""Home Assistant discovery and state payloads (pure)."""

import json

from oracle.homeassistant import discovery_messages, state_payload

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_discovery_messages__one_owner__three_retained_sensors_on_one_device():
    messages = dict(discovery_messages(OWNER, "homeassistant", "gridmint"))
    node = "gridmint_" + OWNER.lower()
    assert sorted(messages) == [
        f"homeassistant/sensor/{node}/last_reading/config",
        f"homeassistant/sensor/{node}/storage_days/config",
        f"homeassistant/sensor/{node}/watt/config",
    ]
    watt = json.loads(messages[f"homeassistant/sensor/{node}/watt/config"])
    assert watt["state_topic"] == f"gridmint/{OWNER.lower()}/state"
    assert watt["unit_of_measurement"] == "kWh" and watt["device_class"] == "energy_storage"
    assert watt["value_template"] == "{{ value_json.watt_kwh }}"
    devices = {json.dumps(json.loads(m)["device"]) for m in messages.values()}
    assert len(devices) == 1


def test_state_payload__held_watt_and_paid_rent__kwh_days_and_iso_time():
    now = 1_795_428_000
    doc = json.loads(state_payload(2_018_230, now + 88 * 86_400 + 8_640, now - 60, now))
    assert doc == {"watt_kwh": 2018.23, "storage_days": 88.1, "last_reading": "2026-11-23T09:59:00+00:00"}
    assert json.loads(state_payload(0, 2**256 - 1, None, now)) == {"watt_kwh": 0.0, "storage_days": None, "last_reading": None}
