"""A real Chromium (Debian's `chromium` package) driven by Playwright, with an injected EIP-1193 wallet
that forwards to the local chain's unlocked accounts and announces itself through EIP-6963.

Nothing downloads a browser: Playwright launches the system's /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

MEASURES = Path(__file__).resolve().parents[2] / "out" / "app" / "measurements.json"
CHROMIUM = os.environ.get("GRIDMINT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# The test wallet: eth_requestAccounts/eth_accounts answer with one account; signing and sending go
# to the node, which holds the account unlocked (Anvil does); wallet_switchEthereumChain succeeds
# only for the node's own chain (4902 otherwise, as MetaMask answers). Every method the page asks
# for is recorded in window.__walletCalls, so a test can assert that nothing was sent.
PROVIDER_JS = r"""
(() => {
  const RPC = __RPC__, ACCOUNT = __ACCOUNT__;
  // START_CHAIN: the chain the wallet is on when the page opens (null: the node's own); a wallet
  // that starts elsewhere knows only that chain until the page asks it to add the node's
  let current = __START_CHAIN__, known = current === null ? null : [current];
  let seq = 0;
  const listeners = {};
  const calls = (window.__walletCalls = []);
  async function rpc(method, params) {
    const res = await fetch(RPC, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++seq, method, params: params || [] }) });
    const body = await res.json();
    if (body.error) { const e = new Error(body.error.message); e.code = body.error.code; e.data = body.error.data; throw e; }
    return body.result;
  }
  const provider = {
    isGridmintTestWallet: true,
    async request({ method, params }) {
      calls.push(method);
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [ACCOUNT];
        case "eth_chainId":
          return current === null ? rpc("eth_chainId") : current;
        case "wallet_switchEthereumChain": {
          const want = BigInt(params[0].chainId), node = BigInt(await rpc("eth_chainId"));
          if (want !== node || (known !== null && !known.some((c) => BigInt(c) === want))) {
            const e = new Error("Unrecognized chain ID"); e.code = 4902; throw e;
          }
          current = null;
          return null;
        }
        case "wallet_addEthereumChain": {
          if (BigInt(params[0].chainId) !== BigInt(await rpc("eth_chainId"))) throw new Error("this test wallet reaches one node only");
          known = null; current = null;  // added and switched to, as MetaMask does
          return null;
        }
        case "eth_sendTransaction":
          return rpc(method, [{ ...params[0], from: ACCOUNT }]);
        default:
          return rpc(method, params);
      }
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); return provider; },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); return provider; },
  };
  const info = Object.freeze({
    uuid: "6b2f5a0e-6d39-4a43-9f0e-2a7f3c1d9e01", name: "Test Wallet", rdns: "org.gridmint.testwallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'%3E%3Crect width='10' height='10' fill='%23f2a900'/%3E%3C/svg%3E",
  });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


def provider_script(rpc_url: str, account: str, start_chain_id: int | None = None) -> str:
    start = json.dumps(hex(start_chain_id) if start_chain_id is not None else None)
    return (PROVIDER_JS.replace("__RPC__", json.dumps(rpc_url)).replace("__ACCOUNT__", json.dumps(account))
            .replace("__START_CHAIN__", start))


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


def launch(playwright):
    """Launches the system Chromium (headless)."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)


def connect(page):
    """Connects the injected test wallet the way a member does: the wallet's button in the header."""
    page.get_by_role("banner").get_by_role("button", name="Connect Test Wallet").click()
    page.get_by_test_id("account").wait_for()


def drawn_at(page, block: int | None = None, timeout_s: float = 10.0) -> int:
    """Waits until the open page has been drawn from the chain (at `block` or later); returns the block."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        got = page.evaluate("() => Number(document.querySelector('#page > section')?.dataset.block ?? -1)")
        if got >= 0 and (block is None or got >= block):
            return got
        time.sleep(0.05)
    raise AssertionError(f"the page was not drawn at block {block} within {timeout_s} s")


def record(name: str, value) -> None:
    MEASURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(MEASURES.read_text()) if MEASURES.exists() else {}
    data[name] = value
    MEASURES.write_text(json.dumps(data, indent=2) + "\n")


def transact(w3, fn, sender: str, gas: int | None = None):
    """Sends the web3 contract call `fn` from `sender` (a node account) and waits for its receipt, so the
    next read sees it; the transaction must succeed. `gas` None: the node estimates it."""
    tx = {"from": sender} if gas is None else {"from": sender, "gas": gas}
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact(tx))
    assert receipt["status"] == 1
    return receipt
