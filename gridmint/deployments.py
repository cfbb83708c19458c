"""deployments/<network>.json: what a deploy wrote and every client (daemon, CLIs, web3, ethers) reads."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# GRIDMINT_DEPLOYMENTS_DIR moves the records (tests keep theirs out of the work tree)
DEPLOYMENTS_DIR = Path(os.environ.get("GRIDMINT_DEPLOYMENTS_DIR", ROOT / "deployments"))


@dataclass
class Deployment:
    network: str
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


def path_for(network: str, directory: Path = DEPLOYMENTS_DIR) -> Path:
    return directory / f"{network.replace(':', '-')}.json"


def write(deployment: Deployment, directory: Path = DEPLOYMENTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = path_for(deployment.network, directory)
    path.write_text(deployment.to_json() + "\n")
    return path


def read(path: Path) -> Deployment:
    data = json.loads(Path(path).read_text())
    return Deployment(data["network"], int(data["chain_id"]), data["contracts"], data.get("params", {}))


def from_ape_system(system, network: str, chain_id: int) -> Deployment:
    """Builds the record from ape contract instances (ABIs straight from the compiled artefacts)."""
    contracts = {}
    for name, contract in system.contracts().items():
        contracts[name] = {
            "address": str(contract.address),
            "abi": [item.model_dump(mode="json", by_alias=True) for item in contract.contract_type.abi],
        }
    return Deployment(network, chain_id, contracts, system.params.as_dict())
