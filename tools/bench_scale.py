"""`make bench-scale`: readings at utility scale, measured on this machine.

Per core: readings verified per second (EIP-712 digest + secp256k1 recovery + leaf), the tree of
1M readings (time, peak memory), proofs served per second. On chain (a local Anvil started here):
gas of a slot's commit, of crediting one meter in a batch of 64, of proving one reading; from those
the amortized gas per reading at 48 readings a day with daily crediting, and the cores needed to
keep up with 10M and 450M meters per 30-minute slot. Then one real slot of 1M readings end to end:
signed by a pool of meter keys (the gateways' work, timed apart), verified and built on Dask
(in-process LocalCluster, or --scheduler), committed on Anvil, a random sample proven on chain.

    python -m tools.bench_scale [--readings 1000000] [--scheduler tcp://host:8786] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmint import merkle  # noqa: E402
from gridmint.slotjob import pack_rows, run_slot, struct_hash_row, verify_chunk  # noqa: E402
from gridmint.system import CONTRACTS_DIR, SystemParams, Web3Contract, _transact, _tx_base  # noqa: E402
from oracle.eip712 import Domain, MeterSigner, Reading  # noqa: E402
from tools.gas_readings import amortized_per_reading  # noqa: E402

SLOT_S = 1_800
# Anvil's first development accounts ("test test ... junk"): public test keys, not secrets
_DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]


# ---------------------------------------------------------------- a reading system over web3


@lru_cache(maxsize=None)
def boa_artifacts(name: str) -> tuple[list, str]:
    """(ABI, deployment bytecode) of contracts/<name>.vy, compiled with the pinned vyper through boa."""
    import boa
    from vyper.compiler.output import build_abi_output

    data = boa.load_partial(str(CONTRACTS_DIR / f"{name}.vy")).compiler_data
    return build_abi_output(data), "0x" + data.bytecode.hex()


def _deploy(w3, operator, name: str, *args) -> Web3Contract:
    abi, bytecode = boa_artifacts(name)
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = _transact(w3, operator, factory.constructor(*args).build_transaction(_tx_base(w3, operator)))
    return Web3Contract(w3, receipt["contractAddress"], abi)


def web3_reading_system(w3, operator, params: SystemParams = SystemParams()):
    """TSL, WATT, the registry and the reading log, deployed and wired over plain web3 (no ape)."""
    p = params
    tsl = _deploy(w3, operator, "StorageRentToken")
    watt = _deploy(
        w3, operator, "WattToken", p.capacity_wh, tsl.address, p.rent_rate, p.rent_grace_period_s, p.release_price,
        p.max_rent_rate, p.min_rent_grace_period_s, p.min_release_price, p.min_capacity_wh, p.max_capacity_wh, p.notice_s,
    )
    registry = _deploy(
        w3, operator, "MeterRegistry", watt.address, p.max_clock_skew_s, p.max_clock_skew_limit_s,
        p.max_rated_power_w, p.notice_s, p.max_credit_lag_s,
    )
    watt.set_registry(registry.address, sender=operator)
    log = _deploy(w3, operator, "ReadingLog", registry.address, p.slot_s)
    return SimpleNamespace(tsl=tsl, watt=watt, registry=registry, log=log)


class _Anvil:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        exe = shutil.which("anvil")
        if exe is None:
            raise SystemExit("bench-scale: anvil not on PATH (make setup installs it)")
        self.proc = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port), "--silent", "--gas-limit", "60000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        from web3 import HTTPProvider, Web3

        self.w3 = Web3(HTTPProvider(f"http://127.0.0.1:{self.port}", request_kwargs={"timeout": 60}))
        for _ in range(200):
            try:
                self.w3.eth.chain_id
                return
            except Exception:
                time.sleep(0.05)
        raise SystemExit("bench-scale: anvil did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def _set_time(w3, t):
    w3.provider.make_request("evm_setNextBlockTimestamp", [t])
    w3.provider.make_request("evm_mine", [])


# ---------------------------------------------------------------- signing at the edge


def _sign_rows(args) -> list[tuple]:
    """Compact signed rows for meters [k0, k1) of the pool, `per_meter` readings each, inside one slot
    (the gateways' work: each key signs only its own meter's readings)."""
    k0, k1, per_meter, t0, chain_id, registry = args
    domain = Domain(chain_id, registry)
    sep = b"\x19\x01" + domain.separator
    rows = []
    for k in range(k0, k1):
        signer = MeterSigner(keccak(f"bench-scale-meter-{k}".encode()))
        meter = bytes.fromhex(signer.address[2:])
        for j in range(per_meter):
            row = (meter, t0 + j, 10_000 + 7 * j, 5_000 + 3 * j, 2_000 + 5 * j, 1_000 + j)
            rows.append(row + (signer.sign_digest(keccak(sep + struct_hash_row(row))),))
    return rows


def _pool_address(k: int) -> str:
    return MeterSigner(keccak(f"bench-scale-meter-{k}".encode())).address


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_peak(fn, *args):
    """(result, seconds, peak RSS MB) of fn(*args) in a fresh process (clean memory figure)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()

    def run():
        t0 = time.perf_counter()
        out = fn(*args)
        child.send((out, time.perf_counter() - t0, _peak_rss_mb()))

    proc = ctx.Process(target=run)
    proc.start()
    out = parent.recv()
    proc.join()
    return out


