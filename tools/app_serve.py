"""`make app`: a persistent local Anvil, gridmint deployed and seeded with the demo community's morning,
and the built member app (app/dist) served on 127.0.0.1.

    python -m tools.app_serve [--port 5173] [--rpc-port 8545] [--members 20] [--slots 24] [--fresh]

The chain keeps its state in out/app/anvil-state.json between runs (--fresh starts over). Ctrl-C
stops the server and the node this started. `serve()` is also what the browser tests use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "app" / "dist"
STATE_DIR = ROOT / "out" / "app"


class _Handler(SimpleHTTPRequestHandler):
    """app/dist, plus /config.json (the node's URL) and /deployment.json (read at each request, so a
    redeploy shows on the next page load)."""

    rpc_url: str = ""
    deployment: Path = Path()

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            return self._json(json.dumps({"rpcUrl": self.rpc_url, "deployment": "deployment.json"}).encode())
        if path == "/deployment.json":
            return self._json(self.deployment.read_bytes())
        return super().do_GET()

    def _json(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self):
        if self.path.startswith("/assets/"):
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")  # hashed names
        super().end_headers()

    def log_message(self, *args):  # quiet
        pass


def serve(rpc_url: str, deployment: Path, port: int = 0, dist: Path = DIST) -> ThreadingHTTPServer:
    """Starts the app's HTTP server on 127.0.0.1 in a thread; `.shutdown()` stops it."""
    if not (dist / "index.html").exists():
        raise SystemExit(f"{dist} has no build: run `make app-build` (npm run build in app/)")
    handler = type("Handler", (_Handler,), {"rpc_url": rpc_url, "deployment": Path(deployment)})
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(dist)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_anvil(port: int, accounts: int, state: Path | None) -> subprocess.Popen:
    exe = shutil.which("anvil")
    if exe is None:
        raise SystemExit("anvil not on PATH (make setup installs it from npm)")
    cmd = [exe, "--host", "127.0.0.1", "--port", str(port), "--accounts", str(accounts), "--gas-limit", "60000000",
           "--silent"]
    if state is not None:
        cmd += ["--state", str(state)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 2}))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            w3.eth.chain_id
            return proc
        except Exception:
            if proc.poll() is not None:
                raise SystemExit(f"anvil exited at start (is port {port} taken?)")
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("anvil did not answer within 20 s")


def _seeded(w3: Web3, record: Path) -> bool:
    if not record.exists():
        return False
    data = json.loads(record.read_text())
    return bool(w3.eth.get_code(Web3.to_checksum_address(data["contracts"]["EnergyExchange"]["address"])))


def main(argv: list[str] | None = None) -> int:
    from scripts.app_seed import FIRST_MEMBER, dev_key, seed
    from gridmint.community import COMMUNITY

    ap = argparse.ArgumentParser(description="the member app on a seeded local chain")
    ap.add_argument("--port", type=int, default=5173)
    ap.add_argument("--rpc-port", type=int, default=8545)
    ap.add_argument("--members", type=int, default=len(COMMUNITY))
    ap.add_argument("--slots", type=int, default=24)
    ap.add_argument("--fresh", action="store_true", help="discard the saved chain and seed again")
    args = ap.parse_args(argv)

    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state = STATE_DIR / "anvil-state.json"
    record_dir = STATE_DIR / "deployments"
    if args.fresh:
        state.unlink(missing_ok=True)
        shutil.rmtree(record_dir, ignore_errors=True)
    anvil = start_anvil(args.rpc_port, FIRST_MEMBER + len(COMMUNITY) + 2, state)
    rpc = f"http://127.0.0.1:{args.rpc_port}"
    server = None
    try:
        w3 = Web3(HTTPProvider(rpc, request_kwargs={"timeout": 60}))
        existing = sorted(record_dir.glob("*.json"))
        if existing and _seeded(w3, existing[0]):
            record = existing[0]
            print(f"reusing the saved chain and {record}")
        else:
            print(f"deploying and seeding {args.members} members through {args.slots} half-hour slots…")
            seeded = seed(rpc, COMMUNITY[:args.members], args.slots, record_dir)
            record = seeded.deployment
            print(f"{seeded.trades} trades, {len(seeded.certificates)} certificates; record {record}")
        server = serve(rpc, record, args.port)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        print(f"\nmember app: {url}\nchain:      {rpc} (chain id {w3.eth.chain_id})\n")
        print("Add the chain and a member account to your wallet (test keys, public: never use them elsewhere):")
        print(f"  network: RPC {rpc}, chain id {w3.eth.chain_id}, currency ETH (the app asks the wallet to add it)")
        for i, member in enumerate(COMMUNITY[:min(args.members, 5)]):
            print(f"  {member.name:22s} import private key {dev_key(FIRST_MEMBER + i)}")
        print(f"The CLIs reach this chain with GRIDMINT_DEPLOYMENTS_DIR={record_dir}")
        print("Ctrl-C stops the app and the chain (its state is saved in out/app/).")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        # Ctrl-C too: `make app` starts this with SIGINT ignored (so make itself does not report an error)
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            while not stop.wait(1):
                if anvil.poll() is not None:
                    print("anvil exited", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        if server is not None:
            server.shutdown()
        if anvil.poll() is None:
            anvil.terminate()  # SIGTERM: anvil writes --state on the way out
            try:
                anvil.wait(timeout=20)
            except subprocess.TimeoutExpired:
                anvil.kill()


if __name__ == "__main__":
    sys.exit(main())
