"""Daemon configuration: a TOML file, then environment variables on top.

Secrets never live in the file: keystore passwords come from the environment
(`GRIDMINT_KEY_PASSWORD` for meter keys, `GRIDMINT_PAYER_PASSWORD` for the
account that pays gas, defaulting to the first), and so does the broker's
(`GRIDMINT_MQTT_PASSWORD`). Every key is checked: an unknown one is an error
that names it. docs/oracle.md is the reference of every key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

SOURCES = ("mqtt", "p1", "simulator")
FORMATS = ("tasmota", "shelly")

# every key the file may hold, by table
TOP_KEYS = {"chain", "oracle", "mqtt", "simulator", "home_assistant", "meters"}
CHAIN_KEYS = {"rpc_url", "deployment", "chain_id"}
ORACLE_KEYS = {
    "database", "keystore_dir", "payer", "batch_size", "max_in_flight", "poll_interval_s", "drain_timeout_s",
    "metrics_port", "metrics_addr",
}
MQTT_KEYS = {"host", "port", "client_id", "username", "tls", "ca_file", "cert_file", "key_file"}
SIMULATOR_KEYS = {"interval_s", "start", "speed"}
HA_KEYS = {"enabled", "discovery_prefix", "state_prefix", "interval_s"}
METER_KEYS = {
    "address", "source", "inputs", "device", "timezone", "min_interval_s", "p1_crc",
    "pv_kwp", "annual_kwh", "profile", "battery_kwh",
}
INPUT_KEYS = {"topic", "format", "registers", "unit"}
P1_DEFAULT_TIMEZONE = "Europe/Amsterdam"  # DSMR's home; dsmr-parser assumes it too


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MqttInput:
    topic: str
    format: str
    registers: dict[str, str]
    unit: str = "kWh"

    @property
    def device_topics(self) -> tuple[str, str] | None:
        """(availability topic, format) of the device behind this input: Tasmota's `tele/<d>/LWT`
        ("Online"/"Offline"), Shelly Gen2's `<prefix>/online` ("true"/"false")."""
        parts = self.topic.split("/")
        if self.format == "tasmota" and len(parts) == 3:
            return "/".join([parts[0], parts[1], "LWT"]), "tasmota"
        if self.format == "shelly" and len(parts) >= 2:
            return parts[0] + "/online", "shelly"
        return None


@dataclass(frozen=True)
class MeterConfig:
    address: str
    source: str
    inputs: tuple[MqttInput, ...] = ()
    device: str | None = None  # p1: a serial device, FIFO or file of telegrams
    timezone: str | None = None  # IANA zone of the devices' local clocks (Tasmota `Time`, P1)
    min_interval_s: int = 0  # sign at most one reading per this many seconds (P1 sends every 1-10 s)
    p1_crc: bool = True  # refuse P1 telegrams without a CRC (DSMR 2.2/3 have none)
    pv_kwp: float = 0.0
    annual_kwh: float = 3_500.0
    profile: str = "H25"
    battery_kwh: float = 0.0


@dataclass
class Config:
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("deployments/ethereum-local-31337.json")  # gridmint.deployments.default_local()
    chain_id: int | None = None
    database: Path = Path("oracle.db")
    keystore_dir: Path = Path("keys")
    payer: str | None = None
    batch_size: int = 64
    max_in_flight: int = 4
    poll_interval_s: float = 0.5
    drain_timeout_s: float = 30.0
    metrics_port: int = 0
    metrics_addr: str = "127.0.0.1"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_client_id: str = "gridmint-oracle"
    mqtt_username: str | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    ha_enabled: bool = False
    ha_discovery_prefix: str = "homeassistant"
    ha_state_prefix: str = "gridmint"
    ha_interval_s: float = 300.0
    simulator_interval_s: float = 60.0
    simulator_start: datetime | None = None  # simulated time starts here (default: now)
    simulator_speed: float = 1.0  # simulated seconds per wall-clock second
    meters: list[MeterConfig] = field(default_factory=list)

    def key_password(self) -> str:
        return _secret("GRIDMINT_KEY_PASSWORD")

    def payer_password(self) -> str:
        return os.environ.get("GRIDMINT_PAYER_PASSWORD") or _secret("GRIDMINT_KEY_PASSWORD")

    def mqtt_password(self) -> str | None:
        """The broker password (GRIDMINT_MQTT_PASSWORD), required once `mqtt.username` is set."""
        if self.mqtt_username is None:
            return None
        return _secret("GRIDMINT_MQTT_PASSWORD")


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"set {name} in the environment (passwords are never read from the config file)")
    return value


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"{where}: not an address: {value!r}")
    return to_checksum_address(value)


