"""One audit, end to end: record -> fetch into the store -> recompute -> compare -> report.

The Python API the demo calls: `audit(record_path, rpc_url, store_path) -> Report`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable

from ..deployments import Deployment, read
from .compare import compare, web3_views
from .config import AuditConfig
from .events import Decoder, Event, UnknownEvent
from .fetch import NoContract, fetch, find_deploy_block, head_block
from .findings import Finding
from .plausibility import Plausibility
from .recompute import NOT_FETCHED, Ledger
from .report import Report
from .slot_parts import slot_parts
from .rpc import HttpRpc, NodeUnreachable, RpcError
from .store import EventStore, StoreMismatch

# chains whose blocks are final at once (Anvil, Hardhat): no confirmation depth needed
LOCAL_CHAIN_IDS = (31_337, 1_337)
DEFAULT_CONFIRMATIONS = 12


class AuditInputError(ValueError):
    """Bad input or an unusable node: one line for the user (exit status 2)."""


def load_record(path: Path) -> tuple[Deployment, dict]:
    try:
        raw = json.loads(Path(path).read_text())
        return read(path), raw
    except FileNotFoundError:
        raise AuditInputError(f"no deployment record at {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AuditInputError(f"{path} is not a deployment record: {e}") from None


def recompute(events: Iterable[Event], addresses: dict[str, str], config: AuditConfig, block: int,
              timestamp: int) -> tuple[Ledger, Plausibility, float]:
    """The pure part: folds `events`, runs the plausibility checks; returns them and the seconds
    spent folding (decoding included when `events` decodes lazily) and analysing, apart."""
    t0 = time.perf_counter()
    plausibility = Plausibility(config)
    ledger = Ledger(addresses, on_reading=plausibility.on_reading)
    ledger.apply_all(events)
    ledger.finish(block, timestamp)
    t1 = time.perf_counter()
    plausibility.analyse()
    plausibility.seconds = time.perf_counter() - t1
    return ledger, plausibility, t1 - t0


def totals_of(ledger: Ledger) -> dict[str, object]:
    certs = ledger.certificates.values()
    energy, certm = ledger.markets["EnergyExchange"], ledger.markets["CertificateExchange"]
    return {
        "WATT supply (Wh)": ledger.supply,
        "WATT minted / burned (Wh)": f"{ledger.minted:,} / {ledger.burned:,}",
        "storage released (Wh)": ledger.released_wh,
        "accounts": sum(1 for a in ledger.accounts if a != "0x0000000000000000000000000000000000000000"),
        "meters (keys)": len(ledger.meters),
        "readings credited": sum(t.readings for t in ledger.totals.values()),
        "readings rejected": sum(ledger.rejected.values()),
        "renewable generation credited (Wh)": sum(t.renewable_credited for t in ledger.totals.values()),
        "rent charged (TSL base units)": ledger.rent_charged,
        "rent revenue unclaimed (TSL base units)": ledger.revenue,
        "certificates issued / outstanding / claimed (Wh)":
            f"{sum(c.issued for c in certs):,} / {sum(c.outstanding for c in certs):,} / {sum(c.claimed for c in certs):,}",
        "energy market: trades, volume (Wh), open orders": f"{energy.trades}, {energy.volume_wh:,}, {len(energy.orders)}",
        "certificate market: trades, volume (Wh), open orders": f"{certm.trades}, {certm.volume_wh:,}, {len(certm.orders)}",
        "certificate market: units held for accounts (Wh)": sum(certm.units_of.values()),
    }


def events_from_store(store: EventStore, decoder: Decoder, to_block: int) -> Iterable[Event]:
    for block, index, tx, address, topics, data, ts in store.raw_logs(to_block):
        yield decoder.decode(address, topics, data, block, index, tx, ts)


def audit(
    record_path: Path | str,
    rpc_url: str,
    store_path: Path | str | None = None,
    *,
    config: AuditConfig | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    confirmations: int | None = None,
    html_path: Path | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    rpc=None,
) -> Report:
    """Audits the deployment of `record_path` on the node at `rpc_url`; events are kept in
    `store_path` (default: .gridmint-audit/<record name>.sqlite) so the next run reads only new
    blocks. Raises AuditInputError for bad input or an unusable node."""
    record, raw = load_record(Path(record_path))
    config = config or AuditConfig()
    rpc = rpc or HttpRpc(rpc_url)
    store = None
    try:
        chain_id = int(rpc.call("eth_chainId", []), 16)
        if chain_id != record.chain_id:
            raise AuditInputError(f"the node is chain {chain_id}, the record is for chain {record.chain_id}")
        head = head_block(rpc)
        depth = confirmations if confirmations is not None else (
            0 if chain_id in LOCAL_CHAIN_IDS else DEFAULT_CONFIRMATIONS)
        target = min(to_block, head - depth) if to_block is not None else head - depth
        decoder = Decoder(record.contracts)
        addresses = decoder.addresses(exclude=NOT_FETCHED)
        if from_block is None:
            from_block = raw.get("deploy_block", record.params.get("deploy_block"))
        if from_block is None:
            from_block = find_deploy_block(rpc, record.address("StorageRentToken"), head)
        store = EventStore(store_path or Path(".gridmint-audit") / (Path(record_path).stem + ".sqlite"))
        store.bind(chain_id, addresses, int(from_block))
        if target < store.from_block:
            raise AuditInputError(f"block {target} is before the deployment (block {store.from_block})")
        stats = fetch(rpc, store, addresses, target, progress=progress)
        header = store.block(target)
        if header is None:
            raise AuditInputError(f"block {target} is not in the store")
        timestamp = header[0]
        names = {name: c["address"] for name, c in record.contracts.items()}
        ledger, plausibility, recompute_s = recompute(
            events_from_store(store, decoder, target), names, config, target, timestamp)
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        t0 = time.perf_counter()
        views = web3_views(w3, record.contracts, target)
        differences = compare(ledger, views, target, timestamp, names)
        compare_s = time.perf_counter() - t0
        # the slot's parts: the auction, the reading log's roots, certificates per slot
        t0 = time.perf_counter()
        slot_findings, slot_totals = slot_parts(
            lambda: events_from_store(store, decoder, target), record.contracts, views, w3, target)
        slots_s = time.perf_counter() - t0
    except (NodeUnreachable, RpcError) as e:
        raise AuditInputError(str(e)) from None
    except (StoreMismatch, UnknownEvent, NoContract) as e:
        raise AuditInputError(str(e)) from None
    except Exception as e:  # web3 transport errors during the compare step
        if type(e).__module__.startswith(("requests", "urllib3", "web3")):
            raise AuditInputError(f"the node failed during the compare step: {e}") from None
        raise
    finally:
        if store is not None:
            store.close()
    findings: list[Finding] = ledger.findings + differences + slot_findings + plausibility.findings
    report = Report(
        network=record.network,
        chain_id=chain_id,
        from_block=int(from_block),
        block=target,
        timestamp=timestamp,
        events=ledger.events,
        findings=findings,
        plausibility_counts=dict(plausibility.counts),
        totals={**totals_of(ledger), **slot_totals},
        timings={
            "blocks fetched this run": max(stats.to_block - stats.from_block + 1, 0),
            "logs fetched this run": stats.logs,
            "fetch (s)": round(stats.seconds, 3),
            "fetch (logs/s)": round(stats.logs_per_s, 1),
            "decode + recompute (s)": round(recompute_s, 3),
            "decode + recompute (events/s)": round(ledger.events / recompute_s, 1) if recompute_s > 0 else 0.0,
            "plausibility (s)": round(plausibility.seconds, 3),
            "compare (s)": round(compare_s, 3),
            "auction, slot roots, claims per slot (s)": round(slots_s, 3),
        },
        profiles=plausibility.profiles,
    )
    if html_path is not None:
        report.write_html(Path(html_path))
    return report
