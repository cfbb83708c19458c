"""The auditor per slot (invariant 9): certificates' profiles and time-matched claims, from events.

Folds, in chain order, the events that carry slots and checks, for every meter and slot:

  Wh claimed by slot  <=  Wh certified  <=  Wh generated

- generated: each ReadingAccepted's generated Wh belong to the slot of the reading's last second
  (gridmint/profile.py). Where readings are credited at slot resolution this is exact per slot;
  where a credited reading covers several slots (lazy crediting), the slots a reading interval
  touches form one group and the check is on the group's sum (the finer split needs the signed
  readings of the ReadingLog's roots).
- certified: each certificate's CertificateProfile, which must also sum to its CertificateIssued
  amount and lie within one calendar month (its vintage);
- claimed by slot: ClaimedSlots events, never beyond a certificate's profile in any slot.
- taken: each CertifiableTaken, whole or a part (`issue(meter, profile, until)` issues a long
  pending period one month at a time: the registry takes the Wh the part's profile sums to), must
  carry exactly the generated Wh of the meter's readings stamped in its period (start, end].

A meter's readings are its history across key rotations (gridmint/meter_history.py, the same history
the owner's tools build profiles from): those of a retired key ride along to the new one, as the
registry carries their Wh, so generation, certificates and claims are checked per physical meter,
named by its first key.

`commitments()` gives what `profile_commitment(id)` must read on chain for every profiled id (the
lead's compare step checks them: `EnvironmentalCertificate.profile_commitment(id)`).

Use: `c = SlotClaims(slot_s); c.apply_all(events); findings = c.finish()`.
"""

from __future__ import annotations

from collections.abc import Iterable

from gridmint import profile as P
from gridmint.generated.contracts import METHOD_STORAGE  # a discharge certificate of the shared battery
from gridmint.meter_history import MeterHistory

from .events import Event
from .findings import INVARIANT, Finding

REGISTRY, CERTIFICATE = "MeterRegistry", "EnvironmentalCertificate"


