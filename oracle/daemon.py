"""The daemon: sources -> checks -> meter-key signature -> durable outbox -> submitter.

    sources (MQTT / P1 / simulator / replay)
        │  register values in Wh (+ the device's timestamp, if it has one)
        ▼
    Ingestor.ingest  — refuses falling counters, unknown meters; signs; Outbox.add (fsync)
        │  only now is the input acknowledged (MQTT PUBACK)
        ▼
    Submitter.pump   — batches of <= 64, nonces, EIP-1559 fees, settles from receipts
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from eth_utils import is_address, to_checksum_address

from .chain import Registry, Submitter
from .eip712 import Domain, MeterSigner, Reading
from .metrics import Metrics
from .outbox import Outbox
from .sources.parsers import REGISTERS, MalformedInput, parse_p1, parse_shelly, parse_tasmota, to_wh

log = logging.getLogger("gridmint.oracle")


class Ingestor:
    """Turns register values into signed, stored readings. Thread-safe (one lock per meter)."""

    def __init__(self, outbox: Outbox, domain: Domain, signers: dict[str, MeterSigner], metrics: Metrics | None = None):
        self.outbox = outbox
        self.domain = domain
        self.separator = domain.separator
        self.signers = signers
        self.metrics = metrics
        self._locks = {meter: threading.Lock() for meter in signers}
        self._last: dict[str, Reading | None] = {}

    def refuse(self, source: str, kind: str, detail: str, meter: str | None = None) -> None:
        log.warning("input refused", extra={"source": source, "kind": kind, "detail": detail, "meter": meter})
        if self.metrics:
            self.metrics.malformed.labels(source, kind).inc()

    def last(self, meter: str) -> Reading | None:
        if meter not in self._last:
            self._last[meter] = self.outbox.last_sample(meter)
        return self._last[meter]

    def ingest(self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None) -> bool:
        """Signs and stores one sample; returns True once it is durable (also for a duplicate of a
        stored sample), False if it was refused (logged and counted, nothing signed).

        `values` may hold only some registers (a device that measures part of a site); the
        others keep their last value. Without a device `timestamp` the sample is stamped with
        the wall clock, at least one second after the meter's previous one."""
        if meter not in self.signers:
            self.refuse(source, "unknown_meter", f"no key for {meter}")
            return False
        with self._locks[meter]:
            prev = self.last(meter)
            current = dict(zip(REGISTERS, prev[2:] if prev else (0, 0, 0, 0)))
            unknown = set(values) - set(REGISTERS)
            if unknown:
                self.refuse(source, "bad_value", f"unknown register {sorted(unknown)[0]}", meter)
                return False
            if timestamp is not None and prev is not None and timestamp <= prev.timestamp:
                # at or before the newest stored sample: a redelivered or replayed copy of a stored
                # sample is already durable; anything else is stale
                if self.outbox.has(Reading(meter, int(timestamp), *(values.get(r, current[r]) for r in REGISTERS))):
                    return True
                self.refuse(source, "stale_sample", f"timestamp {timestamp} <= {prev.timestamp}", meter)
                return False
            for register, value in values.items():
                if value < current[register]:
                    self.refuse(source, "counter_down", f"{register} {current[register]} -> {value}", meter)
                    return False
                current[register] = value
            if timestamp is None:
                timestamp = max(int(time.time()), (prev.timestamp + 1) if prev else 0)
            reading = Reading(meter, int(timestamp), *(current[r] for r in REGISTERS))
            signature = self.signers[meter].sign(reading, self.domain, self.separator)
            self.outbox.add(reading, signature, source)
            self._last[meter] = reading
        if self.metrics:
            self.metrics.signed.inc()
        return True


# ------------------------------------------------------------------ sources


