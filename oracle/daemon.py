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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from eth_utils import is_address, to_checksum_address

from .chain import Registry, Submitter
from .eip712 import Domain, MeterSigner, Reading
from .metrics import Metrics
from .outbox import Outbox
from .sources.parsers import (
    REGISTERS,
    MalformedInput,
    check_device_time,
    parse_p1,
    parse_shelly,
    parse_tasmota,
    tasmota_time,
)

log = logging.getLogger("gridmint.oracle")


@dataclass(frozen=True)
class MeterPlan:
    """What the ingestor needs to know of a configured meter: its inputs (devices) and the
    registers each provides, and how often it may sign."""

    inputs: dict[str, tuple[str, ...]]
    min_interval_s: int = 0


class Ingestor:
    """Turns register values into signed, stored readings. Thread-safe (one lock per meter).

    A meter with several inputs (a grid-meter read head and a PV plug) signs nothing until every
    input has a value, and then a reading each time every input has reported again; each input's
    newest values are stored (with the reading they complete, in one transaction), so a restart
    does not need every device to speak again. A counter that goes
    down halts the meter: nothing more is signed for it until it is re-commissioned."""

    def __init__(
        self, outbox: Outbox, domain: Domain, signers: dict[str, MeterSigner], metrics: Metrics | None = None,
        plans: dict[str, MeterPlan] | None = None, seeds: dict[str, Reading] | None = None,
    ):
        self.outbox = outbox
        self.domain = domain
        self.separator = domain.separator
        self.signers = signers
        self.metrics = metrics
        self.plans = plans or {}
        # the chain's view of a meter the outbox has no sample of (its commissioning values)
        self.seeds = seeds or {}
        self._locks = {meter: threading.Lock() for meter in signers}
        self._last: dict[str, Reading | None] = {}
        self._inputs: dict[str, dict[str, tuple[int, dict[str, int], bool]]] = {}
        self._halted = set(outbox.halts())
        if metrics:
            for meter in self._halted & set(signers):
                metrics.halted.labels(meter).set(1)

    def refuse(self, source: str, kind: str, detail: str, meter: str | None = None) -> None:
        log.warning("input refused", extra={"source": source, "kind": kind, "detail": detail, "meter": meter})
        if self.metrics:
            self.metrics.malformed.labels(source, kind).inc()

    def last(self, meter: str) -> Reading | None:
        """The meter's newest signed sample, else the chain's last reading / commissioning values."""
        if meter not in self._last:
            self._last[meter] = self.outbox.last_sample(meter) or self.seeds.get(meter)
        return self._last[meter]

    def halted(self, meter: str) -> bool:
        return meter in self._halted

    def _halt(self, meter, input_id, register, was, now, ts, source) -> None:
        self.outbox.halt(meter, input_id, register, was, now, ts)
        self._halted.add(meter)
        log.error(
            "counter went down: meter halted until it is re-commissioned",
            extra={"meter": meter, "input": input_id, "register": register, "was_wh": was, "now_wh": now,
                   "source": source},
        )
        if self.metrics:
            self.metrics.malformed.labels(source, "counter_down").inc()
            self.metrics.halted.labels(meter).set(1)

    def ingest(
        self, meter: str, values: dict[str, int], source: str, timestamp: int | None = None,
        input_id: str | None = None,
    ) -> bool:
        """Stores one sample and signs the reading it completes; returns True once it is durable
        (also for a duplicate of a stored sample), False if it was refused (logged and counted).

        `timestamp` is the device's own time (unix seconds); without one the sample is stamped
        with the wall clock, at least one second after the meter's and the input's previous one.
        `input_id` names the device of a configured multi-input meter; without it `values` update
        the registers they name and the others keep their last value."""
        if meter not in self.signers:
            self.refuse(source, "unknown_meter", f"no key for {meter}")
            return False
        unknown = set(values) - set(REGISTERS)
        if unknown:
            self.refuse(source, "bad_value", f"unknown register {sorted(unknown)[0]}", meter)
            return False
        plan = self.plans.get(meter)
        if plan is not None and input_id not in plan.inputs:
            plan = None  # a full reading from elsewhere (backfill) for a configured meter
        with self._locks[meter]:
            if meter in self._halted:
                self.refuse(source, "meter_halted", "a counter went down; re-commission the meter", meter)
                return False
            prev = self.last(meter)
            base = dict(zip(REGISTERS, prev[2:] if prev else (0, 0, 0, 0)))
            inputs = self._inputs_of(meter) if plan is not None else {}
            old = inputs.get(input_id) if plan is not None else None
            if timestamp is None:
                floor = max((prev.timestamp + 1) if prev else 0, (old[0] + 1) if old else 0)
                timestamp = max(int(time.time()), floor)
            timestamp = int(timestamp)
            if old is not None and timestamp <= old[0]:
                if timestamp == old[0] and all(old[1].get(r) == v for r, v in values.items()):
                    return True  # a redelivered copy: already durable
                self.refuse(source, "stale_sample", f"{input_id}: time {timestamp} <= {old[0]}", meter)
                return False
            if plan is None and prev is not None and timestamp <= prev.timestamp:
                # at or before the newest sample: a redelivered or replayed copy is already durable
                if self.outbox.has(Reading(meter, timestamp, *(values.get(r, base[r]) for r in REGISTERS))):
                    return True
                self.refuse(source, "stale_sample", f"timestamp {timestamp} <= {prev.timestamp}", meter)
                return False
            for register, value in values.items():
                if old is not None and value < old[1].get(register, 0):
                    self._halt(meter, input_id, register, old[1][register], value, timestamp, source)
                    return False
                if value < base[register]:
                    if prev is not None and timestamp <= prev.timestamp:
                        # measured before the last reading (or the commissioning): old news, not a reset
                        self.refuse(source, "stale_sample", f"{register} at {timestamp} predates the last reading", meter)
                        return False
                    self._halt(meter, input_id, register, base[register], value, timestamp, source)
                    return False
            registers = dict(base)
            reading_ts = timestamp
            if plan is None:
                registers.update(values)
                complete = True
            else:
                inputs = {**inputs, input_id: (timestamp, dict(values), True)}
                # every device has reported since the last reading: each register then advances by
                # one report of its own device, never by a stale one squeezed into a short interval
                complete = all(name in inputs and inputs[name][2] for name in plan.inputs)
                for name in plan.inputs:
                    if name in inputs:
                        registers.update({r: inputs[name][1][r] for r in plan.inputs[name] if r in inputs[name][1]})
                # every register was measured at or before the newest input's time: never ahead of it
                reading_ts = max(inputs[name][0] for name in plan.inputs if name in inputs)
            due = prev is None or reading_ts > prev.timestamp
            if plan is not None and prev is not None and plan.min_interval_s:
                due = due and reading_ts >= prev.timestamp + plan.min_interval_s
            reading = signature = None
            if complete and due:
                reading = Reading(meter, reading_ts, *(registers[r] for r in REGISTERS))
                signature = self.signers[meter].sign(reading, self.domain, self.separator)
            if plan is None:
                self.outbox.add(reading, signature, source)
            else:
                self.outbox.record(meter, input_id, timestamp, values, reading, signature, source)
                if reading is not None:
                    inputs = {name: (ts, regs, False) for name, (ts, regs, _fresh) in inputs.items()}
                self._inputs[meter] = inputs
                missing = sorted(set(plan.inputs) - set(inputs))
                if missing:
                    log.info("waiting for every input of the meter before signing",
                             extra={"meter": meter, "input": input_id, "missing": ",".join(missing)})
            if reading is not None:
                self._last[meter] = reading
        if self.metrics and reading is not None:
            self.metrics.signed.inc()
        return True

    def _inputs_of(self, meter: str) -> dict[str, tuple[int, dict[str, int], bool]]:
        if meter not in self._inputs:
            self._inputs[meter] = self.outbox.inputs_of(meter)
        return self._inputs[meter]


