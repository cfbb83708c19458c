"""Green energy through the shared battery, in Python: the reference the contracts of issue 26 will
be property-tested against (EnergyTag's storage method, per slot).

Units: energy in Wh (integers), time in seconds of chain time, a slot is ``slot_s`` seconds
(gridmint/slots.py), the round-trip efficiency ``eta_ppm`` in parts per million (immutable per
battery; ``ETA_PPM_DEFAULT`` = 900,000, i.e. 0.90).

Flows per slot and meter (``slot_flows``). A reading stamped t credits the Wh of (t_prev, t] of each
register; they belong to the slot of the interval's last second, ``(t - 1) // slot_s`` — the rule of
certificates per slot, taken from gridmint/profile.py (``profile_from_readings``), not written again.
The first reading of a meter counts from its commissioning values, as the registry credits it.

- Green charge of a meter in slot s = min(exported Wh, generated Wh) of that slot, for a renewable
  meter (method 1..5); a meter of method NONE (0) charges nothing green, whatever it exports. The
  min is taken over the slot's sums, not per reading: how a slot's Wh are split into readings
  (one reading or ten, every reading credited or only the last one of the slot) never changes it.
- Discharge of a meter in slot s = its imported Wh of that slot. Where the registry sends part of an
  export to the grid (``GridExport``) or an import is partly ``GridImport``, only the battery's part
  is a flow: pass the minted / burned Wh as ``exported_wh`` / ``imported_wh`` of a ``Flow``.

The battery's green content is a first-in-first-out queue of charge lots (meter, charge slot, Wh).
Slots are settled in increasing order, each in one step (``GreenBattery.settle``):

1. Charges first. Every green charge of slot s enters the back of the queue, one lot per charging
   meter, lots of one slot in ascending meter address order (the order within a slot decides
   nothing of value: a charging meter gives up its green charge when it is stored, wherever its lot
   sits). Charges enter before the slot's discharges are served because a slot is the settlement
   period: at slot resolution its flows are simultaneous, so solar passing through the battery within
   one slot is green, and the slot's own lots are the youngest, served only after every older lot.
2. Discharges, per slot and not per reading, so a reading's order inside a slot never matters and
   nobody jumps the queue by reordering or re-batching readings. Each discharging meter m with d_m
   Wh needs ``need_m = ceil(d_m * 1e6 / eta_ppm)`` Wh of charge to be wholly green. With N the slot's
   total need and C the green content (Wh of charge in the queue, after step 1):
   - N <= C: every meter takes ``charge_m = need_m``;
   - N > C: the content is shared pro rata to need, ``charge_m = floor(need_m * C / N)``; the dust
     left (fewer Wh than there are discharging meters) stays in the queue for later slots.
   The meter's green Wh = ``floor(charge_m * eta_ppm / 1e6)`` (= d_m exactly when wholly covered, as
   need_m * eta lies in [d_m, d_m + 1)); the rest of its import is grey. Rounding never creates green:
   green * 1e6 <= charge * eta_ppm for every discharge, and green <= d_m. Pro rata, not address
   order, decides the amounts, so no meter is served first by grinding a low address.
3. The slot's charge taken (sum of charge_m) is removed from the front of the queue (FIFO: no lot is
   touched while an older lot has Wh left). Which lots each meter's charge names (its provenance) is
   the taken range cut in ascending meter address order: the first meter gets the oldest lots. Only
   the labelling follows the address, never how much anybody gets. Losses of the slot = charge taken
   - green discharged (efficiency plus the sub-Wh rounding).

Conservation at every point: Wh green-charged = Wh charge taken + green content, and Wh charge taken
= green discharged + losses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gridmint.generated.contracts import METHOD_MAX
from gridmint.profile import profile_from_readings
from gridmint.slots import SLOT_S, check_slot_s

PPM = 1_000_000
ETA_PPM_DEFAULT = 900_000  # round-trip efficiency 0.90
METHOD_NONE = 0
RENEWABLE_METHODS = frozenset(range(1, METHOD_MAX + 1))  # solar, wind, hydro, geothermal, biomass (MeterRegistry)


def check_eta_ppm(eta_ppm: int) -> int:
    """A round-trip efficiency in ppm: 1..1,000,000 (a battery gives back at most what went in)."""
    if not 0 < eta_ppm <= PPM:
        raise ValueError(f"round-trip efficiency must be 1..{PPM} ppm, not {eta_ppm}")
    return eta_ppm


def charge_needed_wh(discharge_wh: int, eta_ppm: int) -> int:
    """Wh of charge that make ``discharge_wh`` Wh wholly green: ceil(discharge * 1e6 / eta)."""
    return -(-discharge_wh * PPM // eta_ppm)


def green_of_charge_wh(charge_wh: int, eta_ppm: int) -> int:
    """Green Wh that ``charge_wh`` Wh of charge give back: floor(charge * eta / 1e6)."""
    return charge_wh * eta_ppm // PPM


# ---------------------------------------------------------------- readings -> flows per slot


@dataclass(frozen=True)
class Reading:
    """A meter's cumulative registers (Wh) stamped at ``timestamp_s``; also its commissioning values."""

    meter: str
    timestamp_s: int
    generated_wh: int
    consumed_wh: int
    exported_wh: int
    imported_wh: int


