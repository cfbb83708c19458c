"""Gateway mode: the oracle on a member's own device, with one meter key and no gas key.

It signs its meter's readings (EIP-712, oracle/eip712.py) and hands them to the
community's relay over HTTP (`POST /readings`); the relay verifies and submits them.
A reading the relay has not acknowledged stays queued and is sent again later, in
order; a refusal (replayed, stale, bad key) is final and reported, never retried.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass

from oracle.eip712 import Domain, MeterSigner, Reading
from oracle.relay import archive_line


@dataclass(frozen=True)
class Handed:
    reading: Reading
    status: int  # HTTP status, 0 when the relay could not be reached
    refused: str = ""


class Gateway:
    """One meter key; sends to one relay. The key never leaves the signer."""

    def __init__(self, signer: MeterSigner, domain: Domain, relay_url: str = "http://127.0.0.1:8787", timeout_s: float = 10.0):
        self.signer, self.domain = signer, domain
        self.separator = domain.separator
        self.relay_url = relay_url.rstrip("/")
        self.timeout_s = timeout_s
        self.queue: deque[tuple[Reading, bytes]] = deque()

    @property
    def meter(self) -> str:
        return self.signer.address

    def sign(self, reading: Reading) -> bytes:
        return self.signer.sign(reading, self.domain, self.separator)

    def hand(self, reading: Reading) -> list[Handed]:
        """Signs `reading`, queues it and sends everything queued, oldest first."""
        self.queue.append((reading, self.sign(reading)))
        return self.flush()

    def flush(self) -> list[Handed]:
        out = []
        while self.queue:
            reading, sig = self.queue[0]
            status, refused = post_reading(self.relay_url, reading, sig, self.timeout_s)
            if status == 0 or status >= 500:
                out.append(Handed(reading, status))
                break  # relay unreachable: keep the queue, try again later
            self.queue.popleft()
            out.append(Handed(reading, status, refused))
        return out


def post_reading(relay_url: str, reading: Reading, signature: bytes, timeout_s: float = 10.0) -> tuple[int, str]:
    """(HTTP status, refusal reason) of handing one signed reading to a relay; status 0 if unreachable."""
    line = archive_line(reading, signature)
    sig = line.pop("signature")
    body = json.dumps({"reading": line, "signature": sig}).encode()
    req = urllib.request.Request(f"{relay_url}/readings", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        try:
            refused = json.loads(exc.read()).get("refused", "")
        except ValueError:
            refused = ""
        return exc.code, refused
    except (urllib.error.URLError, OSError):
        return 0, ""


class EdgeCommunity:
    """A community's meters in gateway mode, for the demo and tests: one `Gateway` per meter (its own
    key, no gas key), one relay (the gas key, no meter key) served over HTTP on 127.0.0.1, a commit
    for every ended slot, crediting on demand.

        edge = EdgeCommunity(w3, relay_account, record, signers, out_dir / "relay")
        edge.hand(ts, {meter: (gen, cons, exp, imp)})   # each slot: gateways sign and hand over
        edge.end_slot()                                 # commit every ended slot (after chain time moved on)
        edge.credit([meter])                            # "bring my meters up to date" before trading/issuing
        edge.gas_per_member_per_day(members, seconds)   # the summary figure
        edge.close()
    `data="blob"` puts each slot's readings in its commit's own EIP-4844 blob (the chain must have them:
    Anvil has), "archive" in a file whose hash is committed.
    `record` is a deployment record (gridmint.deployments.Deployment) with MeterRegistry and ReadingLog;
    the operator must have appointed `relay_account` with `ReadingLog.set_relay` first."""

    def __init__(self, w3, relay_account, record, signers, work_dir, policy: str = "demand", data: str = "archive"):
        from pathlib import Path

        from oracle.relay import Relay, RelayStore, Web3RelayChain
        from oracle.relay_http import serve

        self.chain = Web3RelayChain(
            w3, relay_account, record.address("MeterRegistry"), record.abi("MeterRegistry"),
            record.address("ReadingLog"), record.abi("ReadingLog"),
        )
        _, _, _, chain_id, contract, _, _ = self.chain.registry.functions.eip712Domain().call()
        domain = Domain(int(chain_id), contract)
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            (work / f"relay.sqlite{suffix}").unlink(missing_ok=True)
        slot_s = int(self.chain.log.functions.SLOT_S().call())
        skew = int(self.chain.registry.functions.max_clock_skew().call())
        self.relay = Relay(RelayStore(work / "relay.sqlite"), self.chain, domain, work / "archive", slot_s, skew, policy,
                           data=data)
        self.server = serve(self.relay, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.gateways = {s.address: Gateway(s, domain, url) for s in signers}
        self.refused: list[Handed] = []

    def hand(self, timestamp: int, counters: dict) -> int:
        """Each meter's gateway signs its registers (Wh: generated, consumed, exported, imported) at
        `timestamp` and hands them to the relay; returns how many the relay accepted."""
        ok = 0
        for meter, regs in counters.items():
            for h in self.gateways[meter].hand(Reading(meter, timestamp, *regs)):
                if h.status == 202:
                    ok += 1
                else:
                    self.refused.append(h)
        return ok

    def end_slot(self) -> list[int]:
        return self.relay.commit_ready()

    def credit(self, meters=None) -> int:
        return self.relay.credit_now(list(meters if meters is not None else self.gateways))

    def gas(self) -> dict:
        commits = [g for k, g in self.chain.gas_used if k == "commit"]
        credits = [g for k, g in self.chain.gas_used if k == "credit"]
        return {"commit": commits, "credit": credits}

    def gas_per_member_per_day(self, members: int, seconds: int) -> int:
        """All the relay's gas (commits + credits) per member, scaled to 24 h."""
        total = sum(g for _, g in self.chain.gas_used)
        return round(total / members * 86_400 / max(seconds, 1))

    def close(self) -> None:
        self.server.shutdown()
        self.relay.store.close()


