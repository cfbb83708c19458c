"""Integration tests run on every local chain: Anvil (ape-foundry) and a Hardhat 2 node (ape-hardhat).

The chain is the session's ape network, chosen the way a user chooses it:

    pytest tests/integration                                           # Anvil (the default provider)
    pytest -m local_chain --network ethereum:local:hardhat            # the same tests on Hardhat

`make test` runs both (see the Makefile). A test that must pass on every local chain carries
`@pytest.mark.local_chain`; it reads the chain through the fixtures below instead of naming one:

- `local_network`: the session's network choice ("ethereum:local:foundry" / "ethereum:local:hardhat")
  for `ape run ... --network` subprocesses, which then attach to the session's node on 127.0.0.1:8545;
- `local_chain_name`: "anvil" or "hardhat";
- `standalone_chain`: a factory for a node of the same kind that the test starts and stops itself
  (the oracle daemon's tests): `standalone_chain(tmp_path).start()`, `.stop()`, `.url`, `.w3()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# ape provider name -> the chain's name in test ids, docs and the Makefile's CHAIN=
LOCAL_CHAINS = {"foundry": "anvil", "hardhat": "hardhat"}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "local_chain: an integration test that must pass on every local chain; "
        "`make test` runs it on Anvil and again with --network ethereum:local:hardhat",
    )
    # ape on Hardhat keeps a full struct-log trace per transaction unless told not to (gridmint/hardhat.py)
    from gridmint.hardhat import skip_console_log_traces

    skip_console_log_traces()


def pytest_report_header(config):
    network = config.getoption("network", default=None) or "ethereum:local (default provider: foundry)"
    return f"gridmint ape network: {network}"


@pytest.fixture(scope="session")
def local_network(networks) -> str:
    provider = networks.provider
    if provider.name not in LOCAL_CHAINS or not provider.network.is_local:
        raise pytest.UsageError(
            f"integration tests run on a local chain ({', '.join(LOCAL_CHAINS)}), not {provider.network_choice}"
        )
    return f"{provider.network.ecosystem.name}:{provider.network.name}:{provider.name}"


@pytest.fixture(scope="session")
def local_chain_name(local_network) -> str:
    return LOCAL_CHAINS[local_network.rsplit(":", 1)[1]]


@pytest.fixture
def standalone_chain(local_chain_name):
    """Factory: an unstarted node of the session's kind (the caller starts and stops it).

    Anvil keeps its state across stop/start in `tmp_path/anvil-state.json`; the Hardhat node,
    which has no state file, replays its recorded blocks on start (tests/utils/hardhat.py)."""
    from tests.utils.anvil import Anvil
    from tests.utils.hardhat import HardhatNode

    def make(tmp_path: Path, **kw):
        if local_chain_name == "hardhat":
            return HardhatNode(root=tmp_path / "hardhat", **kw)
        return Anvil(state=tmp_path / "anvil-state.json", **kw)

    return make
