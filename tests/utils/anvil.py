"""A standalone Anvil on 127.0.0.1 for tests that restart the chain or run the daemon as a
subprocess (ape's provider owns its own Anvil; these tests need one they can stop and start)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from eth_account import Account
from web3 import HTTPProvider, Web3

# Anvil's well-known development accounts ("test test ... junk"): public test keys, not secrets
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]


def dev_account(i: int):
    return Account.from_key(DEV_KEYS[i])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    def __init__(self, port: int | None = None, state: Path | None = None, args: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.state = state
        self.args = tuple(args)  # more anvil options, e.g. ("--chain-id", "246") or ("--hardfork", "paris")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Anvil":
        exe = shutil.which("anvil")
        if exe is None:
            raise RuntimeError("anvil not on PATH (make setup installs it from npm)")
        cmd = [exe, "--host", "127.0.0.1", "--port", str(self.port), "--silent", "--gas-limit", "60000000"]
        if self.state is not None:
            cmd += ["--state", str(self.state), "--preserve-historical-states"]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w3 = Web3(HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                w3.eth.chain_id
                return self
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError("anvil exited at start")
                time.sleep(0.05)
        raise RuntimeError("anvil did not answer within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: anvil dumps --state on the way out
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def w3(self) -> Web3:
        return Web3(HTTPProvider(self.url, request_kwargs={"timeout": 10}))