# ------------------------------------------------------------------ sources


class SourceError(Exception):
    """A source cannot start (broker unreachable, login or TLS refused); the message is one line."""


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

    def __init__(self, settings: MqttSettings, routes, ingestor: Ingestor, metrics: Metrics | None,
                 timezones: dict[str, str | None] | None = None, on_fatal: Callable[[str], None] | None = None):
        self.settings = settings
        self.routes = routes  # topic -> list of (meter, MqttInput)
        self.ingestor = ingestor
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
            self.ingestor.refuse("mqtt", "bad_value", f"{topic}: availability {payload[:20]!r}")
            return
        changed, back = self.ingestor.outbox.device_seen(topic, state)
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
            self.ingestor.refuse("mqtt", "unknown_device", topic)
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
                self.ingestor.refuse("mqtt", exc.kind, exc.detail, meter)
                continue
            self.ingestor.ingest(meter, values, "mqtt", ts, input_id=topic)


class P1Source:
    """Reads DSMR P1 telegrams from a serial port, FIFO or file; the CRC is checked before signing
    and the telegram's own time (in the meter's zone) stamps the sample."""

    def __init__(self, meter: str, device: str, ingestor: Ingestor, stop: threading.Event,
                 tz: str = "Europe/Amsterdam", require_crc: bool = True):
        self.meter, self.device, self.ingestor, self.stop_event = meter, device, ingestor, stop
        self.tz, self.require_crc = tz, require_crc
        self.thread = threading.Thread(target=self._run, name=f"p1-{meter[:8]}", daemon=True)
        self.stream = None

    def start(self) -> None:
        try:
            self.stream = open(self.device, "r", newline="", encoding="ascii", errors="replace")
        except OSError as exc:
            raise SourceError(f"cannot open the P1 device {self.device} of meter {self.meter}: {exc.strerror}") from None
        self.thread.start()

    def stop(self) -> None:
        pass

    def _run(self) -> None:
        from dsmr_parser.clients.telegram_buffer import TelegramBuffer

        buffer = TelegramBuffer()
        with self.stream as stream:
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
            ts, values = parse_p1(telegram, self.tz, self.require_crc)
            ts = None if ts is None else check_device_time(ts, time.time())
        except MalformedInput as exc:
            self.ingestor.refuse("p1", exc.kind, exc.detail, self.meter)
            return False
        return self.ingestor.ingest(self.meter, values, "p1", ts, input_id="p1")


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

