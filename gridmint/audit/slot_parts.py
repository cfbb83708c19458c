"""The auditor's per-slot parts, run after the ledger: the slot auction (invariants 7-8), the slot roots of
the reading log (every root against its published data), and certificates per slot (invariant 9).

Each part runs only where the deployment record has its contract, so records of older deployments
audit as before. `events()` yields the audited events again, in chain order (the store is read once more
per part: cheaper than keeping every event in memory on a long chain).
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..merkle import domain_separator
from .auction import AuctionLedger
from .claims import SlotClaims
from .events import Event
from .findings import COMPARE, Finding
from .roots import check_roots, fetch_published
from .storage import StorageAudit

View = Callable[..., object]


class _ContractViews:
    """`view("EnergyAuction", "proceeds_of", a)` as `views.proceeds_of(a)`, for the parts that read a
    contract through attribute calls."""

    def __init__(self, view: View, contract: str):
        self._view, self._contract = view, contract

    def __getattr__(self, fn: str):
        return lambda *args: self._view(self._contract, fn, *args)


def slot_parts(events: Callable[[], Iterable[Event]], contracts: dict, view: View, w3, block: int
               ) -> tuple[list[Finding], dict[str, object]]:
    """Findings and report totals of the per-slot parts at `block`."""
    findings: list[Finding] = []
    totals: dict[str, object] = {}
    if "EnergyAuction" in contracts:
        auction = AuctionLedger(tick=int(view("EnergyAuction", "TICK")), slot_s=int(view("EnergyAuction", "SLOT_S")))
        for ev in events():
            auction.apply(ev)
        findings += auction.finish()
        findings += auction.compare(_ContractViews(view, "EnergyAuction"), block)
        cleared = auction.clearings.values()
        totals["slot auction: slots cleared, Wh matched"] = (
            f"{len(auction.clearings)}, {sum(int(c.matched_wh) for c in cleared):,}")
    if "ReadingLog" in contracts and "MeterRegistry" in contracts:
        _, name, version, chain_id, registry, _, _ = view("MeterRegistry", "eip712Domain")
        separator = domain_separator(name, version, int(chain_id), registry)
        slot_s = int(view("ReadingLog", "SLOT_S"))
        roots = [ev for ev in events() if ev.contract == "ReadingLog" and ev.name == "RootCommitted"]
        findings += check_roots(roots, separator, fetch_published(w3), slot_s)
        totals["reading log: slot roots, readings committed"] = (
            f"{len(roots)}, {sum(int(ev.args['leaf_count']) for ev in roots):,}")
    if "EnvironmentalCertificate" in contracts:
        slots = SlotClaims(int(view("EnvironmentalCertificate", "SLOT_S"))).apply_all(events())
        findings += slots.finish()
        for cid, expected in sorted(slots.commitments().items()):
            actual = int(view("EnvironmentalCertificate", "profile_commitment", cid))
            if actual != expected:
                findings.append(Finding(COMPARE, "EnvironmentalCertificate.profile_commitment", "EnvironmentalCertificate",
                                        cid, block, expected, actual, "commitment"))
        totals["certificates: Wh claimed by slot"] = sum(slots.claimed.values())
    if "StorageLedger" in contracts:
        storage = StorageAudit(int(view("StorageLedger", "SLOT_S")), int(view("StorageLedger", "ETA_PPM")),
                               contracts["StorageLedger"]["address"]).apply_all(events())
        findings += storage.finish()
        totals.update(storage.totals())
    return findings, totals
