"""Daemon configuration: a TOML file, then environment variables on top.

Secrets never live in the file: keystore passwords come from the environment
(`GRIDMINT_KEY_PASSWORD` for meter keys, `GRIDMINT_PAYER_PASSWORD` for the
account that pays gas, defaulting to the first). See README.md for an example.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

SOURCES = ("mqtt", "p1", "simulator")
FORMATS = ("tasmota", "shelly")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MqttInput:
    topic: str
    format: str
    registers: dict[str, str]
    unit: str = "kWh"


@dataclass(frozen=True)
class MeterConfig:
    address: str
    source: str
    inputs: tuple[MqttInput, ...] = ()
    device: str | None = None  # p1: a serial device, FIFO or file of telegrams
    pv_kwp: float = 0.0
    annual_kwh: float = 3_500.0
    profile: str = "H25"
    battery_kwh: float = 0.0


@dataclass
class Config:
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("deployments/ethereum-local.json")
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
    simulator_interval_s: float = 60.0
    meters: list[MeterConfig] = field(default_factory=list)

    def key_password(self) -> str:
        return _secret("GRIDMINT_KEY_PASSWORD")

    def payer_password(self) -> str:
        return os.environ.get("GRIDMINT_PAYER_PASSWORD") or _secret("GRIDMINT_KEY_PASSWORD")


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"set {name} in the environment (keystore passwords are never read from the config file)")
    return value


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"{where}: not an address: {value!r}")
    return to_checksum_address(value)


def _meter(raw: dict, i: int) -> MeterConfig:
    where = f"meters[{i}]"
    address = _address(raw.get("address"), where)
    source = raw.get("source")
    if source not in SOURCES:
        raise ConfigError(f"{where}: source must be one of {SOURCES}, got {source!r}")
    inputs = []
    for j, item in enumerate(raw.get("inputs", [])):
        fmt = item.get("format")
        if fmt not in FORMATS:
            raise ConfigError(f"{where}.inputs[{j}]: format must be one of {FORMATS}")
        from .sources.parsers import REGISTERS, SHELLY_EMDATA, TASMOTA_ENERGY

        registers = dict(item.get("registers") or (TASMOTA_ENERGY if fmt == "tasmota" else SHELLY_EMDATA))
        unknown = set(registers) - set(REGISTERS)
        if unknown:
            raise ConfigError(f"{where}.inputs[{j}]: unknown registers {sorted(unknown)}")
        if not isinstance(item.get("topic"), str):
            raise ConfigError(f"{where}.inputs[{j}]: topic missing")
        inputs.append(MqttInput(item["topic"], fmt, registers, item.get("unit", "kWh" if fmt == "tasmota" else "Wh")))
    if source == "mqtt" and not inputs:
        raise ConfigError(f"{where}: an mqtt meter needs [[meters.inputs]]")
    if source == "p1" and not raw.get("device"):
        raise ConfigError(f"{where}: a p1 meter needs device = <serial port or file>")
    return MeterConfig(
        address=address,
        source=source,
        inputs=tuple(inputs),
        device=raw.get("device"),
        pv_kwp=float(raw.get("pv_kwp", 0.0)),
        annual_kwh=float(raw.get("annual_kwh", 3_500.0)),
        profile=str(raw.get("profile", "H25")),
        battery_kwh=float(raw.get("battery_kwh", 0.0)),
    )


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
    chain, oracle, mqtt, sim = (raw.get(k, {}) for k in ("chain", "oracle", "mqtt", "simulator"))
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
    cfg.simulator_interval_s = float(sim.get("interval_s", cfg.simulator_interval_s))
    cfg.meters = [_meter(m, i) for i, m in enumerate(raw.get("meters", []))]
    seen = set()
    for m in cfg.meters:
        if m.address in seen:
            raise ConfigError(f"meter {m.address} configured twice")
        seen.add(m.address)
    return cfg
