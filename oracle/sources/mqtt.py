"""MQTT: Tasmota and Shelly devices through a broker (QoS 1, persistent session, manual ack),
with the configured login and TLS; the MQTT client helpers are shared with the Home Assistant
publisher."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from . import SourceError, Sink
from .parsers import MalformedInput, check_device_time, parse_shelly, parse_tasmota, tasmota_time

log = logging.getLogger("gridmint.oracle")


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def from_config(cls, cfg) -> "MqttSettings":
        return cls(
            cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_client_id, cfg.mqtt_username, cfg.mqtt_password(),
            cfg.mqtt_tls, *(None if f is None else str(f) for f in (cfg.mqtt_ca_file, cfg.mqtt_cert_file, cfg.mqtt_key_file)),
        )


# availability payloads: Tasmota's LWT and Shelly Gen2's `<prefix>/online`
AVAILABILITY = {"online": True, "offline": False, "true": True, "false": False}


def mqtt_client(settings: MqttSettings, clean_session: bool = False, manual_ack: bool = True):
    """A paho client with the configured login and TLS (the broker's certificate is verified)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=settings.client_id,
        clean_session=clean_session,
        manual_ack=manual_ack,
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
    return client


def connect_checked(client, settings: MqttSettings, connected: threading.Event, result: list, timeout_s: float = 15.0):
    """Connects and waits for the broker's CONNACK; a refused login, a TLS failure or an unreachable
    broker raises `SourceError` with one line that says which."""
    import ssl

    where = f"{settings.host}:{settings.port}"
    try:
        client.connect(settings.host, settings.port, keepalive=30)
    except ssl.SSLError as exc:
        raise SourceError(f"TLS with the MQTT broker at {where} failed: {exc.reason or exc.__class__.__name__}"
                          " (check mqtt.ca_file / cert_file / key_file)") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot reach the MQTT broker at {where}: {getattr(exc, 'strerror', None) or exc}") from None
    client.loop_start()
    if not connected.wait(timeout_s):
        client.loop_stop()
        raise SourceError(f"the MQTT broker at {where} did not answer the login within {timeout_s:.0f} s")
    if result and result[0] is not None:
        client.loop_stop()
        client.disconnect()
        raise SourceError(
            f"the MQTT broker at {where} refused the connection: {result[0]}"
            " (check mqtt.username and GRIDMINT_MQTT_PASSWORD)"
        )


class MqttSource:
    """Subscribes (QoS 1, persistent session) to the configured topics; each message is stored
    before it is acknowledged (paho's manual ack), so the broker redelivers what a crash cut off.

    The device's own time stamps each sample (Tasmota `Time` in the meter's time zone, Shelly's
    `ts`), so messages the broker queued while the daemon was down keep their times. Device
    availability (Tasmota `LWT`, Shelly `online`) is followed, logged and counted."""

    def __init__(self, settings: MqttSettings, routes, sink: Sink, metrics,
                 device_seen: Callable[[str, bool], tuple[bool, bool]],
                 timezones: dict[str, str | None] | None = None, on_fatal: Callable[[str], None] | None = None):
        """`routes`: topic -> [(meter, `oracle.config.MqttInput`)]; `device_seen(topic, online)` records a
        device's availability and answers (it changed, it came back) (`Outbox.device_seen`)."""
        self.settings = settings
        self.routes = routes  # topic -> list of (meter, MqttInput)
        self.sink = sink
        self.device_seen = device_seen
        self.metrics = metrics
        self.timezones = timezones or {}
        self.on_fatal = on_fatal
        self.availability: dict[str, str] = {}  # availability topic -> format
        for routes_ in routes.values():
            for _meter, spec in routes_:
                found = spec.device_topics
                if found:
                    self.availability[found[0]] = found[1]
        self.client = mqtt_client(settings)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self._connected = threading.Event()
        self._result: list = []

    def start(self) -> None:
        connect_checked(self.client, self.settings, self._connected, self._result)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        first = not self._connected.is_set()
        if reason_code.is_failure:
            log.error("mqtt connect refused", extra={"reason": str(reason_code)})
            if first:
                self._result.append(str(reason_code))
                self._connected.set()
            elif self.on_fatal:  # the login stopped working while running: stop, do not spin
                self.on_fatal(f"the MQTT broker refused the connection: {reason_code}")
            return
        if first:
            self._result.append(None)
            self._connected.set()
        client.subscribe([(topic, 1) for topic in self.subscriptions()])
        log.info("mqtt connected", extra={"topics": len(self.routes)})

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if all(not code.is_failure for code in reason_codes):
            log.info("mqtt subscribed", extra={"topics": len(reason_codes)})
            if self.metrics:
                self.metrics.mqtt_subscribed.set(1)
        else:
            log.error("mqtt subscription refused", extra={"codes": str(reason_codes)})
            if self.on_fatal:
                self.on_fatal("the MQTT broker refused a subscription (check the broker's ACL for this user)")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.metrics:
            self.metrics.mqtt_subscribed.set(0)
        log.warning("mqtt disconnected", extra={"reason": str(reason_code)})

    def subscriptions(self) -> list[str]:
        """The configured topics, their devices' availability topics, plus the device-wildcard forms
        (`tele/+/SENSOR`, `+/events/rpc`) so that a device nobody configured is noticed (counted as
        unknown_device), not ignored."""
        topics = set(self.routes) | set(self.availability)
        for topic, routes in self.routes.items():
            parts = topic.split("/")
            fmt = routes[0][1].format
            if fmt == "tasmota" and len(parts) == 3 and parts[0] == "tele":
                topics.add(f"tele/+/{parts[2]}")
            elif fmt == "shelly" and len(parts) >= 3:
                topics.add("/".join(["+", *parts[1:]]))
        return sorted(topics)

    def _on_message(self, client, userdata, msg):
        try:
            self.handle(msg.topic, msg.payload)
        except Exception:  # a bug must not kill the network loop; the message stays unacked
            log.exception("mqtt message failed", extra={"topic": msg.topic})
            return
        client.ack(msg.mid, msg.qos)

    def device_status(self, topic: str, payload: bytes) -> None:
        state = AVAILABILITY.get(payload.decode("utf-8", "replace").strip().lower())
        if state is None:
            self.sink.refuse("mqtt", "bad_value", f"{topic}: availability {payload[:20]!r}")
            return
        changed, back = self.device_seen(topic, state)
        device = topic.rsplit("/", 1)[0]
        if self.metrics:
            self.metrics.device_online.labels(device).set(1 if state else 0)
        if not changed:
            return
        if not state:
            log.warning("device offline", extra={"device": device})
            if self.metrics:
                self.metrics.device_offline.labels(device).inc()
        else:
            log.info("device back online" if back else "device online", extra={"device": device})

    def handle(self, topic: str, payload: bytes) -> None:
        if topic in self.availability:
            self.device_status(topic, payload)
            return
        routes = self.routes.get(topic)
        if not routes:
            self.sink.refuse("mqtt", "unknown_device", topic)
            return
        now = time.time()
        for meter, spec in routes:
            try:
                if spec.format == "tasmota":
                    values = parse_tasmota(payload, spec.registers, spec.unit)
                    device_ts = tasmota_time(payload, self.timezones.get(meter) or "UTC")
                else:
                    device_ts, values = parse_shelly(topic, payload, spec.registers)
                ts = None if device_ts is None else check_device_time(device_ts, now)
            except MalformedInput as exc:
                self.sink.refuse("mqtt", exc.kind, exc.detail, meter)
                continue
            self.sink.ingest(meter, values, "mqtt", ts, input_id=topic)


