"""`make app`: a persistent local Anvil, gridmint deployed and seeded with the demo community's morning,
and the built member app (app/dist) served on 127.0.0.1.

    python -m tools.app_serve [--port 5173] [--rpc-port 8545] [--members 20] [--slots 24] [--fresh]
                              [--audit-every 30]

The chain keeps its state in out/app/anvil-state.json between runs (--fresh starts over). After
seeding (or on the reused chain) the public auditor runs over it (`audit_app`: store, JSON and HTML
report in out/app/audit/, read incrementally), again every --audit-every seconds while serving, and
the app shows its headline. Ctrl-C stops the server and the node this started. `serve()` and
`audit_app()` are also what the browser tests use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from typing import TYPE_CHECKING
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from web3 import HTTPProvider, Web3

if TYPE_CHECKING:
    from gridmint.audit import Report

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "app" / "dist"
STATE_DIR = ROOT / "out" / "app"
AUDIT_JSON, AUDIT_HTML = "audit.json", "audit.html"  # in the audit directory, served under /audit/
AUDIT_EVERY_S = 30.0


def audit_app(rpc_url: str, deployment: Path, audit_dir: Path) -> Report:
    """Audits the deployment on the node (gridmint.audit.audit) with its store in `audit_dir`, so a
    second call reads only new blocks, and writes audit.json (Report.to_json, with "html" naming
    the report beside it) and audit.html there, each replaced whole (a request never reads half a
    file). Returns the Report; raises gridmint.audit.AuditInputError for an unusable node/record."""
    from gridmint.audit import audit

    audit_dir = Path(audit_dir)
    audit_dir.mkdir(parents=True, exist_ok=True)
    html_tmp = audit_dir / (AUDIT_HTML + ".tmp")
    # the record's params["deploy_block"] tells the auditor where to start (a node restarted from a saved
    # state has no history for it to search)
    report = audit(deployment, rpc_url, audit_dir / "audit.sqlite", html_path=html_tmp)
    os.replace(html_tmp, audit_dir / AUDIT_HTML)
    body = report.to_dict()
    body["html"] = AUDIT_HTML  # relative to the JSON's URL, not this machine's path
    json_tmp = audit_dir / (AUDIT_JSON + ".tmp")
    json_tmp.write_text(json.dumps(body, indent=2, default=str))
    os.replace(json_tmp, audit_dir / AUDIT_JSON)
    report.html_path = str(audit_dir / AUDIT_HTML)
    return report



def audit_every(interval_s: float, rpc_url: str, deployment: Path, audit_dir: Path,
                stop: threading.Event, audited: int | None = None) -> threading.Thread:
    """Re-audits every `interval_s` seconds in a daemon thread, when the chain has new blocks since
    `audited` (the block of the audit already served, if any), until `stop` is set (the thread then
    ends within one audit). A failed audit is one line on stderr; the last good report stays served."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))

    def run():
        nonlocal audited
        while not stop.wait(interval_s):
            try:
                if w3.eth.block_number != audited:  # an idle chain costs one call, not an audit
                    audited = audit_app(rpc_url, deployment, audit_dir).block
            except Exception as e:  # noqa: BLE001 - the server keeps serving the last report
                print(f"audit: {e}".splitlines()[0], file=sys.stderr)

    thread = threading.Thread(target=run, name="audit", daemon=True)
    thread.start()
    return thread


