"""Integration tests run on every local chain: Anvil (ape-foundry) and a Hardhat 2 node (ape-hardhat).

The chain is the session's ape network, chosen the way a user chooses it:

    pytest tests/integration                                           # Anvil (the default provider)
    pytest -m local_chain --network ethereum:local:hardhat            # the same tests on Hardhat

`make test` runs both (see the Makefile). A test that must pass on every local chain carries
`@pytest.mark.local_chain`; it reads the chain through the fixtures below instead of naming one:

- `local_network`: the session's network choice ("ethereum:local:foundry" / "ethereum:local:hardhat")
  for `ape run ... --network` subprocesses, which then attach to the session's node on 127.0.0.1:8545
  (under pytest-xdist each worker has its own 127.0.0.1:8545 in a network namespace of its own, and so
  its own node: tests/conftest.py);
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


# ---------------------------------------------------------------- the command line, in-process

# `ape run <script>` -> the click group the script's entry point (scripts/<script>.py) exposes
_CLI_MODULES = {name: f"gridmint.cli.{name}" for name in ("deploy", "operator", "trade", "certificates", "auction", "storage")}


class CliResult:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def out(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(tmp_path, chain, local_network, monkeypatch):
    """Runs `ape run <script> <args> --network <session network>` in this process (click's CliRunner on
    the command the script exposes), against the session's node, with the deployment record in
    tmp_path and a 100-column terminal. `cli(...)` expects exit 0 and returns stdout + stderr;
    `cli(..., code=2)` expects a refusal: exit 2, one line on stderr starting "Error: ", nothing on
    stdout, no block mined (nothing sent) — and returns that line. Nothing carries a traceback or an
    ape log line. `cli.table(...)` also checks that no line is wider than the 100 columns."""
    import importlib

    from click.testing import CliRunner

    from gridmint import deployments

    from gridmint.cli.entry import prepare

    prepare()  # what scripts/<script>.py does before ape connects: tools on PATH, ape quiet
    monkeypatch.setenv("GRIDMINT_DEPLOYMENTS_DIR", str(tmp_path))
    monkeypatch.setattr(deployments, "DEPLOYMENTS_DIR", tmp_path)
    try:  # click 8.1 mixes stderr into stdout unless told not to; 8.2 keeps them apart
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()

    def run(script: str, *args: str, code: int = 0, env: dict | None = None) -> str:
        command = importlib.import_module(_CLI_MODULES[script]).cli
        before = chain.blocks.head.number
        result = runner.invoke(command, [*args, "--network", local_network], env={"COLUMNS": "100", **(env or {})})
        res = CliResult(result.exit_code, result.stdout, result.stderr)
        detail = f"exit {res.code}\n{res.out[-3000:]}\n{result.exception!r}"
        assert res.code == code, detail
        assert "Traceback" not in res.out and "INFO:" not in res.out and "ERROR:" not in res.out, detail
        if code == 2:
            assert chain.blocks.head.number == before, f"a refused command sent something: {res.out}"
            lines = res.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), f"stderr is not one line: {res.stderr!r}"
            assert res.stdout == "", f"a refusal printed to stdout: {res.stdout!r}"
            return lines[0]
        return res.out

    def table(script: str, *args: str, **kw) -> str:
        out = run(script, *args, **kw)
        too_wide = [line for line in out.splitlines() if len(line) > 100]
        assert not too_wide, f"wider than 100 columns: {too_wide}"
        return out

    run.table = table
    return run


@pytest.fixture
def cli_deploy(cli, tmp_path, accounts, chain, project, local_network):
    """`ape run deploy` in-process, its record in tmp_path: `cli_deploy()` deploys and returns the record's
    path and the record, every contract it names as an ape contract (registry, watt, tsl, quote, exchange,
    auction, certificate, cx, ledger), and `fund_rent(*members)`: 10 TSL minted to each and deposited as
    storage rent (by the operator, test account 0)."""
    from types import SimpleNamespace

    from gridmint import deployments

    def deploy() -> SimpleNamespace:
        cli("deploy")
        path = deployments.path_for(deployments.record_key(*local_network.split(":")), chain.chain_id, tmp_path)
        record = deployments.read(path)

        def at(kind: str, name: str = ""):
            return getattr(project, kind).at(record.address(name or kind))

        d = SimpleNamespace(
            path=path, record=record, registry=at("MeterRegistry"), watt=at("WattToken"), tsl=at("StorageRentToken"),
            quote=at("MockStablecoin", "QuoteToken"), exchange=at("EnergyExchange"), auction=at("EnergyAuction"),
            certificate=at("EnvironmentalCertificate"), cx=at("CertificateExchange"), ledger=at("StorageLedger"))

        def fund_rent(*members) -> None:
            for who in members:
                d.tsl.mint(who, 10**19, sender=accounts[0])
                d.tsl.approve(d.watt.address, 10**19, sender=who)
                d.watt.deposit_rent(10**19, sender=who)

        d.fund_rent = fund_rent
        return d

    return deploy


@pytest.fixture
def cli_market(cli_deploy, accounts, chain):
    """A market for the command-line tests: `ape run deploy` in-process (the record in tmp_path), then a
    seller (test account 2) whose PV meter has sent one reading into the battery and a buyer (test
    account 3) holding 100 TEUR; both keep a rent deposit of 10 TSL. `cli_market(seed, registers,
    after_s, name)`: the meter's key is `seed` repeated (one hex byte), `registers` its first reading's
    (generated, consumed, exported, imported) Wh, stamped `after_s` after commissioning. Returns what
    `cli_deploy` does, and operator, seller, buyer and the meter."""
    from types import SimpleNamespace

    from gridmint.onboarding import commissioning, onboard_meter
    from oracle.eip712 import MeterSigner, Reading, domain_from_contract
    from tests.utils.meters import submit_one

    def make(seed: str, registers: tuple[int, int, int, int], after_s: int, name: str) -> SimpleNamespace:
        d = cli_deploy()
        registry, watt, quote = d.registry, d.watt, d.quote
        operator, seller, buyer = accounts[0], accounts[2], accounts[3]
        meter = MeterSigner(bytes.fromhex(seed * 32))
        onboard_meter(registry, operator, seller, meter.address, 1, 50_000, name,
                      commissioning(chain.pending_timestamp - 1))
        t0 = chain.pending_timestamp
        reading = Reading(meter.address, t0 + after_s, *registers)
        chain.pending_timestamp = t0 + after_s
        submit_one(registry, meter, reading, domain_from_contract(registry), sender=operator)
        d.fund_rent(seller, buyer)
        quote.mint(buyer, 100 * 10**6, sender=operator)
        assert watt.balanceOf(seller) == registers[2]  # the export, all of it stored as WATT
        return SimpleNamespace(**vars(d), operator=operator, seller=seller, buyer=buyer, meter=meter)

    return make
