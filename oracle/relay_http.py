"""The relay's HTTP face (stdlib only), on 127.0.0.1 by default.

    POST /readings                 {"reading": {meter, timestamp, generatedWh, consumedWh,
                                    exportedWh, importedWh}, "signature": "0x..65 bytes"}
                                   -> 202 {"status": "accepted"}
                                   -> 409 {"refused": "replayed"|"stale"|"slot_closed", "words": ...}
                                   -> 403 {"refused": "bad_signature"|"unknown_meter", ...}
                                   -> 422 {"refused": "malformed"|"counter_down"|"future", ...}
    GET  /proof/<meter>/<timestamp> -> 200 the proof (oracle/relay.Relay.proof), 404 if not committed
    GET  /status                    -> 200 backlog counts

Everything but POST /readings is read-only. Bind elsewhere only behind TLS and a login
(a reverse proxy); MQTT with login and TLS is the other transport gateways may use.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oracle.relay import Relay, parse_archive_line

_STATUS = {"replayed": 409, "stale": 409, "slot_closed": 409, "bad_signature": 403, "unknown_meter": 403}
MAX_BODY_BYTES = 4_096


def make_handler(relay: Relay):
    class Handler(BaseHTTPRequestHandler):
        server_version = "gridmint-relay"

        def log_message(self, fmt, *args):  # quiet: the relay logs verdicts itself
            return

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's name
            parts = self.path.strip("/").split("/")
            if parts == ["status"]:
                return self._send(200, relay.status())
            if len(parts) == 3 and parts[0] == "proof" and parts[2].isdigit():
                proof = relay.proof(parts[1], int(parts[2]))
                if proof is None:
                    return self._send(404, {"error": "no committed reading of this meter at this time"})
                return self._send(200, proof)
            return self._send(404, {"error": "unknown path"})

        def do_POST(self):  # noqa: N802
            if self.path != "/readings":
                return self._send(404, {"error": "unknown path"})
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                return self._send(413 if length else 411, {"refused": "malformed", "words": "bad body length"})
            try:
                body = json.loads(self.rfile.read(length))
                reading, signature = parse_archive_line({**body["reading"], "signature": body["signature"]})
            except (ValueError, KeyError, TypeError):
                return self._send(422, {"refused": "malformed", "words": "not a signed reading"})
            verdict = relay.receive(reading, signature)
            if verdict.ok:
                return self._send(202, {"status": "accepted"})
            return self._send(_STATUS.get(verdict.reason, 422), {"refused": verdict.reason, "words": verdict.words})

    return Handler


def serve(relay: Relay, host: str = "127.0.0.1", port: int = 8787) -> ThreadingHTTPServer:
    """Starts the server on a daemon thread and returns it (`server.shutdown()` stops it);
    port 0 picks a free port (`server.server_address`)."""
    server = ThreadingHTTPServer((host, port), make_handler(relay))
    threading.Thread(target=server.serve_forever, name="relay-http", daemon=True).start()
    return server


def build_relay(args, environ=None):
    """A relay over web3 from a deployment record (MeterRegistry + ReadingLog) and the gas key in
    $GRIDMINT_RELAY_KEY (never printed)."""
    import os

    from eth_account import Account
    from web3 import HTTPProvider, Web3

    from gridmint.deployments import read
    from oracle.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Domain
    from oracle.relay import RelayStore, Web3RelayChain

    env = os.environ if environ is None else environ
    key = env.get("GRIDMINT_RELAY_KEY", "")
    if not key:
        raise SystemExit("gridmint-relay: set GRIDMINT_RELAY_KEY to the relay's gas key")
    record = read(Path(args.deployment))
    w3 = Web3(HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    chain = Web3RelayChain(
        w3, Account.from_key(key), record.address("MeterRegistry"), record.abi("MeterRegistry"),
        record.address("ReadingLog"), record.abi("ReadingLog"),
    )
    _, name, version, chain_id, contract, _, _ = chain.registry.functions.eip712Domain().call()
    if (name, version) != (DOMAIN_NAME, DOMAIN_VERSION):
        raise SystemExit(f"gridmint-relay: unexpected EIP-712 domain {name!r} v{version!r}")
    domain = Domain(int(chain_id), contract)
    slot_s = int(chain.log.functions.SLOT_S().call())
    skew = int(chain.registry.functions.max_clock_skew().call())
    return Relay(
        RelayStore(args.db), chain, domain, Path(args.archive_dir), slot_s, skew, args.policy,
        args.archive_base_url, crash_at=env.get("GRIDMINT_RELAY_CRASH_AT") or None,
    )


def main(argv=None) -> int:
    """`python -m oracle.relay_http` (gridmint-oracle relay): serve gateways, commit each slot, credit by policy."""
    import argparse
    import sys
    import time

    parser = argparse.ArgumentParser(prog="gridmint-oracle relay", description=main.__doc__)
    parser.add_argument("--deployment", required=True, help="deployments/<network>.json with MeterRegistry and ReadingLog")
    parser.add_argument("--rpc", default="http://127.0.0.1:8545")
    parser.add_argument("--db", default="relay.sqlite", help="the outbox (SQLite)")
    parser.add_argument("--archive-dir", default="relay-archive", help="where each slot's data file is written")
    parser.add_argument("--archive-base-url", default=None, help="public address of --archive-dir (default: file://)")
    parser.add_argument("--policy", default="hours:24", help="every | hours:N | demand")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--interval-s", type=float, default=10.0, help="seconds between commit/credit rounds")
    parser.add_argument("--once", action="store_true", help="one commit and credit round, no server, then exit")
    args = parser.parse_args(argv)
    try:
        from oracle.relay import parse_policy

        parse_policy(args.policy)
        relay = build_relay(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"gridmint-relay: {exc}", file=sys.stderr)
        return 2
    if args.once:
        done = relay.commit_ready()
        credited = relay.credit_due()
        print(json.dumps({"committed": done, "credited": credited}))
        return 0
    server = serve(relay, args.host, args.port)
    try:
        while True:
            relay.commit_ready()
            relay.credit_due()
            time.sleep(args.interval_s)
    except KeyboardInterrupt:
        server.shutdown()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
