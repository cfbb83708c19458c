"""`make bench-oracle`: the oracle's throughput, measured (not from timed tests).

1. signing: EIP-712 digest + secp256k1 signature of readings on one core (MeterSigner, coincurve);
2. intake: sign + durable outbox insert (SQLite WAL, synchronous=FULL), one transaction per sample
   as the MQTT path does it;
3. end to end: readings of 64 meters from a replay file to `accepted` on a local Anvil
   (signed, stored, batched by 64, mined, settled from receipts).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from eth_hash.auto import keccak

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oracle.chain import Registry, Submitter  # noqa: E402
from oracle.ingest import Ingestor  # noqa: E402
from oracle.sources.replay import replay  # noqa: E402
from gridmint.deployments import read as read_deployment  # noqa: E402
from oracle.eip712 import Domain, MeterSigner, Reading  # noqa: E402
from oracle.outbox import Outbox  # noqa: E402


def bench_signing(n: int = 20_000) -> float:
    signer = MeterSigner(keccak(b"bench-meter"))
    domain = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    sep = domain.separator
    readings = [Reading(signer.address, 1_800_000_000 + i, i * 7, i * 5, i * 3, i) for i in range(n)]
    t0 = time.perf_counter()
    for r in readings:
        signer.sign(r, domain, sep)
    return n / (time.perf_counter() - t0)


def bench_intake(directory: Path, n: int = 2_000) -> float:
    signer = MeterSigner(keccak(b"bench-meter"))
    domain = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    ingestor = Ingestor(Outbox(directory / "intake.db"), domain, {signer.address: signer})
    t0 = time.perf_counter()
    for i in range(n):
        ingestor.ingest(signer.address, {"generated_wh": i, "exported_wh": i}, "bench", 1_800_000_000 + i)
    return n / (time.perf_counter() - t0)


def bench_end_to_end(directory: Path, meters: int = 64, per_meter: int = 80) -> tuple[float, int, float]:
    from tests.utils import oracle_env
    from tests.utils.anvil import Anvil

    anvil = Anvil().start()
    try:
        env = oracle_env.build(directory, anvil, meters)
        t_start = int(time.time()) - per_meter * 60 - 60
        path = directory / "bench.jsonl"
        with path.open("w") as fh:
            for k in range(per_meter):
                for m in env.meters:
                    fh.write(
                        json.dumps(
                            {"meter": m.address, "timestamp": t_start + 60 * k, "generated_wh": 50 * k,
                             "consumed_wh": 20 * k, "exported_wh": 30 * k, "imported_wh": 0}
                        )
                        + "\n"
                    )
        w3 = anvil.w3()
        registry = Registry.from_deployment(w3, read_deployment(directory / "deployment.json"))
        domain = registry.check_domain(None)
        outbox = Outbox(directory / "e2e.db")
        ingestor = Ingestor(outbox, domain, {m.address: m for m in env.meters})
        submitter = Submitter(outbox, registry, env.payer, batch_size=64, max_in_flight=8)
        total = meters * per_meter
        t0 = time.perf_counter()
        replay(path, ingestor)
        t_signed = time.perf_counter() - t0
        while True:
            submitter.pump()
            counts = outbox.counts()
            if counts["signed"] == 0 and counts["submitted"] == 0:
                break
        elapsed = time.perf_counter() - t0
        assert counts["accepted"] == total, counts
        return total / elapsed, total, t_signed
    finally:
        anvil.stop()


def main() -> None:
    os.environ.setdefault("PATH", "")
    signing = bench_signing()
    print(f"signing (digest + signature, 1 core): {signing:,.0f} readings/s")
    with tempfile.TemporaryDirectory() as tmp:
        intake = bench_intake(Path(tmp))
        print(f"intake (sign + fsync'd outbox insert per sample): {intake:,.0f} readings/s")
        rate, total, t_signed = bench_end_to_end(Path(tmp))
        print(f"end to end (replay -> accepted on Anvil, {total} readings, batches of 64): {rate:,.0f} readings/s"
              f" (signing + storing took {t_signed:.2f} s of it)")


if __name__ == "__main__":
    main()