class MqttSource:
    """Subscribes (QoS 1, persistent session) to the configured topics; each message is stored
    before it is acknowledged (paho's manual ack), so the broker redelivers what a crash cut off."""

    def __init__(self, host: str, port: int, client_id: str, routes, ingestor: Ingestor, metrics: Metrics | None):
        import paho.mqtt.client as mqtt

        self.routes = routes  # topic -> list of (meter, MqttInput)
        self.ingestor = ingestor
        self.metrics = metrics
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.host, self.port = host, port

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("mqtt connect failed", extra={"reason": str(reason_code)})
            return
        client.subscribe([(topic, 1) for topic in self.subscriptions()])
        log.info("mqtt connected", extra={"topics": len(self.routes)})

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if all(not code.is_failure for code in reason_codes):
            log.info("mqtt subscribed", extra={"topics": len(reason_codes)})
            if self.metrics:
                self.metrics.mqtt_subscribed.set(1)
        else:
            log.error("mqtt subscription refused", extra={"codes": str(reason_codes)})

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.metrics:
            self.metrics.mqtt_subscribed.set(0)
        log.warning("mqtt disconnected", extra={"reason": str(reason_code)})

    def subscriptions(self) -> list[str]:
        """The configured topics, plus their device-wildcard forms (`tele/+/SENSOR`, `+/events/rpc`)
        so that a device nobody configured is noticed (counted as unknown_device), not ignored."""
        topics = set(self.routes)
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

    def handle(self, topic: str, payload: bytes) -> None:
        routes = self.routes.get(topic)
        if not routes:
            self.ingestor.refuse("mqtt", "unknown_device", topic)
            return
        for meter, spec in routes:
            # device clocks (Tasmota's local "Time") are not trusted: the receive time stamps
            # the sample, kept strictly increasing per meter by the ingestor
            try:
                if spec.format == "tasmota":
                    values = parse_tasmota(payload, spec.registers, spec.unit)
                else:
                    _device_ts, values = parse_shelly(topic, payload, spec.registers)
            except MalformedInput as exc:
                self.ingestor.refuse("mqtt", exc.kind, exc.detail, meter)
                continue
            self.ingestor.ingest(meter, values, "mqtt")


