"""24/7 matching: a consumer's consumption per slot against the green Wh claimed for it per slot.

EnergyTag's granular-certificate idea on gridmint's 30-minute slots: for each slot, the share of
the beneficiary's consumption covered by renewable generation claimed *for that slot*
(time-matched claims, ``EnvironmentalCertificate.claim_slots``). Plain claims name no slot and
never count here: they are annual-volume claims.

  matched Wh of a slot = min(consumed Wh, green Wh claimed for the slot)
  24/7 score           = sum of matched Wh / sum of consumed Wh   (0 when nothing was consumed)

Units: Wh per slot; slots as in gridmint/slots.py (slot k = [k * slot_s, (k + 1) * slot_s)).
A reading's consumed Wh belong to the slot of its last second, the same rule the certificate
profile uses (gridmint/profile.py).

Library functions (no I/O beyond the contract calls given to them):
  consumption_by_slot(readings, slot_s)            consumed Wh per slot from (timestamp, consumed Wh) deltas
  green_by_slot(claims, beneficiary)               green Wh claimed per slot from ClaimedSlots events
  plan_slot_claims(need, unclaimed, balances)      which Wh of which slot of which certificate to claim
  claim_by_slot(cert, holder, beneficiary, ...)    sends the claims (one claim_slots per certificate)
  score(consumption, green)                        the Matching (per-slot rows and the 24/7 score)
  issue_with_profile(cert, registry, meter, owner, slot_wh)   issue with the profile (the owner only)
  issue_month_by_month(cert, registry, meter, owner, slot_wh)  the same for a period of any length: the
                                                   oldest month at a time while one profile cannot carry it
  claim_matching(cert, holder, beneficiary, consumption, unclaimed, purpose)   the demo hook: claim
                                                   slot by slot against consumption, return the Matching
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from gridmint import profile as P


@dataclass(frozen=True, slots=True)
class SlotMatch:
    slot: int
    consumed_wh: int
    green_wh: int  # claimed for the beneficiary in this slot

    @property
    def matched_wh(self) -> int:
        return min(self.consumed_wh, self.green_wh)

    def start_utc(self, slot_s: int) -> str:
        return datetime.fromtimestamp(self.slot * slot_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Matching:
    """Per-slot rows (every slot with consumption or green Wh, in time order) and the totals."""

    rows: tuple[SlotMatch, ...] = field(default_factory=tuple)

    @property
    def consumed_wh(self) -> int:
        return sum(r.consumed_wh for r in self.rows)

    @property
    def green_wh(self) -> int:
        return sum(r.green_wh for r in self.rows)

    @property
    def matched_wh(self) -> int:
        return sum(r.matched_wh for r in self.rows)

    @property
    def score(self) -> float:
        """The 24/7 score in [0, 1]: the share of consumption matched slot by slot."""
        return self.matched_wh / self.consumed_wh if self.consumed_wh else 0.0

    def as_dict(self, slot_s: int) -> dict:
        return {
            "consumed_wh": self.consumed_wh,
            "green_wh": self.green_wh,
            "matched_wh": self.matched_wh,
            "score": round(self.score, 4),
            "slots": [
                {"slot": r.slot, "start_utc": r.start_utc(slot_s), "consumed_wh": r.consumed_wh,
                 "green_wh": r.green_wh, "matched_wh": r.matched_wh}
                for r in self.rows
            ],
        }


def consumption_by_slot(readings: Iterable[tuple[int, int]], slot_s: int) -> dict[int, int]:
    """Consumed Wh per slot from (timestamp_s, consumed_wh delta) pairs of the beneficiary's meter readings."""
    out: dict[int, int] = {}
    for timestamp_s, wh in readings:
        if wh:
            slot = P.slot_of_reading(timestamp_s, slot_s)
            out[slot] = out.get(slot, 0) + wh
    return out


def green_by_slot(claims: Iterable[Mapping], beneficiary: str) -> dict[int, int]:
    """Green Wh claimed per slot for ``beneficiary`` from decoded ClaimedSlots events
    (mappings or objects with beneficiary, first_slot, slot_wh)."""
    out: dict[int, int] = {}
    want = beneficiary.lower()
    for c in claims:
        get = c.get if isinstance(c, Mapping) else lambda k, c=c: getattr(c, k)
        if str(get("beneficiary")).lower() != want:
            continue
        for slot, wh in P.unpack(int(get("first_slot")), [int(w) for w in get("slot_wh")]).items():
            out[slot] = out.get(slot, 0) + wh
    return out


def score(consumption: Mapping[int, int], green: Mapping[int, int]) -> Matching:
    """The Matching of consumption against green Wh, slot by slot."""
    slots = sorted(set(consumption) | set(green))
    return Matching(tuple(SlotMatch(s, int(consumption.get(s, 0)), int(green.get(s, 0))) for s in slots))


