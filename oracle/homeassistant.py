"""Home Assistant: each meter owner's WATT held, days of storage left and last accepted reading,
published over MQTT with Home Assistant's discovery topics (off by default: `[home_assistant]`).

    <discovery_prefix>/sensor/gridmint_<owner>/<object>/config   retained, one per sensor
    <state_prefix>/<owner>/state                                  retained JSON, every interval_s

The payload builders are pure functions; the publisher reads the chain and the outbox and sends.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from gridmint.units import MAX_UINT256, SECONDS_PER_DAY, WH_PER_KWH

from .sources.mqtt import MqttSettings, connect_checked, mqtt_client

log = logging.getLogger("gridmint.oracle.homeassistant")

# (object id, name, unit, device class, state class, JSON key of the state payload)
SENSORS = (
    ("watt", "WATT held", "kWh", "energy_storage", "measurement", "watt_kwh"),
    ("storage_days", "Days of storage left", "d", "duration", "measurement", "storage_days"),
    ("last_reading", "Last accepted reading", None, "timestamp", None, "last_reading"),
)


def discovery_messages(owner: str, discovery_prefix: str, state_prefix: str) -> list[tuple[str, str]]:
    """(topic, retained JSON payload) of the discovery configs of one owner's sensors."""
    node = f"gridmint_{owner.lower()}"
    state_topic = f"{state_prefix}/{owner.lower()}/state"
    out = []
    for object_id, name, unit, device_class, state_class, key in SENSORS:
        doc = {
            "name": name,
            "unique_id": f"{node}_{object_id}",
            "object_id": f"{node}_{object_id}",
            "state_topic": state_topic,
            "value_template": "{{ value_json.%s }}" % key,
            "device_class": device_class,
            "device": {"identifiers": [node], "name": f"gridmint {owner[:8]}…{owner[-4:]}", "manufacturer": "gridmint"},
        }
        if unit:
            doc["unit_of_measurement"] = unit
        if state_class:
            doc["state_class"] = state_class
        out.append((f"{discovery_prefix}/sensor/{node}/{object_id}/config", json.dumps(doc)))
    return out


def state_payload(watt_wh: int, paid_until: int, last_reading_ts: int | None, now: int) -> str:
    """The state JSON: kWh held (3 decimals, 1 WATT = 1 kWh), days of storage left (one decimal;
    null when nothing is stored), the last accepted reading as ISO 8601 UTC (null if none)."""
    days = None if paid_until >= MAX_UINT256 else round(max(paid_until - now, 0) / SECONDS_PER_DAY, 1)
    last = None
    if last_reading_ts:
        last = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(last_reading_ts))
    return json.dumps({"watt_kwh": round(watt_wh / WH_PER_KWH, 3), "storage_days": days, "last_reading": last})


class HomeAssistantPublisher:
    """Publishes the owners' figures every `interval_s` (a source of the daemon: start/stop)."""

    def __init__(self, cfg, registry, outbox, stop: threading.Event):
        from gridmint import deployments

        self.cfg, self.registry, self.outbox, self.stop_event = cfg, registry, outbox, stop
        deployment = deployments.read(cfg.deployment)
        self.watt = registry.w3.eth.contract(address=deployment.address("WattToken"), abi=deployment.abi("WattToken"))
        settings = MqttSettings.from_config(cfg)
        self.settings = MqttSettings(**{**settings.__dict__, "client_id": settings.client_id + "-ha"})
        self.client = mqtt_client(self.settings, clean_session=True, manual_ack=False)
        self._connected = threading.Event()
        self._result: list = []
        self.client.on_connect = self._on_connect
        self.thread = threading.Thread(target=self._run, name="home-assistant", daemon=True)
        self._announced: set[str] = set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not self._connected.is_set():
            self._result.append(str(reason_code) if reason_code.is_failure else None)
            self._connected.set()
        self._announced.clear()  # announce again after a reconnect (the broker may have restarted)

    def start(self) -> None:
        connect_checked(self.client, self.settings, self._connected, self._result)
        self.thread.start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def owners(self) -> dict[str, list[str]]:
        """owner -> its configured meters, from the registry."""
        out: dict[str, list[str]] = {}
        for m in self.cfg.meters:
            owner = self.registry.meter_info(m.address)["owner"]
            if int(owner, 16):
                out.setdefault(owner, []).append(m.address)
        return out

    def publish_once(self) -> int:
        now = int(time.time())
        last = self.outbox.last_accepted()
        sent = 0
        for owner, meters in self.owners().items():
            if owner not in self._announced:
                for topic, payload in discovery_messages(owner, self.cfg.ha_discovery_prefix, self.cfg.ha_state_prefix):
                    self.client.publish(topic, payload, qos=1, retain=True)
                self._announced.add(owner)
            balance = self.watt.functions.balanceOf(owner).call()
            paid_until = self.watt.functions.storage_paid_until(owner).call()
            newest = max((last[m] for m in meters if m in last), default=None)
            self.client.publish(
                f"{self.cfg.ha_state_prefix}/{owner.lower()}/state",
                state_payload(balance, paid_until, newest, now), qos=1, retain=True,
            )
            sent += 1
        return sent

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.publish_once()
            except Exception as exc:  # chain or broker away: try again next round
                log.warning("home assistant update failed", extra={"error": exc.__class__.__name__})
            self.stop_event.wait(self.cfg.ha_interval_s)