class _Handler(SimpleHTTPRequestHandler):
    """app/dist, plus /config.json (the node's URL, and the audit's JSON path once there is one),
    /deployment.json (read at each request, so a redeploy shows on the next page load) and
    /audit/audit.json, /audit/audit.html (the latest audit, read at each request)."""

    rpc_url: str = ""
    deployment: Path = Path()
    audit_dir: Path | None = None

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            config = {"rpcUrl": self.rpc_url, "deployment": "deployment.json"}
            if self._audit_file(AUDIT_JSON) is not None:
                config["audit"] = f"audit/{AUDIT_JSON}"
            return self._send(json.dumps(config).encode())
        if path == "/deployment.json":
            return self._send(self.deployment.read_bytes())
        if path.startswith("/audit/"):
            name = path.removeprefix("/audit/")
            file = self._audit_file(name) if name in (AUDIT_JSON, AUDIT_HTML) else None
            if file is None:
                return self.send_error(404, "no audit here")
            kind = "application/json" if name == AUDIT_JSON else "text/html; charset=utf-8"
            return self._send(file.read_bytes(), kind)
        return super().do_GET()

    def _audit_file(self, name: str) -> Path | None:
        if self.audit_dir is None or not (self.audit_dir / name).is_file():
            return None
        return self.audit_dir / name

    def _send(self, body: bytes, content_type: str = "application/json"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
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


def serve(rpc_url: str, deployment: Path, port: int = 0, dist: Path = DIST,
          audit_dir: Path | None = None) -> ThreadingHTTPServer:
    """Starts the app's HTTP server on 127.0.0.1 in a thread; `.shutdown()` stops it. With
    `audit_dir` (where `audit_app` writes) it serves the latest audit under /audit/."""
    if not (dist / "index.html").exists():
        raise SystemExit(f"{dist} has no build: run `make app-build` (npm run build in app/)")
    handler = type("Handler", (_Handler,), {"rpc_url": rpc_url, "deployment": Path(deployment),
                                            "audit_dir": Path(audit_dir) if audit_dir is not None else None})
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
    from tools.app_seed import FIRST_MEMBER, dev_key, seed
    from gridmint.community import COMMUNITY

    ap = argparse.ArgumentParser(description="the member app on a seeded local chain")
    ap.add_argument("--port", type=int, default=5173)
    ap.add_argument("--rpc-port", type=int, default=8545)
    ap.add_argument("--members", type=int, default=len(COMMUNITY))
    ap.add_argument("--slots", type=int, default=24)
    ap.add_argument("--fresh", action="store_true", help="discard the saved chain and seed again")
    ap.add_argument("--audit-every", type=float, default=AUDIT_EVERY_S, metavar="SECONDS",
                    help=f"re-audit the chain this often while serving (default {AUDIT_EVERY_S:g} s; 0: only at start)")
    args = ap.parse_args(argv)
    if args.audit_every < 0:
        print("app_serve: --audit-every must be 0 or more seconds", file=sys.stderr)
        return 2

    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state = STATE_DIR / "anvil-state.json"
    record_dir = STATE_DIR / "deployments"
    audit_dir = STATE_DIR / "audit"
    if args.fresh:
        state.unlink(missing_ok=True)
        shutil.rmtree(record_dir, ignore_errors=True)
    anvil = start_anvil(args.rpc_port, FIRST_MEMBER + len(COMMUNITY) + 2, state)
    rpc = f"http://127.0.0.1:{args.rpc_port}"
    server = auditor = None
    stop = threading.Event()
    try:
        w3 = Web3(HTTPProvider(rpc, request_kwargs={"timeout": 60}))
        existing = sorted(record_dir.glob("*.json"))
        if existing and _seeded(w3, existing[0]):
            record = existing[0]
            print(f"reusing the saved chain and {record}")
        else:
            print(f"deploying and seeding {args.members} members through {args.slots} half-hour slots…")
            shutil.rmtree(audit_dir, ignore_errors=True)  # the store holds the old chain's events
            seeded = seed(rpc, COMMUNITY[:args.members], args.slots, record_dir)
            record = seeded.deployment
            print(f"{seeded.trades} trades, {len(seeded.certificates)} certificates; record {record}")
        from gridmint.audit import AuditInputError

        t0 = time.perf_counter()
        report = None
        try:
            report = audit_app(rpc, record, audit_dir)
            print(f"{report.headline()} ({time.perf_counter() - t0:.1f} s); report {audit_dir / AUDIT_HTML}")
        except AuditInputError as e:
            print(f"audit: {e} (the app shows no audit)", file=sys.stderr)
        server = serve(rpc, record, args.port, audit_dir=audit_dir)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        print(f"\nmember app: {url}\nchain:      {rpc} (chain id {w3.eth.chain_id})\n")
        print("Add the chain and a member account to your wallet (test keys, public: never use them elsewhere):")
        print(f"  network: RPC {rpc}, chain id {w3.eth.chain_id}, currency ETH (the app asks the wallet to add it)")
        for i, member in enumerate(COMMUNITY[:min(args.members, 5)]):
            print(f"  {member.name:22s} import private key {dev_key(FIRST_MEMBER + i)}")
        print(f"The CLIs reach this chain with GRIDMINT_DEPLOYMENTS_DIR={record_dir}")
        print("Ctrl-C stops the app and the chain (its state is saved in out/app/).")
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        # Ctrl-C too: `make app` starts this with SIGINT ignored (so make itself does not report an error)
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if args.audit_every > 0:
            auditor = audit_every(args.audit_every, rpc, record, audit_dir, stop, report.block if report else None)
        try:
            while not stop.wait(1):
                if anvil.poll() is not None:
                    print("anvil exited", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        stop.set()
        if auditor is not None:
            auditor.join(timeout=60)  # an audit under way finishes before the node stops
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
