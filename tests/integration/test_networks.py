"""Live networks without code changes, proven offline (docs/chains.md).

- Energy Web Chain: an Anvil started with --chain-id 246 stands in for it. Everything a live
  deployment does goes through ape's custom network entry `energyweb:mainnet` of ape-config.yaml,
  pointed at the node's RPC URL the documented way (`--network energyweb:mainnet:<URL>`), with ape
  keystore accounts: the deploy, the operator's registration and TSL, the owner's acceptance and rent
  deposit, the oracle's backfill against the deployment file, and a trade.
- Chains without Cancun: the same sources built with `vyper: evm_version: paris` pass the reading
  spine (tests/integration/test_anvil_readings.py) on an Anvil started with --hardfork paris.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest
import yaml
from eth_account import Account
from eth_hash.auto import keccak

from gridmint import deployments
from gridmint.system import Web3Contract
from oracle.eip712 import MeterSigner
from oracle.keys import import_key
from tests.utils.anvil import Anvil, dev_account

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSPHRASE = "test-only-passphrase"  # throwaway keystores of a test chain
ALIASES = {"operator": 0, "payer": 1, "seller": 2, "buyer": 3}  # ape account alias -> Anvil dev key


def _keystores(data_folder: Path) -> dict[str, str]:
    """ape keystores (what `ape accounts import` writes) for the dev keys; returns the environment
    that unlocks them (ape reads APE_ACCOUNTS_<alias>_PASSPHRASE)."""
    (data_folder / "accounts").mkdir(parents=True)
    # the user-level ape config beside the keystores: ape waits for 2 confirmations on a live network,
    # and this stand-in mines only when sent a transaction (the project's ape-config.yaml is untouched)
    (data_folder / "ape-config.yaml").write_text("energyweb:\n  mainnet:\n    required_confirmations: 0\n")
    env = {}
    for alias, i in ALIASES.items():
        keyfile = Account.encrypt(dev_account(i).key, PASSPHRASE, kdf="pbkdf2", iterations=2)
        (data_folder / "accounts" / f"{alias}.json").write_text(json.dumps(keyfile))
        env[f"APE_ACCOUNTS_{alias}_PASSPHRASE"] = PASSPHRASE
    return env


@pytest.fixture
def ewc(tmp_path):
    node = Anvil(args=("--chain-id", "246")).start()
    yield node
    node.stop()


def test_energy_web_chain_through_the_custom_network_entry(tmp_path, ewc):
    w3 = ewc.w3()
    assert w3.eth.chain_id == 246
    network = f"energyweb:mainnet:{ewc.url}"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "APE_DATA_FOLDER": str(tmp_path / "ape-data"),  # the test's keystores, not the user's
        "GRIDMINT_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        **_keystores(tmp_path / "ape-data"),
    }

    def ape(*args: str, ok: bool = True) -> str:
        # live-network accounts confirm each signature: a user types y, the test pipes it
        result = subprocess.run([str(BIN / "ape"), "run", *args, "--network", network], cwd=ROOT, env=env,
                                input="y\n" * 50, capture_output=True, text=True, timeout=300)
        out = result.stdout + result.stderr
        assert (result.returncode == 0) == ok, out[-3000:]
        return out

    # a live network needs a named operator: no test account is used silently
    assert "--account" in ape("deploy", ok=False)
    ape("deploy", "--account", "operator")
    path = tmp_path / "deployments" / "energyweb-mainnet-246.json"
    record = deployments.read(path)
    assert (record.network, record.chain_id) == ("energyweb:mainnet", 246)
    c = {name: Web3Contract(w3, record.address(name), record.abi(name)) for name in record.contracts}
    operator, payer, seller, buyer = (dev_account(i) for i in ALIASES.values())
    assert c["MeterRegistry"].eip712Domain()[3] == 246  # the meters sign for chain 246
    assert c["MeterRegistry"].owner() == operator.address  # the deploying account is the operator

    # the operator registers a PV meter of the seller (commissioned two hours ago at zero), the seller accepts
    meter = MeterSigner(keccak(b"energy-web-test-meter"))
    now = w3.eth.get_block("latest")["timestamp"]
    ape("operator", "register", meter.address, seller.address, "--method", "solar", "--rated-power", "50",
        "--name", "EWC roof", "--commissioned-at", str(now - 7_200), "--account", "operator")
    ape("trade", "accept-meter", meter.address, "--account", "seller")

    # the oracle: its config names only the RPC URL and the deployment file the deploy wrote
    keys = tmp_path / "keys"
    import_key(keys, keccak(b"energy-web-test-meter"), PASSPHRASE, kdf="pbkdf2", iterations=2)
    import_key(keys, bytes(payer.key), PASSPHRASE, kdf="pbkdf2", iterations=2)
    (tmp_path / "oracle.toml").write_text(
        f'[chain]\nrpc_url = "{ewc.url}"\ndeployment = "{path}"\n\n'
        f'[oracle]\ndatabase = "{tmp_path / "oracle.db"}"\nkeystore_dir = "{keys}"\npayer = "{payer.address}"\n'
        f"poll_interval_s = 0.1\n\n"
        # backfill reads no source: the meter's entry names its key
        f'[[meters]]\naddress = "{meter.address}"\nsource = "simulator"\npv_kwp = 8\nannual_kwh = 4000\nprofile = "H25"\n'
    )
    (tmp_path / "readings.csv").write_text(
        "meter,timestamp,generated_wh,consumed_wh,exported_wh,imported_wh\n"
        f"{meter.address},{now - 3_600},3000,1000,2000,0\n"
        f"{meter.address},{now - 1_800},8000,2000,6000,0\n"
    )
    oracle = subprocess.run(
        [sys.executable, "-m", "oracle.cli", "backfill", str(tmp_path / "readings.csv"), "--config", str(tmp_path / "oracle.toml")],
        cwd=tmp_path, env={**env, "GRIDMINT_KEY_PASSWORD": PASSPHRASE}, capture_output=True, text=True, timeout=300,
    )
    assert oracle.returncode == 0, (oracle.stdout + oracle.stderr)[-3000:]
    assert "accepted 2" in oracle.stdout
    assert c["WattToken"].balanceOf(seller.address) == 6_000

    # rent: the operator mints TSL, both deposit it; the buyer gets mock EUR (the deployer's mock on a test chain)
    for alias, who in (("seller", seller), ("buyer", buyer)):
        ape("operator", "mint-tsl", who.address, "50", "--account", "operator")
        ape("trade", "deposit-rent", "50", "--account", alias)
    c["QuoteToken"].mint(buyer.address, 100 * 10**6, sender=operator)

    ape("trade", "place", "sell", "0.2", "5", "--account", "seller")
    ape("trade", "place", "buy", "0.25", "2", "--ioc", "--account", "buyer")
    assert c["WattToken"].balanceOf(buyer.address) == 2_000
    paid = 100 * 10**6 - c["QuoteToken"].balanceOf(buyer.address)
    assert 400_000 <= paid <= 400_000 * 101 // 100  # 2 kWh at the maker's 0.20 EUR/kWh, plus a taker fee under 1 %
    assert "2.000 kWh" in ape("trade", "trades")


def _code(contract_type: dict, which: str) -> bytes:
    """`which`: "deploymentBytecode" (the initcode) or "runtimeBytecode"."""
    return bytes.fromhex(contract_type[which]["bytecode"].removeprefix("0x"))


def _metadata(contract_type: dict) -> list:
    """The CBOR metadata ending a Vyper contract's initcode: [integrity hash, runtime size, [data
    section sizes], immutables size, {"vyper": version}]."""
    init = _code(contract_type, "deploymentBytecode")
    return cbor2.loads(init[-int.from_bytes(init[-2:], "big"):-2])


def _opcodes(contract_type: dict) -> set[int]:
    """The opcodes of a Vyper contract's runtime code, skipping PUSH data and the data sections
    (jump tables) at its end, whose sizes are in the metadata."""
    _, runtime_size, data_sizes, _, compiler = _metadata(contract_type)
    assert "vyper" in compiler
    code = _code(contract_type, "runtimeBytecode")[: runtime_size - sum(data_sizes)]
    ops, i = set(), 0
    while i < len(code):
        op = code[i]
        ops.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


TLOAD, TSTORE, MCOPY, PUSH0 = 0x5C, 0x5D, 0x5E, 0x5F
EIP170_BYTES = 24_576  # the largest runtime code a contract creation may return


def _runtime_size(contract_type: dict) -> int:
    """The code a creation returns: the runtime code and, after it, the immutables' values (their size
    is in the metadata); EIP-170 limits the two together."""
    return len(_code(contract_type, "runtimeBytecode")) + _metadata(contract_type)[3]


def test_paris_build_passes_the_reading_spine_on_a_paris_chain(tmp_path):
    # an Anvil without Cancun: a contract creation that uses TSTORE fails there
    node = Anvil(args=("--hardfork", "paris")).start()
    try:
        w3 = node.w3()
        probe = dev_account(3).sign_transaction(
            {"data": "0x600160005d00", "nonce": 0, "gas": 100_000, "gasPrice": 2 * 10**9, "chainId": w3.eth.chain_id}
        )
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(probe.raw_transaction))
        assert receipt["status"] == 0, "this Anvil runs TSTORE: not a pre-Cancun chain"

        # the project as a user configures it for such a chain: same sources, `evm_version: paris`
        project = tmp_path / "project"
        shutil.copytree(ROOT / "contracts", project / "contracts")
        shutil.copytree(ROOT / "tests", project / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
        config = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
        config["vyper"]["evm_version"] = "paris"
        config["foundry"].update(host=node.url, evm_version="paris")  # ape attaches to the paris node
        # the reading log commits EIP-4844 blobs (BLOBHASH): a chain without Cancun has no blobs to commit
        config["compile"]["exclude"].append("ReadingLog.vy")
        # the slot auction's Paris code is over EIP-170 (27,005 bytes; 24,020 on Cancun): a Paris community
        # trades on the continuous book (docs/chains.md)
        config["compile"]["exclude"].append("EnergyAuction.vy")
        (project / "ape-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        compiled = subprocess.run([str(BIN / "ape"), "compile"], cwd=project, env=env, capture_output=True,
                                  text=True, timeout=600)
        assert compiled.returncode == 0, (compiled.stdout + compiled.stderr)[-3000:]
        paris = json.loads((project / ".build" / "__local__.json").read_text())["contractTypes"]
        cancun = json.loads((ROOT / ".build" / "__local__.json").read_text())["contractTypes"]
        assert set(paris) == set(cancun) - {"ReadingLog", "EnergyAuction"}
        for name, contract in paris.items():
            ops = _opcodes(contract)
            assert not ops & {TLOAD, TSTORE, MCOPY, PUSH0}, f"{name}: the paris build uses a later opcode"
        # without MCOPY and PUSH0 the code grows (5-13 % here): every contract must still deploy (EIP-170)
        too_big = {
            name: (_runtime_size(contract), _runtime_size(cancun[name]))
            for name, contract in paris.items() if _runtime_size(contract) > EIP170_BYTES
        }
        assert not too_big, f"paris runtime code over {EIP170_BYTES} bytes (paris, cancun): {too_big}"
        # the default build is Cancun's: the reentrancy locks live in transient storage
        assert {TLOAD, TSTORE} <= _opcodes(cancun["EnvironmentalCertificate"])

        spine = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/integration/test_anvil_readings.py",
             "--network", "ethereum:local:foundry"],
            cwd=project, env=env, capture_output=True, text=True, timeout=600,
        )
        assert spine.returncode == 0, (spine.stdout + spine.stderr)[-3000:]
        assert " passed" in spine.stdout and "failed" not in spine.stdout
    finally:
        node.stop()