@dataclass(frozen=True)
class Flow:
    """One meter's Wh in one slot: generated, exported into the battery, imported from it."""

    generated_wh: int = 0
    exported_wh: int = 0
    imported_wh: int = 0


def slot_flows(
    commissioning: Mapping[str, Reading], readings: Iterable[Reading], slot_s: int = SLOT_S
) -> dict[int, dict[str, Flow]]:
    """Flows per slot and meter from accepted readings, in any order (sorted per meter by time).

    ``commissioning[meter]`` is the baseline of the meter's first reading. Raises ValueError on a
    reading of an unknown meter, two readings of one meter at one time, a reading not after the
    commissioning time, or a register going down (the registry would have rejected them)."""
    check_slot_s(slot_s)
    per_meter: dict[str, list[Reading]] = {}
    for r in readings:
        if r.meter not in commissioning:
            raise ValueError(f"reading of unknown meter {r.meter}")
        per_meter.setdefault(r.meter, []).append(r)
    out: dict[int, dict[str, Flow]] = {}
    for meter, rs in per_meter.items():
        rs.sort(key=lambda r: r.timestamp_s)
        prev = commissioning[meter]
        deltas: dict[str, list[tuple[int, int]]] = {"generated_wh": [], "exported_wh": [], "imported_wh": []}
        for r in rs:
            if r.timestamp_s <= prev.timestamp_s:
                raise ValueError(f"meter {meter}: reading at {r.timestamp_s} is not after {prev.timestamp_s}")
            for reg in ("generated_wh", "consumed_wh", "exported_wh", "imported_wh"):
                if getattr(r, reg) < getattr(prev, reg):
                    raise ValueError(f"meter {meter}: {reg} went down at {r.timestamp_s}")
            for reg, pairs in deltas.items():
                pairs.append((r.timestamp_s, getattr(r, reg) - getattr(prev, reg)))
            prev = r
        profiles = {reg: profile_from_readings(pairs, slot_s) for reg, pairs in deltas.items()}
        for slot in set().union(*profiles.values()):
            out.setdefault(slot, {})[meter] = Flow(
                generated_wh=profiles["generated_wh"].get(slot, 0),
                exported_wh=profiles["exported_wh"].get(slot, 0),
                imported_wh=profiles["imported_wh"].get(slot, 0),
            )
    return out


def green_charge_wh(flow: Flow, method: int) -> int:
    """A meter's green charge in a slot: min(exported, generated) of a renewable meter, else 0."""
    if method not in RENEWABLE_METHODS:
        return 0
    return min(flow.exported_wh, flow.generated_wh)


# ---------------------------------------------------------------- the battery's green content


@dataclass(frozen=True)
class Lot:
    """Wh of green charge from ``meter``'s export in ``charge_slot``."""

    meter: str
    charge_slot: int
    wh: int


@dataclass(frozen=True)
class Discharge:
    """A meter's import in one slot: imported Wh, charge taken for it (Wh), green Wh, grey Wh, and
    the lots its charge came from (their Wh sum to ``charge_wh``; oldest first)."""

    imported_wh: int
    charge_wh: int
    green_wh: int
    lots: tuple[Lot, ...]

    @property
    def grey_wh(self) -> int:
        return self.imported_wh - self.green_wh


@dataclass(frozen=True)
class SlotResult:
    """One settled slot: green charge per charging meter (the Wh its generation certificates give up),
    each discharging meter's discharge, the slot's losses (Wh) and the green content after it."""

    slot: int
    charged: dict[str, int]
    discharges: dict[str, Discharge]
    losses_wh: int
    content: tuple[Lot, ...]

    @property
    def charged_wh(self) -> int:
        return sum(self.charged.values())

    @property
    def charge_taken_wh(self) -> int:
        return sum(d.charge_wh for d in self.discharges.values())

    @property
    def green_wh(self) -> int:
        return sum(d.green_wh for d in self.discharges.values())

    @property
    def content_wh(self) -> int:
        return sum(lot.wh for lot in self.content)