REPLAY_COLUMNS = ("meter", "timestamp", *REGISTERS)


class ReplayError(ValueError):
    """A backfill file that cannot be used as it is; the message names the line and the column."""


def read_replay(path: Path) -> Iterator[tuple[int, dict]]:
    """Rows of a replay file: CSV with the header `meter,timestamp,generated_wh,consumed_wh,
    exported_wh,imported_wh` (any order, no other columns), or JSON lines with those keys.
    Yields (line number, row); a wrong header or a line that is not a JSON object raises
    `ReplayError`."""
    path = Path(path)
    with open(path, newline="") as fh:
        if path.suffix in (".jsonl", ".ndjson", ".json"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict):
                    raise ReplayError(f"{path.name} line {n}: not a JSON object")
                yield n, row
        else:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in REPLAY_COLUMNS if c not in header]
            extra = [c for c in header if c not in REPLAY_COLUMNS]
            if missing or extra:
                what = f"no column {missing[0]}" if missing else f"unknown column {extra[0]!r}"
                raise ReplayError(f"{path.name} line 1 (header): {what}; the columns are {','.join(REPLAY_COLUMNS)}")
            for n, row in enumerate(reader, 2):
                yield n, row


def parse_replay_row(name: str, n: int, row: dict) -> tuple[str, int, dict[str, int]]:
    """(meter, timestamp, registers in Wh) of one replay row, or `ReplayError` naming line and column.
    `timestamp` is unix seconds or ISO 8601 (no zone = UTC); registers are whole Wh."""
    from gridmint.units import UnitError, parse_timestamp

    def bad(column: str, why: str) -> ReplayError:
        return ReplayError(f"{name} line {n}, column {column}: {why}")

    for column in REPLAY_COLUMNS:
        if row.get(column) in (None, ""):
            raise bad(column, "missing")
    unknown = sorted(set(row) - set(REPLAY_COLUMNS))
    if unknown:
        raise bad(unknown[0], "unknown column")
    meter = row["meter"]
    if not isinstance(meter, str) or not is_address(meter):
        raise bad("meter", f"not an address: {meter!r}")
    raw_ts = row["timestamp"]
    try:
        if isinstance(raw_ts, bool) or not isinstance(raw_ts, (int, str)):
            raise UnitError(str(raw_ts))
        ts = parse_timestamp(str(raw_ts))
    except UnitError:
        raise bad("timestamp", f"not a timestamp: {raw_ts!r} (unix seconds or ISO 8601)") from None
    if ts <= 0 or ts >= 2**56:
        raise bad("timestamp", f"out of range: {raw_ts!r}")
    values = {}
    for register in REGISTERS:
        raw = row[register]
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdigit():
            raise bad(register, f"not a whole number of Wh: {raw!r}")
        values[register] = int(text)
    return to_checksum_address(meter), ts, values


