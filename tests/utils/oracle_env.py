"""A whole oracle environment on a standalone Anvil: the system deployed through web3, meters
registered, their keys and the gas payer's in encrypted keystores, a deployment file and a
daemon config. Used by the oracle's integration and fault tests and by its benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from eth_hash.auto import keccak

from gridmint import deployments
from oracle.eip712 import MeterSigner
from oracle.keys import import_key
from gridmint.onboarding import commissioning, onboard_meter
from gridmint.system import SystemParams, deploy_system, web3_deployer, web3_deployment_record
from tests.utils.anvil import Anvil, dev_account

PASSWORD = "test-only-password"  # throwaway keystores of a test chain


@dataclass
class OracleEnv:
    anvil: Anvil
    root: Path
    system: object
    meters: list[MeterSigner]
    owners: list
    payer: object
    config_path: Path = field(init=False)

    @property
    def db(self) -> Path:
        return self.root / "oracle.db"

    def env(self) -> dict[str, str]:
        return {**os.environ, "GRIDMINT_KEY_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}

    def write_config(self, meters_toml: str, extra: str = "") -> Path:
        self.config_path = self.root / "oracle.toml"
        self.config_path.write_text(
            f"""
[chain]
rpc_url = "{self.anvil.url}"
deployment = "deployment.json"

[oracle]
database = "oracle.db"
keystore_dir = "keys"
payer = "{self.payer.address}"
poll_interval_s = 0.1
drain_timeout_s = 20
{extra}
{meters_toml}
"""
        )
        return self.config_path

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "oracle.cli", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "oracle.cli", *args], cwd=self.root, env=self.env(), **kw
        )


def build(root: Path, anvil: Anvil, n_meters: int, rated_power_w: int = 10**9, method: int = 1, **params) -> OracleEnv:
    w3 = anvil.w3()
    operator, payer = dev_account(0), dev_account(1)
    system = deploy_system(web3_deployer(w3, operator), operator, SystemParams(**{"max_rated_power_w": rated_power_w, **params}))
    deployments.write(web3_deployment_record(system, "test", w3.eth.chain_id), root).rename(root / "deployment.json")
    keys_dir = root / "keys"
    meters, owners = [], []
    for i in range(n_meters):
        secret = keccak(f"oracle-test-meter:{i}".encode())
        meter = MeterSigner(secret)
        import_key(keys_dir, secret, PASSWORD, kdf="pbkdf2", iterations=2)
        owner = dev_account(2 + i % 2)
        # commissioned with zero registers before any sample the tests send (2020-09-13), accepted by its owner
        onboard_meter(system.registry, operator, owner, meter.address, method, rated_power_w, f"meter {i}",
                      commissioning(1_600_000_000))
        meters.append(meter)
        owners.append(owner)
    import_key(keys_dir, bytes(payer.key), PASSWORD, kdf="pbkdf2", iterations=2)
    return OracleEnv(anvil, root, system, meters, owners, payer)


# the README's example meter: an SML read head on the grid meter + a plug on the PV inverter
SML_TOPIC, PLUG_TOPIC = "tele/sml-reader/SENSOR", "tele/pv-plug/SENSOR"


def two_device_toml(address: str, tz: str = "Europe/Berlin", sml: str = SML_TOPIC, plug: str = PLUG_TOPIC) -> str:
    """The `[[meters]]` entry of a meter fed by two Tasmota devices (grid-meter read head + PV plug)."""
    return f"""
[[meters]]
address = "{address}"
source = "mqtt"
timezone = "{tz}"
  [[meters.inputs]]
  topic = "{sml}"
  format = "tasmota"
  registers = {{ imported_wh = "SML.Total_in", exported_wh = "SML.Total_out" }}
  [[meters.inputs]]
  topic = "{plug}"
  format = "tasmota"
  registers = {{ generated_wh = "ENERGY.Total" }}
"""