class SlotClaims:
    def __init__(self, slot_s: int = 1_800):
        self.slot_s = slot_s
        self.findings: list[Finding] = []
        self._last_ts: dict[str, int] = {}  # meter -> last accepted reading (or commissioning) time, s
        self.history = MeterHistory()  # every key's readings, per physical meter
        self._taken_until: dict[str, int] = {}  # meter (first key) -> end of its latest take, s
        self._stored: dict[str, int] = {}  # meter (first key) -> Wh stored in the battery since its latest take
        self.storage_ids: set[int] = set()  # discharge certificates (method 6): gridmint/audit/storage.py checks them
        self.intervals: dict[str, list[tuple[int, int, int]]] = {}  # meter (first key) -> [(first slot, last slot, Wh)]
        self.cert_meter: dict[int, str] = {}
        self.cert_amount: dict[int, int] = {}
        self.cert_period: dict[int, tuple[int, int]] = {}
        self.profile: dict[int, dict[int, int]] = {}  # id -> {slot: Wh certified}
        self.unclaimed: dict[int, dict[int, int]] = {}  # id -> {slot: Wh not yet claimed by slot}
        self.claimed: dict[tuple[str, int], int] = {}  # (meter, slot) -> Wh claimed by slot
        self.by_beneficiary: dict[str, dict[int, int]] = {}  # beneficiary -> {slot: green Wh claimed}
        self._block = 0

    def apply_all(self, events: Iterable[Event]) -> "SlotClaims":
        for ev in events:
            self.apply(ev)
        return self

    def apply(self, ev: Event) -> None:
        self._block = ev.block
        a = ev.args
        if ev.contract == REGISTRY:
            if ev.name in ("MeterRegistered", "MeterRecommissioned", "MeterKeyRotated"):
                meter = a.get("meter") or a.get("new_meter")
                at = a.get("commissioned_at")
                if meter is not None and at is not None:
                    self._last_ts[meter] = int(at)
                if ev.name == "MeterKeyRotated":  # the pending generation rides along to the new key
                    self.history.apply(ev.name, a)
            elif ev.name == "StoredTaken":
                root = self.history.root(a["meter"])
                self._stored[root] = self._stored.get(root, 0) + int(a["wh"])
            elif ev.name == "CertifiableTaken":
                self._taken(a["meter"], int(a["wh"]), int(a["period_start"]), int(a["period_end"]))
            elif ev.name == "ReadingAccepted":
                meter, ts = a["meter"], int(a["timestamp"])
                prev = self._last_ts.get(meter, ts - 1)
                self._last_ts[meter] = ts
                self.history.apply(ev.name, a)
                if a["generated_wh"]:
                    first = prev // self.slot_s if prev < ts else P.slot_of_reading(ts, self.slot_s)
                    self.intervals.setdefault(self.history.root(meter), []).append(
                        (min(first, P.slot_of_reading(ts, self.slot_s)), P.slot_of_reading(ts, self.slot_s),
                         int(a["generated_wh"])))
        elif ev.contract == CERTIFICATE:
            if ev.name == "CertificateIssued":
                cid = int(a["id"])
                if int(a["method"]) == METHOD_STORAGE:
                    self.storage_ids.add(cid)
                self.cert_meter[cid] = a["meter"]
                self.cert_amount[cid] = int(a["amount_wh"])
                self.cert_period[cid] = (int(a["period_start"]), int(a["period_end"]))
                first, last = P.slot_range(*self.cert_period[cid], self.slot_s)
                if P.month_of(first * self.slot_s)[0] != P.month_of(last * self.slot_s)[0]:
                    self._find("inv9.period-crosses-month", f"#{cid}", P.month_of(first * self.slot_s)[0],
                               P.month_of(last * self.slot_s)[0], "YYYYMM", "a certificate's period spans two months")
            elif ev.name == "CertificateProfile":
                cid = int(a["id"])
                slots = P.unpack(int(a["first_slot"]), [int(w) for w in a["slot_wh"]])
                self.profile[cid] = slots
                self.unclaimed[cid] = dict(slots)
                total = sum(slots.values())
                if total != self.cert_amount.get(cid):
                    self._find("inv9.profile-sum", f"#{cid}", self.cert_amount.get(cid), total, "Wh",
                               "the per-slot profile does not sum to the certified Wh")
                if cid in self.cert_period:
                    first, last = P.slot_range(*self.cert_period[cid], self.slot_s)
                    outside = [s for s in slots if not first <= s <= last]
                    if outside:
                        self._find("inv9.profile-outside-period", f"#{cid}", f"{first}..{last}", outside[0], "slot")
            elif ev.name == "ClaimedSlots":
                cid = int(a["id"])
                meter = self.cert_meter.get(cid)
                meter = None if meter is None else self.history.root(meter)
                left = self.unclaimed.get(cid)
                taken = P.unpack(int(a["first_slot"]), [int(w) for w in a["slot_wh"]])
                if sum(taken.values()) != int(a["amount"]):
                    self._find("inv9.claim-amount", f"#{cid}", sum(taken.values()), a["amount"], "Wh",
                               "a time-matched claim's amount is not the sum of its slots")
                if left is None:
                    self._find("inv9.claim-without-profile", f"#{cid}", 0, a["amount"], "Wh")
                    return
                mine = self.by_beneficiary.setdefault(a["beneficiary"], {})
                for slot, wh in taken.items():
                    if wh > left.get(slot, 0):
                        self._find("inv9.slot-overclaimed", f"#{cid}", left.get(slot, 0), wh, "Wh",
                                   f"slot {slot} claimed beyond what it had left")
                    left[slot] = left.get(slot, 0) - wh
                    mine[slot] = mine.get(slot, 0) + wh
                    if meter is not None:
                        self.claimed[(meter, slot)] = self.claimed.get((meter, slot), 0) + wh

    def _taken(self, meter: str, wh: int, start: int, end: int) -> None:
        """A take of the period (start, end]: its Wh are the readings stamped in it; later ones stay pending."""
        root = self.history.root(meter)
        after = max(start, self._taken_until.get(root, start))  # a reading is taken once
        # Wh stored in the battery since the last take are owed: they come off this take first
        generated = sum(g for _, g in self.history.generated(meter, after, end)) - self._stored.pop(root, 0)
        if wh != generated:
            self._find("inv9.taken-not-generated", meter, generated, wh, "Wh",
                       f"taken for ({start}, {end}] but the readings stamped in it generated {generated} Wh")
        self._taken_until[root] = max(end, self._taken_until.get(root, end))

    def certified(self) -> dict[tuple[str, int], int]:
        """(meter, slot) -> Wh certified by every profiled certificate of the meter (named by its first key)."""
        out: dict[tuple[str, int], int] = {}
        for cid, slots in self.profile.items():
            if cid in self.storage_ids:
                continue  # a discharge certificate certifies what a member drew, not what its meter generated
            meter = self.cert_meter.get(cid)
            meter = None if meter is None else self.history.root(meter)
            for slot, wh in slots.items():
                out[(meter, slot)] = out.get((meter, slot), 0) + wh
        return out

    def commitments(self) -> dict[int, int]:
        """id -> what `profile_commitment(id)` must hold for every profiled certificate."""
        out = {}
        for cid, left in self.unclaimed.items():
            first, last = P.slot_range(*self.cert_period[cid], self.slot_s)
            out[cid] = P.commitment(cid, P.pack(first, last, {s: w for s, w in left.items() if w > 0}))
        return out

    def finish(self) -> list[Finding]:
        certified = self.certified()
        for (meter, slot), wh in self.claimed.items():
            if wh > certified.get((meter, slot), 0):
                self._find("inv9.claimed-above-certified", meter, certified.get((meter, slot), 0), wh, "Wh",
                           f"slot {slot}")
        by_meter: dict[str, dict[int, int]] = {}
        for (meter, slot), wh in certified.items():
            by_meter.setdefault(meter, {})[slot] = wh
        for meter, slots in by_meter.items():
            for lo, hi, generated in self._groups(meter):
                cert = sum(wh for s, wh in slots.items() if lo <= s <= hi)
                if cert > generated:
                    self._find("inv9.certified-above-generated", meter, generated, cert, "Wh",
                               f"slots {lo}..{hi}" if lo != hi else f"slot {lo}")
            covered = self._groups(meter)
            stray = [s for s in slots if not any(lo <= s <= hi for lo, hi, _ in covered) and slots[s]]
            if stray:
                self._find("inv9.certified-above-generated", meter, 0, slots[stray[0]], "Wh",
                           f"slot {stray[0]}: certified where no reading credited generation")
        return self.findings

    def _groups(self, meter: str) -> list[tuple[int, int, int]]:
        """Reading intervals merged where they share a slot: (first slot, last slot, Wh generated)."""
        groups: list[list[int]] = []
        for lo, hi, wh in sorted(self.intervals.get(meter, [])):
            if groups and lo <= groups[-1][1]:
                groups[-1][1] = max(groups[-1][1], hi)
                groups[-1][2] += wh
            else:
                groups.append([lo, hi, wh])
        return [tuple(g) for g in groups]

    def _find(self, check, account, expected, actual, unit, detail="") -> None:
        self.findings.append(Finding(INVARIANT, check, CERTIFICATE, account, self._block, expected, actual, unit, detail))