@dataclass
class GreenBattery:
    """The green content of one shared battery, settled slot by slot in increasing order."""

    eta_ppm: int = ETA_PPM_DEFAULT
    _queue: deque[Lot] = field(default_factory=deque, init=False, repr=False)
    _last_slot: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_eta_ppm(self.eta_ppm)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "eta_ppm" and "eta_ppm" in self.__dict__:
            raise AttributeError("the round-trip efficiency is immutable")
        super().__setattr__(name, value)

    @property
    def content(self) -> tuple[Lot, ...]:
        """The green content, oldest lot first."""
        return tuple(self._queue)

    @property
    def content_wh(self) -> int:
        return sum(lot.wh for lot in self._queue)

    def settle(self, slot: int, flows: Mapping[str, Flow], methods: Mapping[str, int]) -> SlotResult:
        """Settle ``slot``: its charges enter the queue, then its discharges are served (module doc).

        ``methods[meter]`` is the meter's generation method (0 none, 1..5 renewable). Raises
        ValueError when ``slot`` is not after the last settled slot, on a negative flow, or on a
        flow of a meter without a method."""
        if self._last_slot is not None and slot <= self._last_slot:
            raise ValueError(f"slot {slot} is not after the last settled slot {self._last_slot}")
        for meter, f in flows.items():
            if meter not in methods:
                raise ValueError(f"meter {meter} has no generation method")
            if min(f.generated_wh, f.exported_wh, f.imported_wh) < 0:
                raise ValueError(f"meter {meter}: negative flow in slot {slot}")
        self._last_slot = slot

        charged: dict[str, int] = {}
        for meter in sorted(flows):
            wh = green_charge_wh(flows[meter], methods[meter])
            if wh:
                charged[meter] = wh
                self._queue.append(Lot(meter, slot, wh))

        need = {
            m: charge_needed_wh(flows[m].imported_wh, self.eta_ppm)
            for m in sorted(flows)
            if flows[m].imported_wh
        }
        total_need = sum(need.values())
        content_wh = self.content_wh
        if total_need <= content_wh:
            share = dict(need)
        else:
            share = {m: n * content_wh // total_need for m, n in need.items()}

        discharges: dict[str, Discharge] = {}
        for meter in need:  # ascending address: the first meter names the oldest lots
            lots = self._take(share[meter])
            green = green_of_charge_wh(share[meter], self.eta_ppm)
            discharges[meter] = Discharge(flows[meter].imported_wh, share[meter], green, lots)
        losses = sum(d.charge_wh - d.green_wh for d in discharges.values())
        return SlotResult(slot, charged, discharges, losses, self.content)

    def _take(self, charge_wh: int) -> tuple[Lot, ...]:
        """Remove ``charge_wh`` Wh from the front of the queue; the lots (or parts of lots) taken."""
        taken: list[Lot] = []
        left = charge_wh
        while left:
            head = self._queue[0]
            wh = min(left, head.wh)
            taken.append(Lot(head.meter, head.charge_slot, wh))
            left -= wh
            if wh == head.wh:
                self._queue.popleft()
            else:
                self._queue[0] = Lot(head.meter, head.charge_slot, head.wh - wh)
        return tuple(taken)


@dataclass(frozen=True)
class MemberTotals:
    """One meter's totals over settled slots (Wh): green charged, imported, green discharged."""

    charged_wh: int = 0
    imported_wh: int = 0
    green_wh: int = 0

    @property
    def green_ppm(self) -> int:
        """Share of the imports that came green from the battery, in ppm (0 without imports): the app's
        "x % solar from the community battery" is ``green_ppm / 10_000``."""
        return self.green_wh * PPM // self.imported_wh if self.imported_wh else 0


def member_totals(results: Iterable[SlotResult]) -> dict[str, MemberTotals]:
    """Totals per meter over ``results`` (e.g. a member's night: the slots of one evening and night)."""
    out: dict[str, MemberTotals] = {}
    for r in results:
        for meter, wh in r.charged.items():
            t = out.get(meter, MemberTotals())
            out[meter] = MemberTotals(t.charged_wh + wh, t.imported_wh, t.green_wh)
        for meter, d in r.discharges.items():
            t = out.get(meter, MemberTotals())
            out[meter] = MemberTotals(t.charged_wh, t.imported_wh + d.imported_wh, t.green_wh + d.green_wh)
    return out


def settle_all(
    flows: Mapping[int, Mapping[str, Flow]], methods: Mapping[str, int], eta_ppm: int = ETA_PPM_DEFAULT
) -> list[SlotResult]:
    """Settle every slot of ``flows`` in increasing order on a fresh battery (empty slots skipped)."""
    battery = GreenBattery(eta_ppm)
    return [battery.settle(slot, flows[slot], methods) for slot in sorted(flows)]


def from_readings(
    commissioning: Mapping[str, Reading],
    readings: Iterable[Reading],
    methods: Mapping[str, int],
    eta_ppm: int = ETA_PPM_DEFAULT,
    slot_s: int = SLOT_S,
) -> list[SlotResult]:
    """Readings to settled slots: ``slot_flows`` then ``settle_all``."""
    return settle_all(slot_flows(commissioning, readings, slot_s), methods, eta_ppm)
