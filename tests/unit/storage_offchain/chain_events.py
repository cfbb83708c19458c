"""Synthetic decoded events (gridmint/audit/events.py `Event`) of the registry, WATT and StorageLedger, for
the storage tests: readings as the registry logs them, and what an honest settler's transactions log."""

from __future__ import annotations

from gridmint import profile as P
from gridmint.audit.events import Event
from gridmint.storage_ledger import DaySettlement


class Chain:
    """Decoded events in chain order, one transaction per reading (as the registry logs them)."""

    def __init__(self):
        self.events: list[Event] = []
        self.block = 0

    def add(self, contract: str, name: str, ts: int = 0, tx: str | None = None, **args) -> str:
        self.block += 1
        tx = tx or f"0x{self.block:064x}"
        self.events.append(Event(contract, name, args, self.block, 0, tx, ts))
        return tx

    def register(self, meter: str, owner: str, method: int) -> None:
        self.add("MeterRegistry", "MeterRegistered", meter=meter, owner=owner, method=method)

    def reading(self, meter: str, owner: str, ts: int, gen: int = 0, exp: int = 0, imp: int = 0,
                grid_export: int = 0, grid_import: int = 0) -> None:
        tx = self.add("MeterRegistry", "ReadingAccepted", ts, meter=meter, owner=owner, timestamp=ts,
                      generated_wh=gen, consumed_wh=0, exported_wh=exp, imported_wh=imp)
        if grid_export:
            self.add("MeterRegistry", "GridExport", ts, tx=tx, owner=owner, wh=grid_export)
        if grid_import:
            self.add("MeterRegistry", "GridImport", ts, tx=tx, owner=owner, wh=grid_import)

    # ---- what StorageLedger logs for an honest settlement and claims

    def settle(self, s: DaySettlement, takes: dict[str, int] | None = None) -> None:
        for meter, wh in (s.takes if takes is None else takes).items():
            self.add("StorageLedger", "ChargeTaken", day=s.day, meter=meter, wh=wh)
        for r in s.results:
            if not (s.charged.get(r.slot) or s.need.get(r.slot)):
                continue
            lots = [lot.charge_slot for d in r.discharges.values() for lot in d.lots]
            self.add("StorageLedger", "SlotSettled", slot=r.slot, charged_wh=s.charged.get(r.slot, 0),
                     need_wh=s.need.get(r.slot, 0), taken_wh=s.taken.get(r.slot, 0), content_wh=s.content.get(r.slot, 0),
                     first_charge_slot=min(lots, default=0), last_charge_slot=max(lots, default=0))
        self.add("StorageLedger", "DaySettled", day=s.day, root="0x" + s.root.hex(), charged_wh=sum(s.charged.values()),
                 taken_wh=sum(s.taken.values()), content_wh=s.content_after_wh)

    def claim(self, s: DaySettlement, meter: str, cid: int, green: dict[int, int] | None = None) -> None:
        green = s.green.get(meter, {}) if green is None else green
        first = s.day * (86_400 // s.slot_s)
        self.add("StorageLedger", "DischargeCertified", id=cid, meter=meter, day=s.day, green_wh=sum(green.values()),
                 first_charge_slot=0, last_charge_slot=0)
        self.add("EnvironmentalCertificate", "CertificateProfile", id=cid, first_slot=first,
                 slot_wh=P.pack(first, first + 86_400 // s.slot_s - 1, green))