def main(argv=None) -> int:
    """`python -m oracle.gateway` (gridmint-oracle gateway): sign one meter's readings from a replay file
    (CSV or JSON lines, oracle/sources/replay.py) with that meter's key and hand them to the relay.
    The key comes from the encrypted keystore (password in $GRIDMINT_KEY_PASSWORD); no gas key."""
    import argparse
    import os
    import sys
    from pathlib import Path

    from eth_utils import is_address, to_checksum_address

    from oracle.keys import KeystoreError, load_signer
    from oracle.sources.replay import ReplayError, check_replay, parse_replay_row, read_replay

    p = argparse.ArgumentParser(prog="gridmint-oracle gateway", description=main.__doc__)
    p.add_argument("--keystore", required=True, help="directory of encrypted meter keys")
    p.add_argument("--meter", required=True, help="the meter's address (its key signs)")
    p.add_argument("--chain-id", type=int, required=True, help="the chain the registry lives on")
    p.add_argument("--registry", required=True, help="the MeterRegistry address (the EIP-712 domain)")
    p.add_argument("--relay", default="http://127.0.0.1:8787", help="the relay's address")
    p.add_argument("--replay", required=True, help="readings to sign and hand over")
    args = p.parse_args(argv)

    def fail(msg: str) -> int:
        print(f"gridmint-oracle gateway: {msg}", file=sys.stderr)
        return 2

    if not is_address(args.meter) or not is_address(args.registry):
        return fail("--meter and --registry must be addresses")
    password = os.environ.get("GRIDMINT_KEY_PASSWORD")
    if password is None:
        return fail("set GRIDMINT_KEY_PASSWORD to the keystore password")
    meter = to_checksum_address(args.meter)
    try:
        signer = load_signer(Path(args.keystore), meter, password)
        check_replay(Path(args.replay), {meter})
        rows = [parse_replay_row(Path(args.replay).name, n, row) for n, row in read_replay(Path(args.replay))]
    except (KeystoreError, ReplayError, OSError) as exc:
        return fail(str(exc))
    gateway = Gateway(signer, Domain(args.chain_id, to_checksum_address(args.registry)), args.relay)
    handed = refused = 0
    for _, ts, values in rows:
        reading = Reading(meter, ts, values["generated_wh"], values["consumed_wh"], values["exported_wh"], values["imported_wh"])
        for h in gateway.hand(reading):
            if h.status == 202:
                handed += 1
            elif h.status and h.status < 500:
                refused += 1
                print(f"refused {h.reading.timestamp}: {h.refused}", file=sys.stderr)
    print(f"handed {handed}, refused {refused}, queued {len(gateway.queue)} (relay unreachable)" if gateway.queue
          else f"handed {handed}, refused {refused}")
    return 0 if not gateway.queue else 1


if __name__ == "__main__":
    raise SystemExit(main())
