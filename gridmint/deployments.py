"""deployments/<ecosystem>-<network>-<chain id>.json: what a deploy wrote and every client (daemon,
CLIs, web3, ethers, the member app) reads.

The chain id is part of the name so that two local chains (Anvil on 31337, a Hardhat node on 31337
too but another network name, a second Anvil started with --chain-id) never overwrite each other.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# GRIDMINT_DEPLOYMENTS_DIR moves the records (tests keep theirs out of the work tree)
DEPLOYMENTS_DIR = Path(os.environ.get("GRIDMINT_DEPLOYMENTS_DIR", ROOT / "deployments"))
# Anvil's and Hardhat's default chain id
LOCAL_CHAIN_ID = 31_337


@dataclass
class Deployment:
    network: str  # "<ecosystem>:<network>", e.g. "ethereum:local"
    chain_id: int
    contracts: dict[str, dict[str, Any]]  # name -> {"address": ..., "abi": [...]}
    params: dict[str, Any]

    def address(self, name: str) -> str:
        return self.contracts[name]["address"]

    def abi(self, name: str) -> list:
        return self.contracts[name]["abi"]

    def to_json(self) -> str:
        return json.dumps(
            {"network": self.network, "chain_id": self.chain_id, "contracts": self.contracts, "params": self.params},
            indent=2,
        )


# the local chain whose records carry no provider name: Anvil, the default (ape-config.yaml)
DEFAULT_LOCAL_PROVIDER = "foundry"


def record_key(ecosystem: str, network: str, provider: str) -> str:
    """The network part of a record's name. Two local nodes (Anvil and Hardhat) both answer chain id
    31337, so a local chain other than the default Anvil keeps its provider's name:
    ("ethereum", "local", "foundry") -> "ethereum:local"; (…, "hardhat") -> "ethereum:local:hardhat";
    a live network is told apart by its chain id: ("energyweb", "mainnet", "node") -> "energyweb:mainnet"."""
    if network == "local" and provider != DEFAULT_LOCAL_PROVIDER:
        return f"{ecosystem}:{network}:{provider}"
    return f"{ecosystem}:{network}"


def file_name(network: str, chain_id: int) -> str:
    """ "ethereum:local", 31337 -> "ethereum-local-31337.json"."""
    return f"{network.replace(':', '-')}-{int(chain_id)}.json"


def path_for(network: str, chain_id: int, directory: Path | None = None) -> Path:
    return Path(directory or DEPLOYMENTS_DIR) / file_name(network, chain_id)


def default_local(directory: Path | None = None) -> Path:
    """The record of `ape run deploy --network ethereum:local:foundry` on a default Anvil."""
    return path_for("ethereum:local", LOCAL_CHAIN_ID, directory)


def write(deployment: Deployment, directory: Path | None = None) -> Path:
    directory = Path(directory or DEPLOYMENTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = path_for(deployment.network, deployment.chain_id, directory)
    path.write_text(deployment.to_json() + "\n")
    return path


def read(path: Path) -> Deployment:
    data = json.loads(Path(path).read_text())
    return Deployment(data["network"], int(data["chain_id"]), data["contracts"], data.get("params", {}))


def from_ape_system(system, network: str, chain_id: int, deploy_block: int | None = None) -> Deployment:
    """Builds the record from ape contract instances (ABIs straight from the compiled artefacts).
    `deploy_block`: the first block of the deployment, where the auditor (gridmint-audit) starts
    reading events (params["deploy_block"])."""
    contracts = {}
    for name, contract in system.contracts().items():
        contracts[name] = {
            "address": str(contract.address),
            "abi": [item.model_dump(mode="json", by_alias=True) for item in contract.contract_type.abi],
        }
    params = system.params.as_dict()
    if deploy_block is not None:
        params["deploy_block"] = int(deploy_block)
    return Deployment(network, chain_id, contracts, params)
