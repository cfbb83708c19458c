"""The auditor's part for the shared battery's green content (StorageLedger, issue 26; invariant 9's
storage part): every figure the settler stated is recomputed from the chain's readings with the
reference, gridmint/storage_green.py, through gridmint/storage_ledger.py (the same flows and words the
relay builds), and compared with StorageLedger's events.

Folded in chain order (the same `Event` shape as recompute.Ledger): the registry's readings and grid
parts, WattToken's releases (`FlowLog`), and StorageLedger's ChargeTaken, SlotSettled, DaySettled and
DischargeCertified with the certificate's CertificateProfile of each discharge certificate. `finish()`
replays every day from the first settled one on one reference battery and reports, as `invariant`
findings of contract StorageLedger:

- inv9.storage-take: a meter's ChargeTaken Wh of a day differ from its green charge (min(minted export,
  generated) of a renewable meter, per slot, summed over the day): a forged or missing take;
- inv9.storage-slot: a slot's SlotSettled (charged, need, taken, content) differs from the reference's,
  or a slot with charge or need has no SlotSettled, or one without has one;
- inv9.storage-provenance: a slot's charge slots (first, last) do not contain the reference's lots
  taken (the chain may merge lots when its queue is full: containment, not equality), or lie after it;
- inv9.storage-day: DaySettled's root, charged, taken or content-after differ from the reference's;
- inv9.storage-day-skipped: a day with flows between settled days was never settled (its charges never
  joined the queue, its discharges never drew from it);
- inv9.storage-discharge: a discharge certificate's profile exceeds the reference's green of that
  meter in a slot, or its green_wh exceeds the day's reference green of the meter, or names a meter
  that drew nothing that day; inv9.storage-claimed-twice: a second certificate for one (meter, day).

Days after the last settled day are not compared (not settled yet). The lead wires it in
gridmint/audit/slot_parts.py where the record has a StorageLedger:

    storage = StorageAudit(int(view("StorageLedger", "SLOT_S")), int(view("StorageLedger", "ETA_PPM")),
                           contracts["StorageLedger"]["address"]).apply_all(events())
    findings += storage.finish()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gridmint import profile as P
from gridmint.storage_green import GreenBattery
from gridmint.storage_ledger import DaySettlement, FlowLog, day_of_slot, first_slot_of, settle_day, slots_per_day

from .events import Event
from .findings import INVARIANT, Finding

CONTRACT = "StorageLedger"
CERTIFICATE = "EnvironmentalCertificate"


@dataclass
class _SlotEvent:
    charged_wh: int
    need_wh: int
    taken_wh: int
    content_wh: int
    first_charge_slot: int
    last_charge_slot: int
    block: int


@dataclass
class _Certified:
    id: int
    meter: str
    day: int
    green_wh: int
    block: int


@dataclass
class StorageAudit:
    """Folds the events, then `finish()` compares the settler's figures with the reference's."""

    slot_s: int
    eta_ppm: int
    ledger: str  # the StorageLedger's address (its leaves name it: the reference's root needs it)
    flows: FlowLog = field(init=False)
    takes: dict[int, dict[str, int]] = field(default_factory=dict)  # day -> meter -> Wh (ChargeTaken)
    slots: dict[int, _SlotEvent] = field(default_factory=dict)  # slot -> SlotSettled
    days: dict[int, tuple[dict, int]] = field(default_factory=dict)  # day -> (DaySettled args, block)
    certified: list[_Certified] = field(default_factory=list)
    profiles: dict[int, dict[int, int]] = field(default_factory=dict)  # certificate id -> slot -> Wh
    reference: dict[int, DaySettlement] = field(default_factory=dict)  # day -> the reference's settlement
    findings: list[Finding] = field(default_factory=list)
    _block: int = 0

    def __post_init__(self) -> None:
        self.flows = FlowLog(self.slot_s)

    # ------------------------------------------------------------------ folding

    def apply_all(self, events: Iterable[Event]) -> StorageAudit:
        for ev in events:
            self.apply(ev)
        return self

    def apply(self, ev: Event) -> None:
        self._block = ev.block
        self.flows.apply(ev)
        a = ev.args
        if ev.contract == CONTRACT:
            if ev.name == "ChargeTaken":
                per_day = self.takes.setdefault(int(a["day"]), {})
                meter = str(a["meter"]).lower()
                per_day[meter] = per_day.get(meter, 0) + int(a["wh"])
            elif ev.name == "SlotSettled":
                self.slots[int(a["slot"])] = _SlotEvent(
                    int(a["charged_wh"]), int(a["need_wh"]), int(a["taken_wh"]), int(a["content_wh"]),
                    int(a["first_charge_slot"]), int(a["last_charge_slot"]), ev.block)
            elif ev.name == "DaySettled":
                self.days[int(a["day"])] = (dict(a), ev.block)
            elif ev.name == "DischargeCertified":
                self.certified.append(_Certified(int(a["id"]), str(a["meter"]).lower(), int(a["day"]),
                                                 int(a["green_wh"]), ev.block))
        elif ev.contract == CERTIFICATE and ev.name == "CertificateProfile":
            self.profiles[int(a["id"])] = P.unpack(int(a["first_slot"]), [int(w) for w in a["slot_wh"]])

    def _find(self, check: str, account, expected, actual, unit: str, detail: str = "", block: int | None = None) -> None:
        self.findings.append(Finding(INVARIANT, check, CONTRACT, account, block if block is not None else self._block,
                                     expected, actual, unit, detail))

    # ------------------------------------------------------------------ the comparison

    def finish(self) -> list[Finding]:
        if not self.days:
            for day in sorted(self.takes):
                self._find("inv9.storage-take", None, "a settled day", day, "day", "charges taken for a day never settled")
            return self.findings
        first, last = min(self.days), max(self.days)
        flows = self.flows.flows()
        with_flows = {day_of_slot(s, self.slot_s) for s in flows}
        battery = GreenBattery(self.eta_ppm)
        methods = self.flows.methods_of(flows)
        for day in range(first, last + 1):
            if day not in self.days and day not in with_flows:
                continue  # an empty day: rightly skipped
            ref = settle_day(battery, day, flows, methods, self.slot_s, self.ledger)
            self.reference[day] = ref
            if day not in self.days:
                if not ref.empty:
                    self._find("inv9.storage-day-skipped", None, "settled", day, "day",
                               f"day {day} had {sum(ref.charged.values()):,} Wh of green charge and "
                               f"{sum(ref.need.values()):,} Wh of need but was never settled")
                continue
            self._day(ref)
        for day in sorted(set(self.takes) - set(self.reference)):
            self._find("inv9.storage-take", None, "a settled day", day, "day", "charges taken for a day never settled")
        self._discharges()
        return self.findings

    def _day(self, ref: DaySettlement) -> None:
        day = ref.day
        args, block = self.days[day]
        taken = self.takes.get(day, {})
        for meter in sorted(set(taken) | set(ref.takes)):
            if taken.get(meter, 0) != ref.takes.get(meter, 0):
                self._find("inv9.storage-take", meter, ref.takes.get(meter, 0), taken.get(meter, 0), "Wh",
                           f"day {day}: charge taken from the meter's generation differs from its green charge", block)
        by_slot = {r.slot: r for r in ref.results}
        first = first_slot_of(day, self.slot_s)
        for slot in range(first, first + slots_per_day(self.slot_s)):
            expected = (ref.charged.get(slot, 0), ref.need.get(slot, 0), ref.taken.get(slot, 0), ref.content.get(slot, 0))
            ev = self.slots.get(slot)
            if ev is None:
                if expected[0] or expected[1]:
                    self._find("inv9.storage-slot", f"slot {slot}", expected, None,
                               "Wh charged, needed, taken, content", "a slot with charge or need was not settled", block)
                continue
            actual = (ev.charged_wh, ev.need_wh, ev.taken_wh, ev.content_wh)
            if actual != expected:
                self._find("inv9.storage-slot", f"slot {slot}", expected, actual, "Wh charged, needed, taken, content",
                           "the settler's slot figures differ from the reference's", ev.block)
            r = by_slot.get(slot)
            lots = [lot.charge_slot for d in (r.discharges.values() if r else ()) for lot in d.lots]
            if lots:
                ok = ev.first_charge_slot <= min(lots) and max(lots) <= ev.last_charge_slot <= slot
            else:
                ok = (ev.first_charge_slot, ev.last_charge_slot) == (0, 0)
            if not ok:
                self._find("inv9.storage-provenance", f"slot {slot}", (min(lots), max(lots)) if lots else (0, 0),
                           (ev.first_charge_slot, ev.last_charge_slot), "slot",
                           "the charge slots named do not contain the lots the reference took", ev.block)
        root = "0x" + ref.root.hex()
        expected = (root, sum(ref.charged.values()), sum(ref.taken.values()), ref.content_after_wh)
        actual = (str(args["root"]).lower(), int(args["charged_wh"]), int(args["taken_wh"]), int(args["content_wh"]))
        if actual != expected:
            self._find("inv9.storage-day", f"day {day}", expected, actual, "root, Wh charged, taken, content after",
                       "the day's settlement differs from the reference's", block)

    def _discharges(self) -> None:
        seen: set[tuple[str, int]] = set()
        for c in self.certified:
            key = (c.meter, c.day)
            if key in seen:
                self._find("inv9.storage-claimed-twice", c.meter, 1, 2, "certificates",
                           f"day {c.day}: a second discharge certificate (#{c.id})", c.block)
                continue
            seen.add(key)
            ref = self.reference.get(c.day)
            green = ref.green.get(c.meter, {}) if ref else {}
            if ref is None or c.meter not in ref.discharges:
                self._find("inv9.storage-discharge", c.meter, 0, c.green_wh, "Wh",
                           f"#{c.id}: certified for day {c.day}, when the meter drew nothing settled from the battery", c.block)
                continue
            if c.green_wh > sum(green.values()):
                self._find("inv9.storage-discharge", c.meter, sum(green.values()), c.green_wh, "Wh",
                           f"#{c.id}: more green than the reference gives the meter on day {c.day}", c.block)
            profile = self.profiles.get(c.id, {})
            if sum(profile.values()) != c.green_wh:
                self._find("inv9.storage-discharge", f"#{c.id}", c.green_wh, sum(profile.values()), "Wh",
                           "the certificate's profile does not sum to the green certified", c.block)
            for slot, wh in sorted(profile.items()):
                if wh > green.get(slot, 0):
                    self._find("inv9.storage-discharge", c.meter, green.get(slot, 0), wh, "Wh",
                               f"#{c.id}: slot {slot} certified above the reference's green", c.block)
                    break

    # ------------------------------------------------------------------ report figures

    def totals(self) -> dict[str, object]:
        """Report lines: days settled, Wh charged / taken / certified green."""
        return {
            "battery: days settled, Wh charged, taken": (
                f"{len(self.days)}, {sum(int(a['charged_wh']) for a, _ in self.days.values()):,}, "
                f"{sum(int(a['taken_wh']) for a, _ in self.days.values()):,}"),
            "battery: discharge certificates, green Wh": f"{len(self.certified)}, {sum(c.green_wh for c in self.certified):,}",
        }