def _tree_of_random(n: int) -> int:
    rnd = random.Random(1)
    leaves = [rnd.randbytes(32) for _ in range(n)]
    return merkle.ReadingTree(leaves).leaf_count


# ---------------------------------------------------------------- the bench


def per_core(domain: Domain, n_verify: int = 4_000, n_tree: int = 1_000_000) -> dict:
    rows = _sign_rows((0, n_verify // 100, 100, 1_800_000_000, domain.chain_id, domain.verifying_contract))
    t0 = time.perf_counter()
    leaves, bad = verify_chunk(rows, domain.separator)
    verify_s = time.perf_counter() - t0
    assert not bad and len(leaves) == len(rows)
    base_rss = _child_peak(lambda: 0)[2]
    _, tree_s, tree_rss = _child_peak(_tree_of_random, n_tree)
    rnd = random.Random(2)
    tree = merkle.ReadingTree(rnd.randbytes(32) for _ in range(100_000))
    sample = random.Random(3).sample(tree.levels[0], 5_000)
    t0 = time.perf_counter()
    for leaf in sample:
        json.dumps({"leaf": "0x" + leaf.hex(), "proof": ["0x" + p.hex() for p in tree.proof(leaf)]})
    proof_s = time.perf_counter() - t0
    return {
        "verify_readings_per_s_per_core": round(len(rows) / verify_s),
        "tree_1m_s": round(tree_s, 2),
        "tree_1m_peak_mb": round(tree_rss - base_rss),
        "proofs_per_s_per_core": round(len(sample) / proof_s),
    }


def on_chain(w3, sys_, operator, relay, owner, n_slot_leaves: int) -> dict:
    """Whole-transaction gas from receipts: a commit, crediting 64 meters in one batch, a proof."""
    reg, log = sys_.registry, sys_.log
    domain = Domain(w3.eth.chain_id, reg.address)
    log.set_relay(relay.address, True, sender=operator)
    now = w3.eth.get_block("latest")["timestamp"]
    meters = [MeterSigner(keccak(f"bench-credit-{i}".encode())) for i in range(64)]
    for m in meters:
        reg.register_meter(m.address, owner.address, 1, 20_000, "PV", (now - 86_400, 0, 0, 0, 0), sender=operator)
        reg.accept_meter(m.address, sender=owner)
    # rent deposit, as real members keep one
    sys_.tsl.mint(owner.address, 10**21, sender=operator)
    sys_.tsl.approve(sys_.watt.address, 10**21, sender=owner)
    sys_.watt.deposit_rent(10**21, sender=owner)
    gas = {}
    t = now + 10
    signed = []
    for day in range(2):  # the first credit sets each meter's baseline; the second is the steady state
        t += 86_400 if day else 0
        _set_time(w3, t)
        rows = [Reading(m.address, t, 20_000 * (day + 1), 9_000 * (day + 1), 6_000 * (day + 1), 1_000 * (day + 1)) for m in meters]
        sigs = [m.sign(r, domain) for m, r in zip(meters, rows)]
        receipt = reg.submit_readings([r.as_call_arg() for r in rows], sigs, sender=relay)
        gas[f"credit_batch64_day{day}"] = receipt["gasUsed"]
        signed = list(zip(rows, sigs))
    gas["readings.credit_batch64.per_meter"] = gas.pop("credit_batch64_day1") // 64
    gas.pop("credit_batch64_day0")
    # a slot root over the real leaves of those 64 plus filler (the commit costs the same for any size)
    slot = t // SLOT_S
    leaves = [merkle.reading_leaf(r, s) for r, s in signed] + [keccak(i.to_bytes(8, "big")) for i in range(n_slot_leaves)]
    tree = merkle.ReadingTree(leaves)
    _set_time(w3, (slot + 1) * SLOT_S)
    receipt = log.commit(slot, tree.root, tree.leaf_count, 3, keccak(b"archive"), "https://relay.example/slot-%d.jsonl" % slot, sender=relay)
    gas["readings.commit"] = receipt["gasUsed"]
    r, s = signed[0]
    receipt = log.prove(relay.address, slot, r.as_call_arg(), s, tree.proof(merkle.reading_leaf(r, s)), sender=owner)
    gas["readings.prove"] = receipt["gasUsed"]
    gas["readings.prove.proof_depth"] = len(tree.proof(merkle.reading_leaf(r, s)))
    return gas


def _sign_packed(args) -> bytes:
    return pack_rows(_sign_rows(args))


def end_to_end(w3, sys_, operator, relay, owner, n: int, scheduler: str | None, pool: int = 1_000) -> dict:
    """One real slot of n readings: signed at the edge, verified + built on Dask, committed, sampled, proven.

    The gateways' signing runs on the Dask workers too (a stand-in for the edge devices) and its
    packed records stay there: the slot job verifies them where they are and only 32-byte leaves
    travel back to build the tree."""
    import psutil

    from gridmint.slotjob import connect

    reg, log = sys_.registry, sys_.log
    domain = Domain(w3.eth.chain_id, reg.address)
    per_meter = n // pool
    now = w3.eth.get_block("latest")["timestamp"]
    slot = now // SLOT_S + 1
    t0 = slot * SLOT_S
    client = connect(scheduler)
    peak = [0.0]
    try:
        procs = [psutil.Process()] + [psutil.Process(p) for p in _worker_pids(client)]

        def sample_mem():
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20)

        step = 20  # meters per chunk: 20 x per_meter readings
        tic = time.perf_counter()
        chunks = client.map(_sign_packed, [(k, min(k + step, pool), per_meter, t0, domain.chain_id, reg.address)
                                           for k in range(0, pool, step)], pure=False)
        client.gather(client.map(len, chunks))  # wait for the edge, without moving the records
        sign_s = time.perf_counter() - tic
        sample_mem()
        known = frozenset(bytes.fromhex(_pool_address(k)[2:]) for k in range(pool))
        tic = time.perf_counter()
        result = run_slot(chunks, domain.separator, client, known)
        verify_build_s = time.perf_counter() - tic
        sample_mem()
        del chunks
    finally:
        client.close()
        try:
            client.cluster.close()
        except AttributeError:
            pass
    count = per_meter * pool
    assert result.refused == 0 and result.tree.leaf_count == count, (result.refused, result.tree.leaf_count)
    _set_time(w3, (slot + 1) * SLOT_S)
    tic = time.perf_counter()
    receipt = log.commit(slot, result.root, result.tree.leaf_count, 3, keccak(b"slot-archive"), "https://relay.example/slot.jsonl", sender=relay)
    commit_s = time.perf_counter() - tic
    # a random sample, re-signed here (RFC 6979: the same bytes), its meters registered, proven on chain
    rnd = random.Random(7)
    sample = rnd.sample(range(count), 10)
    proven = 0
    tic = time.perf_counter()
    for i in sample:
        k, j = divmod(i, per_meter)
        (row,) = [r for r in _sign_rows((k, k + 1, per_meter, t0, domain.chain_id, reg.address)) if r[1] == t0 + j]
        addr = to_checksum_address(row[0])
        if reg.meters(addr)[0] == "0x" + "00" * 20:
            reg.register_meter(addr, owner.address, 1, 20_000, "PV", (now - 86_400, 0, 0, 0, 0), sender=operator)
        r = Reading(addr, *row[1:6])
        leaf = merkle.leaf_of(struct_hash_row(row), row[6])
        proven += bool(log.verify_reading(relay.address, slot, r.as_call_arg(), row[6], result.tree.proof(leaf)))
    prove_s = time.perf_counter() - tic
    return {
        "readings": count,
        "meter_keys": pool,
        "sign_at_edge_s": round(sign_s, 1),
        "verify_s": round(result.seconds_verify, 1),
        "build_tree_s": round(result.seconds_build, 1),
        "verify_and_build_s": round(verify_build_s, 1),
        "commit_s": round(commit_s, 2),
        "commit_gas": receipt["gasUsed"],
        "relay_total_s": round(verify_build_s + commit_s, 1),
        "peak_rss_mb_driver_and_workers": round(peak[0]),
        "peak_rss_mb_driver": round(_peak_rss_mb()),
        "sample_proven_on_chain": f"{proven}/{len(sample)}",
        "sample_prove_and_register_s": round(prove_s, 2),
        "proof_depth": len(result.tree.proof(result.tree.levels[0][0])),
    }


def _worker_pids(client) -> list[int]:
    try:
        return [w["pid"] for w in client.scheduler_info()["workers"].values() if "pid" in w] or list(
            client.run(os.getpid).values())
    except Exception:
        return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench-scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=1_000_000, help="readings in the end-to-end slot")
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address (default: in-process LocalCluster)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.readings < 1_000:
        print("bench-scale: --readings must be at least 1000", file=sys.stderr)
        return 2
    from eth_account import Account

    operator, relay, owner = (Account.from_key(k) for k in _DEV_KEYS)
    node = _Anvil()
    try:
        w3 = node.w3
        sys_ = web3_reading_system(w3, operator)
        domain = Domain(w3.eth.chain_id, sys_.registry.address)
        out = {"cores": os.cpu_count()}
        out.update(per_core(domain))
        out.update(on_chain(w3, sys_, operator, relay, owner, 100_000))
        for m in (20, 1_000, 1_000_000):
            out[f"amortized_gas_per_reading_{m}_meters"] = round(
                amortized_per_reading(out["readings.commit"], out["readings.credit_batch64.per_meter"], m))
        rate = out["verify_readings_per_s_per_core"]
        tree_s_per_m = out["tree_1m_s"]  # per 1M leaves on one core (n log n: a little more per leaf at larger n)
        for meters, label in ((10_000_000, "10m"), (450_000_000, "450m")):
            out[f"cores_for_{label}_meters"] = max(1, -(-meters // (rate * SLOT_S)))
            out[f"tree_{label}_one_core_s"] = round(tree_s_per_m * meters / 1_000_000)
        print(json.dumps(out, indent=2), flush=True)
        out["end_to_end"] = e2e = end_to_end(w3, sys_, operator, relay, owner, args.readings, args.scheduler)
        print(json.dumps({"end_to_end": e2e}, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