def plan_slot_claims(
    need: Mapping[int, int], unclaimed: Mapping[int, Mapping[int, int]], balances: Mapping[int, int]
) -> dict[int, dict[int, int]]:
    """Time-matched claims covering ``need`` (Wh per slot) from certificates' unclaimed Wh per slot.

    ``unclaimed``: certificate id -> {slot: Wh left}; ``balances``: id -> the holder's units.
    Slot by slot in time order, each slot's need is met from the certificates with Wh left in that
    slot, lowest id first, never beyond a slot's Wh left or the holder's units of an id.
    Returns id -> {slot: Wh to claim} (only ids with something to claim)."""
    left_units = {i: int(b) for i, b in balances.items()}
    plan: dict[int, dict[int, int]] = {}
    for slot in sorted(need):
        want = int(need[slot])
        for cid in sorted(unclaimed):
            if want <= 0:
                break
            take = min(want, int(unclaimed[cid].get(slot, 0)), left_units.get(cid, 0))
            if take > 0:
                plan.setdefault(cid, {})[slot] = take
                left_units[cid] -= take
                want -= take
    return plan


def claim_by_slot(cert, holder, beneficiary, plan: Mapping[int, Mapping[int, int]],
                  unclaimed: Mapping[int, Mapping[int, int]], purpose: str) -> list:
    """Sends one ``claim_slots`` per certificate of ``plan`` from ``holder`` for ``beneficiary``.

    ``cert`` is any handle with the call shape ``cert.fn(*args, sender=account)`` (ape, titanoboa,
    gridmint.system.Web3Contract); ``unclaimed`` holds each id's Wh left per slot before the claims
    (from its CertificateProfile minus earlier ClaimedSlots events). Returns what each call returned."""
    out = []
    for cid, take in sorted(plan.items()):
        first, last, profiled = cert.slots_of(cid)
        if not profiled:
            raise ValueError(f"certificate #{cid} has no per-slot profile")
        words = P.pack(first, last, dict(unclaimed[cid]))
        base = P.first_word_slot(first)
        lo = (min(take) - base) // P.SLOTS_PER_WORD
        hi = (max(take) - base) // P.SLOTS_PER_WORD
        claim_words = P.pack(base + lo * P.SLOTS_PER_WORD, base + hi * P.SLOTS_PER_WORD + P.SLOTS_PER_WORD - 1, dict(take))
        out.append(cert.claim_slots(cid, words, lo, claim_words, beneficiary, purpose, sender=holder))
    return out


def unclaimed_from_events(profiles: Iterable, claims: Iterable) -> dict[int, dict[int, int]]:
    """Each certificate's Wh left per slot from its CertificateProfile events minus its ClaimedSlots events."""
    def get(e, k):
        return e[k] if isinstance(e, Mapping) else getattr(e, k)

    left: dict[int, dict[int, int]] = {}
    for e in profiles:
        left[int(get(e, "id"))] = P.unpack(int(get(e, "first_slot")), [int(w) for w in get(e, "slot_wh")])
    for c in claims:
        cid = int(get(c, "id"))
        for slot, wh in P.unpack(int(get(c, "first_slot")), [int(w) for w in get(c, "slot_wh")]).items():
            left.setdefault(cid, {})[slot] = left.get(cid, {}).get(slot, 0) - wh
    return left


def issue_with_profile(cert, registry, meter: str, owner, slot_wh: Mapping[int, int]):
    """Issues the meter's certifiable generation with its per-slot profile (``slot_wh``: Wh generated per
    slot, e.g. ``gridmint.profile.profile_from_readings`` of ``gridmint.meter_history.MeterHistory.generated``:
    its accepted readings under every key it had, a rotated meter's retired keys included); returns what
    ``cert.issue`` returned (a receipt with ape or web3, the first id with titanoboa)."""
    _, start, end = registry.certifiable(meter)
    words = P.issue_words(int(start), int(end), slot_wh, int(cert.SLOT_S()))
    return cert.issue(meter, words, sender=owner)


def issue_month_by_month(cert, registry, meter: str, owner, slot_wh: Mapping[int, int]) -> list[tuple[int, object]]:
    """Issues all the meter's certifiable generation with its per-slot profile, however long the pending
    period: while it is too long for one profile (``gridmint.profile.next_part_end``), the oldest month
    as a part (``issue(meter, profile, until)``), then the rest whole. Returns (until, what ``cert.issue``
    returned) per call, oldest first (until 0: the whole rest)."""
    slot_s = int(cert.SLOT_S())
    calls = []
    wh, start, end = registry.certifiable(meter)
    while int(wh):
        until = P.next_part_end(int(start), int(end), slot_s)
        words = P.issue_words(int(start), until or int(end), slot_wh, slot_s)
        result = cert.issue(meter, words, until, sender=owner) if until else cert.issue(meter, words, sender=owner)
        calls.append((until, result))
        if not until:
            break
        wh, start, end = registry.certifiable(meter)
    return calls


def claim_matching(cert, holder, beneficiary: str, consumption: Mapping[int, int],
                   unclaimed: Mapping[int, Mapping[int, int]], purpose: str) -> tuple[Matching, list]:
    """The demo hook: ``holder`` claims, for ``beneficiary``, green Wh slot by slot up to its consumption
    in each slot, from the certificates in ``unclaimed`` it holds units of; returns the beneficiary's
    Matching over those claims (its 24/7 score) and what each claim_slots call returned."""
    address = getattr(holder, "address", holder)
    balances = {cid: int(cert.balanceOf(address, cid)) for cid in unclaimed}
    plan = plan_slot_claims(consumption, unclaimed, balances)
    sent = claim_by_slot(cert, holder, beneficiary, plan, unclaimed, purpose)
    green: dict[int, int] = {}
    for take in plan.values():
        for slot, wh in take.items():
            green[slot] = green.get(slot, 0) + wh
    return score(consumption, green), sent