def _table(raw: Any, allowed: set[str], where: str) -> dict:
    """A TOML table with only known keys; an unknown one (a typo) is an error naming it."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key {name} (known: {', '.join(sorted(allowed))})")
    return raw


def _timezone(value: Any, where: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: unknown time zone {value!r} (an IANA name like Europe/Berlin)") from None
    return str(value)


def _meter(raw: dict, i: int, base: Path | None = None) -> MeterConfig:
    where = f"meters[{i}]"
    raw = _table(raw, METER_KEYS, where)
    address = _address(raw.get("address"), where)
    source = raw.get("source")
    if source not in SOURCES:
        raise ConfigError(f"{where}: source must be one of {SOURCES}, got {source!r}")
    from .sources.parsers import REGISTERS, SHELLY_EMDATA, TASMOTA_ENERGY, UNIT_SCALE

    inputs = []
    mapped: dict[str, str] = {}
    for j, item in enumerate(raw.get("inputs", [])):
        item = _table(item, INPUT_KEYS, f"{where}.inputs[{j}]")
        fmt = item.get("format")
        if fmt not in FORMATS:
            raise ConfigError(f"{where}.inputs[{j}]: format must be one of {FORMATS}")
        registers = dict(item.get("registers") or (TASMOTA_ENERGY if fmt == "tasmota" else SHELLY_EMDATA))
        unknown = set(registers) - set(REGISTERS)
        if unknown:
            raise ConfigError(f"{where}.inputs[{j}]: unknown registers {sorted(unknown)}")
        topic = item.get("topic")
        if not isinstance(topic, str) or not topic or any(c in topic for c in "+#"):
            raise ConfigError(f"{where}.inputs[{j}]: topic missing (one device's topic, no wildcards)")
        if any(spec.topic == topic for spec in inputs):
            raise ConfigError(f"{where}.inputs[{j}]: topic {topic} given twice")
        for register in registers:
            if register in mapped:
                # one register from two devices would mix their counters
                raise ConfigError(f"{where}.inputs[{j}]: {register} already comes from {mapped[register]}")
            mapped[register] = topic
        unit = item.get("unit", "kWh" if fmt == "tasmota" else "Wh")
        if unit not in UNIT_SCALE:
            raise ConfigError(f"{where}.inputs[{j}]: unit must be one of {sorted(UNIT_SCALE)}, got {unit!r}")
        inputs.append(MqttInput(topic, fmt, registers, unit))
    if source == "mqtt" and not inputs:
        raise ConfigError(f"{where}: an mqtt meter needs [[meters.inputs]]")
    if source != "mqtt" and inputs:
        raise ConfigError(f"{where}: [[meters.inputs]] are for source = \"mqtt\"")
    if source == "p1" and not raw.get("device"):
        raise ConfigError(f"{where}: a p1 meter needs device = <serial port or file>")
    tz = raw.get("timezone")
    if tz is None and source == "p1":
        tz = P1_DEFAULT_TIMEZONE
    if tz is None and any(spec.format == "tasmota" for spec in inputs):
        raise ConfigError(
            f"{where}: set timezone = \"Europe/Berlin\" (or the zone your Tasmota devices keep; \"UTC\" if they"
            " report UTC): Tasmota's Time is the device's local time"
        )
    min_interval = raw.get("min_interval_s", 60 if source == "p1" else 0)
    if isinstance(min_interval, bool) or not isinstance(min_interval, int) or min_interval < 0:
        raise ConfigError(f"{where}.min_interval_s: a whole number of seconds >= 0")
    return MeterConfig(
        address=address,
        source=source,
        inputs=tuple(inputs),
        device=None if raw.get("device") is None else str((base or Path.cwd()) / str(raw["device"])),
        timezone=None if tz is None else _timezone(tz, where),
        min_interval_s=min_interval,
        p1_crc=bool(raw.get("p1_crc", True)),
        pv_kwp=float(raw.get("pv_kwp", 0.0)),
        annual_kwh=float(raw.get("annual_kwh", 3_500.0)),
        profile=str(raw.get("profile", "H25")),
        battery_kwh=float(raw.get("battery_kwh", 0.0)),
    )


def _simulator_clock(sim: dict) -> tuple[datetime | None, float]:
    """`simulator.start` (ISO 8601 or unix seconds; TOML dates too) and `simulator.speed` (> 0)."""
    from gridmint.units import UnitError, parse_timestamp

    start = sim.get("start")
    if start is not None:
        if isinstance(start, datetime):
            start = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        else:
            try:
                if isinstance(start, bool) or not isinstance(start, (int, str)):
                    raise UnitError(str(start))
                start = datetime.fromtimestamp(parse_timestamp(str(start)), timezone.utc)
            except (UnitError, ValueError, OverflowError, OSError):
                raise ConfigError(
                    f"simulator.start: not a time: {start!r} (ISO 8601 like 2026-06-15T00:00:00Z, or unix seconds)"
                ) from None
    speed = sim.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 10_000:
        raise ConfigError(f"simulator.speed: simulated seconds per wall-clock second, > 0 and <= 10000, got {speed!r}")
    if speed != 1 and start is None:
        raise ConfigError("simulator.speed: set simulator.start too (a past time to run accelerated from;"
                          " the simulation never runs ahead of the present)")
    return start, float(speed)


def load(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Reads `path` (may be None: defaults + environment only); relative paths are relative to the file."""
    env = os.environ if env is None else env
    raw: dict = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        base = path.resolve().parent
    _table(raw, TOP_KEYS, "")
    chain = _table(raw.get("chain"), CHAIN_KEYS, "chain")
    oracle = _table(raw.get("oracle"), ORACLE_KEYS, "oracle")
    if isinstance(raw.get("mqtt"), dict) and "password" in raw["mqtt"]:
        raise ConfigError("mqtt.password: put the broker password in GRIDMINT_MQTT_PASSWORD, not in the file")
    mqtt = _table(raw.get("mqtt"), MQTT_KEYS, "mqtt")
    sim = _table(raw.get("simulator"), SIMULATOR_KEYS, "simulator")
    ha = _table(raw.get("home_assistant"), HA_KEYS, "home_assistant")
    cfg = Config()
    cfg.rpc_url = env.get("GRIDMINT_RPC_URL", chain.get("rpc_url", cfg.rpc_url))
    cfg.deployment = base / env.get("GRIDMINT_DEPLOYMENT", chain.get("deployment", str(cfg.deployment)))
    cfg.chain_id = chain.get("chain_id")
    cfg.database = base / env.get("GRIDMINT_DATABASE", oracle.get("database", str(cfg.database)))
    cfg.keystore_dir = base / oracle.get("keystore_dir", str(cfg.keystore_dir))
    cfg.payer = _address(oracle["payer"], "oracle.payer") if "payer" in oracle else None
    cfg.batch_size = int(oracle.get("batch_size", cfg.batch_size))
    if not 1 <= cfg.batch_size <= 64:
        raise ConfigError("oracle.batch_size must be 1..64")
    cfg.max_in_flight = int(oracle.get("max_in_flight", cfg.max_in_flight))
    cfg.poll_interval_s = float(oracle.get("poll_interval_s", cfg.poll_interval_s))
    cfg.drain_timeout_s = float(oracle.get("drain_timeout_s", cfg.drain_timeout_s))
    cfg.metrics_port = int(env.get("GRIDMINT_METRICS_PORT", oracle.get("metrics_port", cfg.metrics_port)))
    cfg.metrics_addr = oracle.get("metrics_addr", cfg.metrics_addr)
    cfg.mqtt_host = env.get("GRIDMINT_MQTT_HOST", mqtt.get("host", cfg.mqtt_host))
    cfg.mqtt_port = int(env.get("GRIDMINT_MQTT_PORT", mqtt.get("port", cfg.mqtt_port)))
    cfg.mqtt_client_id = mqtt.get("client_id", cfg.mqtt_client_id)
    cfg.mqtt_username = env.get("GRIDMINT_MQTT_USERNAME", mqtt.get("username"))
    for key in ("ca_file", "cert_file", "key_file"):
        if key in mqtt:
            path = base / str(mqtt[key])
            if not path.is_file():
                raise ConfigError(f"mqtt.{key}: no file at {path}")
            setattr(cfg, f"mqtt_{key}", path)
    if (cfg.mqtt_cert_file is None) != (cfg.mqtt_key_file is None):
        raise ConfigError("mqtt.cert_file and mqtt.key_file come together (the client certificate and its key)")
    cfg.mqtt_tls = bool(mqtt.get("tls", cfg.mqtt_ca_file is not None or cfg.mqtt_cert_file is not None))
    cfg.ha_enabled = bool(ha.get("enabled", False))
    cfg.ha_discovery_prefix = str(ha.get("discovery_prefix", cfg.ha_discovery_prefix))
    cfg.ha_state_prefix = str(ha.get("state_prefix", cfg.ha_state_prefix))
    cfg.ha_interval_s = float(ha.get("interval_s", cfg.ha_interval_s))
    cfg.simulator_interval_s = float(sim.get("interval_s", cfg.simulator_interval_s))
    cfg.simulator_start, cfg.simulator_speed = _simulator_clock(sim)
    cfg.meters = [_meter(m, i, base) for i, m in enumerate(raw.get("meters", []))]
    seen = set()
    for m in cfg.meters:
        if m.address in seen:
            raise ConfigError(f"meter {m.address} configured twice")
        seen.add(m.address)
    return cfg