class P1Source:
    """Reads DSMR P1 telegrams from a serial port, FIFO or file; the CRC is checked before signing."""

    def __init__(self, meter: str, device: str, ingestor: Ingestor, stop: threading.Event):
        self.meter, self.device, self.ingestor, self.stop_event = meter, device, ingestor, stop
        self.thread = threading.Thread(target=self._run, name=f"p1-{meter[:8]}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        pass

    def _run(self) -> None:
        from dsmr_parser.clients.telegram_buffer import TelegramBuffer

        buffer = TelegramBuffer()
        with open(self.device, "r", newline="", encoding="ascii", errors="replace") as stream:
            while not self.stop_event.is_set():
                chunk = stream.readline()
                if not chunk:
                    time.sleep(0.2)
                    continue
                buffer.append(chunk)
                for telegram in buffer.get_all():
                    self.handle(telegram)

    def handle(self, telegram: str) -> bool:
        try:
            stamp, values = parse_p1(telegram)
        except MalformedInput as exc:
            self.ingestor.refuse("p1", exc.kind, exc.detail, self.meter)
            return False
        ts = int(stamp.timestamp()) if stamp is not None else None
        return self.ingestor.ingest(self.meter, values, "p1", ts)


class SimulatorSource:
    """Simulated meters on real weather and load profiles, sampled every `interval_s` of wall time."""

    def __init__(self, meters, ingestor: Ingestor, interval_s: float, stop: threading.Event):
        from .sources.simulator import SiteSpec, Simulator

        specs = {}
        for m in meters:
            last = ingestor.last(m.address)
            initial = tuple(last[2:]) if last else (0, 0, 0, 0)
            specs[m.address] = SiteSpec(m.pv_kwp, m.annual_kwh, m.profile, m.battery_kwh, initial)
        self.sim = Simulator(specs, datetime.now(timezone.utc))
        self.ingestor, self.interval_s, self.stop_event = ingestor, interval_s, stop
        self.thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        pass

    def tick(self, now: datetime) -> None:
        for meter, counters in self.sim.advance(now).items():
            self.ingestor.ingest(meter, dict(zip(REGISTERS, counters)), "simulator", int(now.timestamp()))

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            self.tick(datetime.now(timezone.utc))


# ------------------------------------------------------------------ replay


def read_replay(path: Path) -> Iterator[tuple[int, dict]]:
    """Rows of a replay file (CSV with a header, or JSON lines) with keys meter, timestamp and the
    four registers. Yields (line number, row); malformed rows come as (line, {"error": kind})."""
    fields = ("meter", "timestamp", *REGISTERS)
    with open(path, newline="") as fh:
        if path.suffix in (".jsonl", ".ndjson", ".json"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    yield n, {"error": "bad_json"}
                    continue
                yield n, row if isinstance(row, dict) else {"error": "bad_json"}
        else:
            reader = csv.DictReader(fh)
            missing = set(fields) - set(reader.fieldnames or ())
            if missing:
                raise MalformedInput("missing_field", f"{path.name}: no column(s) {sorted(missing)}")
            for n, row in enumerate(reader, 2):
                yield n, row


def _replay_row(n: int, row: dict) -> tuple[str, int, dict[str, int]]:
    """(meter, timestamp, registers) of one replay row, or MalformedInput with its kind."""
    if "error" in row:
        raise MalformedInput(row["error"], f"line {n}")
    try:
        meter, ts = row["meter"], int(row["timestamp"])
        values = {r: to_wh(row[r], "Wh") for r in REGISTERS}
    except MalformedInput as exc:
        raise MalformedInput(exc.kind, f"line {n}") from None
    except (KeyError, ValueError, TypeError):
        raise MalformedInput("missing_field", f"line {n}") from None
    if not isinstance(meter, str) or not is_address(meter):
        raise MalformedInput("bad_value", f"line {n}: meter")
    return to_checksum_address(meter), ts, values


def replay(path: Path, ingestor: Ingestor, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Signs and stores every row of a replay file (idempotent: rows already stored are skipped)."""
    stats = {"stored": 0, "refused": 0}
    for n, row in read_replay(Path(path)):
        try:
            meter, ts, values = _replay_row(n, row)
        except MalformedInput as exc:
            ingestor.refuse("replay", exc.kind, exc.detail)
            stored = False
        else:
            stored = ingestor.ingest(meter, values, "replay", ts)
        stats["stored" if stored else "refused"] += 1
        if progress:
            progress(1)
    return stats


# ------------------------------------------------------------------ daemon


class Daemon:
    def __init__(
        self, config, outbox: Outbox, registry: Registry, domain: Domain, signers, payer, metrics: Metrics,
        stop_event: threading.Event | None = None,
    ):
        self.config = config
        self.outbox = outbox
        self.metrics = metrics
        self.stop_event = stop_event or threading.Event()
        self.ingestor = Ingestor(outbox, domain, signers, metrics)
        self.submitter = Submitter(
            outbox,
            registry,
            payer,
            batch_size=config.batch_size,
            max_in_flight=config.max_in_flight,
            metrics=metrics,
        )
        self.sources = self._sources()

    def _sources(self) -> list:
        cfg = self.config
        sources: list = []
        routes: dict[str, list] = {}
        for m in cfg.meters:
            for spec in m.inputs:
                routes.setdefault(spec.topic, []).append((m.address, spec))
        if routes:
            sources.append(MqttSource(cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_client_id, routes, self.ingestor, self.metrics))
        for m in cfg.meters:
            if m.source == "p1":
                sources.append(P1Source(m.address, m.device, self.ingestor, self.stop_event))
        simulated = [m for m in cfg.meters if m.source == "simulator"]
        if simulated:
            sources.append(SimulatorSource(simulated, self.ingestor, cfg.simulator_interval_s, self.stop_event))
        return sources

    def run(self) -> int:
        """Runs until `stop_event` is set (the CLI sets it on SIGTERM / SIGINT), then drains."""
        self.submitter.confirm()  # settle what was in flight before a restart
        for source in self.sources:
            source.start()
        log.info("running", extra={"meters": len(self.config.meters), "sources": len(self.sources)})
        last_refresh = 0.0
        while not self.stop_event.is_set():
            try:
                self.submitter.pump()
            except Exception as exc:  # node unreachable: keep collecting, retry
                log.warning("pump failed", extra={"error": exc.__class__.__name__})
            if time.time() - last_refresh > 1.0:
                self.metrics.refresh(self.outbox)
                last_refresh = time.time()
            self.stop_event.wait(self.config.poll_interval_s)
        log.info("stopping: draining the outbox")
        for source in self.sources:
            source.stop()
        try:
            drained = self.submitter.drain(self.config.drain_timeout_s)
        except Exception as exc:
            log.warning("drain failed", extra={"error": exc.__class__.__name__})
            drained = False
        counts = self.outbox.counts()
        log.info("stopped", extra={"drained": drained, **counts})
        return 0
