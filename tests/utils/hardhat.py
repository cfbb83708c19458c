"""A standalone Hardhat 2 node on 127.0.0.1 with the interface of tests/utils/anvil.py's Anvil
(start, stop, url, w3), for tests that run the oracle daemon against a node they stop and start.

Anvil keeps its chain across a restart in a --state file; a Hardhat node has no such file. So
`stop()` records every block (timestamp and transactions) and the next `start()` replays them on
a fresh node with the same genesis (same accounts, same `initialDate`): the dev accounts are
unlocked on the node and sign deterministically, so the replayed transactions get the same hashes
and the chain after a restart is the chain before it (what the daemon's receipts refer to), minus
anything still pending, exactly as with Anvil.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from web3 import HTTPProvider, Web3

from tests.utils.anvil import free_port

ROOT = Path(__file__).resolve().parents[2]
# Hardhat's and Anvil's default development mnemonic: its keys are tests/utils/anvil.py's DEV_KEYS
DEV_MNEMONIC = "test test test test test test test test test test test junk"

CONFIG = """// written by tests/utils/hardhat.py
module.exports = {{
  networks: {{
    hardhat: {{
      hardfork: "{hardfork}",
      chainId: {chain_id},
      blockGasLimit: {gas_limit},
      initialDate: "{initial_date}",
      accounts: {{ mnemonic: "{mnemonic}", count: 20 }},
    }},
  }},
}};
"""


def hardhat_bin() -> str:
    exe = shutil.which("hardhat") or str(ROOT / "node_modules" / ".bin" / "hardhat")
    if not Path(exe).exists():
        raise RuntimeError("hardhat not installed (make setup installs hardhat@2 from npm)")
    return exe


class HardhatNode:
    def __init__(self, root: Path, port: int | None = None, chain_id: int = 31_337, hardfork: str = "cancun",
                 gas_limit: int = 60_000_000):
        self.root = Path(root)
        self.port = port or free_port()
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.gas_limit = gas_limit
        self.proc: subprocess.Popen | None = None
        self._history: list[tuple[int, list[dict]]] = []  # (block timestamp, transactions), block 1..head
        self._initial_date = datetime.now(timezone.utc).replace(microsecond=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def w3(self) -> Web3:
        return Web3(HTTPProvider(self.url, request_kwargs={"timeout": 10}))

    def _config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "hardhat.config.js"
        path.write_text(
            CONFIG.format(
                hardfork=self.hardfork,
                chain_id=self.chain_id,
                gas_limit=self.gas_limit,
                initial_date=self._initial_date.isoformat(),
                mnemonic=DEV_MNEMONIC,
            )
        )
        return path

    def start(self) -> "HardhatNode":
        config = self._config()
        cmd = [hardhat_bin(), "node", "--hostname", "127.0.0.1", "--port", str(self.port), "--config", str(config)]
        env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
        # cwd: Hardhat refuses to run unless it resolves itself from the working directory (HH12)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.time() + 60
        while True:
            try:
                w3.eth.chain_id
                break
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hardhat node exited at start (status {self.proc.returncode})")
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError("hardhat node did not answer within 60 s")
                time.sleep(0.1)
        if self._history:
            self._replay(self.w3())
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self._history = self._record(self.w3())
            finally:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None

    @staticmethod
    def _record(w3: Web3) -> list[tuple[int, list[dict]]]:
        history = []
        for number in range(1, w3.eth.block_number + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            history.append((int(block["timestamp"]), [_resend_params(tx) for tx in block["transactions"]]))
        return history

    def _replay(self, w3: Web3) -> None:
        request = w3.provider.make_request
        unlocked = {a.lower() for a in w3.eth.accounts}
        request("evm_setAutomine", [False])
        try:
            for timestamp, txs in self._history:
                for tx in txs:
                    if tx["from"].lower() not in unlocked:  # signs with a fake signature: another hash
                        request("hardhat_impersonateAccount", [tx["from"]])
                    reply = request("eth_sendTransaction", [tx])
                    if "error" in reply:
                        raise RuntimeError(f"hardhat replay: {reply['error']}")
                reply = request("evm_mine", [timestamp])
                if "error" in reply:
                    raise RuntimeError(f"hardhat replay: {reply['error']}")
        finally:
            request("evm_setAutomine", [True])


def _resend_params(tx) -> dict:
    """The JSON-RPC eth_sendTransaction params that re-create `tx` byte for byte."""
    params = {
        "from": tx["from"],
        "nonce": hex(tx["nonce"]),
        "gas": hex(tx["gas"]),
        "value": hex(tx["value"]),
        "data": Web3.to_hex(tx["input"]),
    }
    if tx.get("to"):
        params["to"] = tx["to"]
    if int(tx.get("type", 0)) == 2:
        params["maxFeePerGas"] = hex(tx["maxFeePerGas"])
        params["maxPriorityFeePerGas"] = hex(tx["maxPriorityFeePerGas"])
        params["type"] = "0x2"
        if tx.get("accessList"):
            params["accessList"] = json.loads(Web3.to_json(tx["accessList"]))
    else:
        params["gasPrice"] = hex(tx["gasPrice"])
    return params