def check_replay(path: Path, meters: set[str] | None = None) -> int:
    """Reads the whole file before anything is signed; returns its row count or raises `ReplayError`
    at the first bad row (also for a meter without a key, when `meters` is given)."""
    count = 0
    for n, row in read_replay(Path(path)):
        meter, _ts, _values = parse_replay_row(Path(path).name, n, row)
        if meters is not None and meter not in meters:
            raise ReplayError(f"{Path(path).name} line {n}, column meter: no key for {meter} in the keystore")
        count += 1
    return count


def replay(path: Path, ingestor: Ingestor, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Signs and stores every row of a replay file (idempotent: rows already stored are skipped);
    rows the ingestor refuses (a falling counter, an older time) are counted as refused."""
    stats = {"stored": 0, "refused": 0}
    for n, row in read_replay(Path(path)):
        meter, ts, values = parse_replay_row(Path(path).name, n, row)
        stored = ingestor.ingest(meter, values, "replay", ts)
        stats["stored" if stored else "refused"] += 1
        if progress:
            progress(1)
    return stats


# ------------------------------------------------------------------ daemon


def plans_of(meters) -> dict[str, MeterPlan]:
    """The ingestor's view of the configured meters: inputs and their registers."""
    plans = {}
    for m in meters:
        if m.source == "mqtt":
            inputs = {spec.topic: tuple(spec.registers) for spec in m.inputs}
        elif m.source == "p1":
            inputs = {"p1": ("imported_wh", "exported_wh")}
        else:
            continue
        plans[m.address] = MeterPlan(inputs, m.min_interval_s)
    return plans


class Daemon:
    def __init__(
        self, config, outbox: Outbox, registry: Registry, domain: Domain, signers, payer, metrics: Metrics,
        stop_event: threading.Event | None = None, seeds: dict[str, Reading] | None = None,
    ):
        self.config = config
        self.outbox = outbox
        self.registry = registry
        self.metrics = metrics
        self.stop_event = stop_event or threading.Event()
        self.fatal: str | None = None
        self.ingestor = Ingestor(outbox, domain, signers, metrics, plans_of(config.meters), seeds)
        self.submitter = Submitter(
            outbox,
            registry,
            payer,
            batch_size=config.batch_size,
            max_in_flight=config.max_in_flight,
            metrics=metrics,
        )
        self.sources = self._sources()

    def _on_fatal(self, message: str) -> None:
        log.error("stopping on a fatal error", extra={"error": message})
        self.fatal = message
        self.stop_event.set()

    def _sources(self) -> list:
        cfg = self.config
        sources: list = []
        routes: dict[str, list] = {}
        for m in cfg.meters:
            for spec in m.inputs:
                routes.setdefault(spec.topic, []).append((m.address, spec))
        self.mqtt = None
        if routes:
            self.mqtt = MqttSource(
                MqttSettings.from_config(cfg), routes, self.ingestor, self.metrics,
                {m.address: m.timezone for m in cfg.meters}, on_fatal=self._on_fatal,
            )
            sources.append(self.mqtt)
        for m in cfg.meters:
            if m.source == "p1":
                sources.append(P1Source(m.address, m.device, self.ingestor, self.stop_event, m.timezone, m.p1_crc))
        simulated = [m for m in cfg.meters if m.source == "simulator"]
        if simulated:
            sources.append(SimulatorSource(simulated, self.ingestor, cfg.simulator_interval_s, self.stop_event))
        if cfg.ha_enabled:
            from .homeassistant import HomeAssistantPublisher

            sources.append(HomeAssistantPublisher(cfg, self.registry, self.outbox, self.stop_event))
        return sources

    def start(self) -> None:
        """Starts every source; raises `SourceError` (one line) if one cannot start."""
        self.submitter.confirm()  # settle what was in flight before a restart
        started = []
        try:
            for source in self.sources:
                source.start()
                started.append(source)
        except SourceError:
            for source in started:
                source.stop()
            raise
        for meter, halt in self.outbox.halts().items():
            if meter in self.ingestor.signers:
                log.error("meter halted: a counter went down; re-commission it (docs/oracle.md)",
                          extra={"meter": meter, "register": halt["register"]})

    def run(self) -> int:
        """Runs until `stop_event` is set (the CLI sets it on SIGTERM / SIGINT), then drains.
        Returns 0, or 1 after a fatal source error (the broker refused the login)."""
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
        return 1 if self.fatal else 0
