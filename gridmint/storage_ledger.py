"""A day of the shared battery's green content, as StorageLedger.vy takes it: pure functions, no I/O.

The rules are gridmint/storage_green.py's (docs/rules.md "Green energy through the battery"); this
module only feeds them the chain's flows and packs what they give into the words the contract reads.

Units: energy in Wh (integers), time in seconds of chain time, a day is ``DAY_S`` = 86,400 s (UTC,
``day = t // 86_400``), a slot ``slot_s`` s (1,800 or 900: 48 or 96 slots a day), the round-trip
efficiency in ppm.

Flows (``FlowLog``): from the chain's events in chain order, per meter key and slot, the rule of
storage_green.slot_flows: a ReadingAccepted's deltas belong to the slot of its last second; its export
counts only as far as it was minted as WATT (the delta minus the ``GridExport`` the registry logged right
after it in the same transaction), its import only as far as it burned WATT (minus ``GridImport``).
WattToken's ``StorageReleased`` (``release_unpaid``) burns are discharges of the slot of their block's
time (``t // slot_s``) that nobody is certified for: they count in the slot's need, under the key
``release:<account>``, and get no leaf (C-interface.md).

A day's settlement (``settle_day``): the day's slots settled in order on a ``GreenBattery`` that holds
the content left by earlier days, then packed:
- ``take_words``: one word per charging meter, ``meter | wh << 160`` (wh < 2**56), meters ascending:
  its day's green charge, which ``record_charges`` takes from the meter's certifiable generation;
- per slot (8 lanes of 32 bits a word, lane 0 of word 0 the day's first slot, gridmint/profile.py's
  packing): ``charge_words`` (green charged), ``need_words`` (N, every discharge's charge needed,
  releases included), ``taken_words`` (charge taken off the queue's front), and for claims
  ``cover_words`` (min(C, N), C the content after the slot's charges: the chain commits to them in
  ``settle_day`` and a claim passes them back);
- per discharging member meter: its ``discharge_words`` (imported Wh burned from WATT per slot) and
  the leaf ``discharge_leaf(ledger, meter, day, words)``; the root of the day's leaves
  (gridmint/merkle.py's sorted-pair tree) and each member's proof; ``green`` per member and slot (what
  its claim mints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from eth_abi import encode as abi_encode

from gridmint import merkle
from gridmint.profile import DAY_S, MAX_SLOT_WH, pack, unpack
from gridmint.slots import check_slot_s
from gridmint.storage_green import (
    METHOD_NONE,
    Flow,
    GreenBattery,
    Lot,
    Reading,
    SlotResult,
    charge_needed_wh,
    slot_flows,
)

MAX_DAY_WORDS = 12  # DynArray[uint256, 12]: 96 slots of 900 s
TAKE_WH_BITS = 56
MAX_TAKE_WH = 2**TAKE_WH_BITS - 1
ADDRESS_MASK = 2**160 - 1
RELEASE_PREFIX = "release:"
ZERO_ROOT = b"\0" * 32
# StorageLedger.DISCHARGE_LEAF_TAG()
DISCHARGE_LEAF_TAG = merkle.keccak(b"gridmint.StorageLedger.discharge.v1")


# ---------------------------------------------------------------- days and words


def day_of(timestamp_s: int) -> int:
    """The UTC day holding ``timestamp_s``."""
    return timestamp_s // DAY_S


def slots_per_day(slot_s: int) -> int:
    return DAY_S // check_slot_s(slot_s)


def first_slot_of(day: int, slot_s: int) -> int:
    """The day's first slot (a multiple of 8: lane 0 of the day's word 0)."""
    return day * slots_per_day(slot_s)


def day_of_slot(slot: int, slot_s: int) -> int:
    return slot // slots_per_day(slot_s)


def pack_day(day: int, slot_s: int, slot_wh: Mapping[int, int]) -> list[int]:
    """The day's words (6 for 30-minute slots, 12 for 15-minute ones) of Wh per slot; a slot outside the
    day or a value above ``MAX_SLOT_WH`` (2**31 - 1 Wh) raises ValueError."""
    first = first_slot_of(day, slot_s)
    return pack(first, first + slots_per_day(slot_s) - 1, slot_wh)


def unpack_day(day: int, slot_s: int, words: Sequence[int]) -> dict[int, int]:
    """Wh per slot (non-zero only) of a day's words."""
    if len(words) > MAX_DAY_WORDS:
        raise ValueError(f"a day has at most {MAX_DAY_WORDS} words, not {len(words)}")
    return unpack(first_slot_of(day, slot_s), words)


def take_word(meter: str, wh: int) -> int:
    """``record_charges``' word: the meter's address in the low 160 bits, Wh above it (< 2**56)."""
    if not 0 < wh <= MAX_TAKE_WH:
        raise ValueError(f"a take is 1..{MAX_TAKE_WH} Wh, not {wh}")
    return int(meter, 16) | (wh << 160)


def split_take_word(word: int) -> tuple[str, int]:
    """(meter as lower-case 0x-hex, Wh) of a take word."""
    return "0x" + (word & ADDRESS_MASK).to_bytes(20, "big").hex(), word >> 160


def discharge_leaf(ledger: str, meter: str, day: int, discharge_words: Sequence[int]) -> bytes:
    """The 32-byte leaf of a member's day, as StorageLedger.vy hashes it:
    keccak256(abi_encode(DISCHARGE_LEAF_TAG, ledger, meter, day, discharge_words)) with the words a
    dynamic uint256[]: 32 * (6 + W) bytes of preimage (W = 6 or 12 words), never an inner node's 64.
    The tag and the ledger's address keep a leaf from serving another contract or deployment."""
    if len(discharge_words) > MAX_DAY_WORDS:
        raise ValueError(f"a day has at most {MAX_DAY_WORDS} words, not {len(discharge_words)}")
    return merkle.keccak(abi_encode(["bytes32", "address", "address", "uint256", "uint256[]"],
                                    [DISCHARGE_LEAF_TAG, ledger, meter, day, list(discharge_words)]))


def release_key(account: str) -> str:
    """The flow key of an account's ``release_unpaid`` burns (a discharge without a leaf)."""
    return RELEASE_PREFIX + account.lower()


def is_release(key: str) -> bool:
    return key.startswith(RELEASE_PREFIX)


# ---------------------------------------------------------------- the chain's events -> flows


@dataclass
class FlowLog:
    """Folds decoded events (gridmint/audit/events.py `Event`s, chain order) into flows per slot and
    meter. Meter keys are lower-case 0x-hex; `methods` may be seeded (meters registered before the
    events read) and follows MeterRegistered and MeterKeyRotated (a new key keeps the method)."""

    slot_s: int
    methods: dict[str, int] = field(default_factory=dict)
    # meter -> [[timestamp s, generated Wh, exported Wh minted as WATT, imported Wh burned from WATT]]
    readings: dict[str, list[list[int]]] = field(default_factory=dict)
    releases: list[tuple[str, int, int]] = field(default_factory=list)  # (account, block time s, Wh)
    _last: tuple[str, str, list[int]] | None = field(default=None, repr=False)  # (tx, owner, reading)

    def __post_init__(self) -> None:
        check_slot_s(self.slot_s)
        self.methods = {k.lower(): int(v) for k, v in self.methods.items()}

    def apply_all(self, events: Iterable) -> FlowLog:
        for ev in events:
            self.apply(ev)
        return self

    def apply(self, ev) -> None:
        a = ev.args
        if ev.contract == "MeterRegistry":
            if ev.name == "ReadingAccepted":
                row = [int(a["timestamp"]), int(a["generated_wh"]), int(a["exported_wh"]), int(a["imported_wh"])]
                self.readings.setdefault(str(a["meter"]).lower(), []).append(row)
                self._last = (ev.tx, str(a["owner"]).lower(), row)
            elif ev.name in ("GridExport", "GridImport"):
                last = self._last
                # the registry logs it right after the reading it belongs to, in the same transaction
                if last is not None and last[0] == ev.tx and last[1] == str(a["owner"]).lower():
                    last[2][2 if ev.name == "GridExport" else 3] -= int(a["wh"])
            elif ev.name == "MeterRegistered":
                self.methods[str(a["meter"]).lower()] = int(a["method"])
            elif ev.name == "MeterKeyRotated":
                self.methods[str(a["new_meter"]).lower()] = self.methods.get(str(a["old_meter"]).lower(), METHOD_NONE)
        elif ev.contract == "WattToken" and ev.name == "StorageReleased":
            self.releases.append((str(a["account"]).lower(), int(ev.timestamp), int(a["wh"])))

    def flows(self, first_slot: int | None = None, last_slot: int | None = None) -> dict[int, dict[str, Flow]]:
        """Flows per slot (first_slot..last_slot when given) and key, by storage_green.slot_flows."""
        commissioning, rows = {}, []
        for meter, rs in self.readings.items():
            commissioning[meter] = Reading(meter, 0, 0, 0, 0, 0)
            gen = exp = imp = 0
            for ts, g, e, i in sorted(rs):
                gen, exp, imp = gen + g, exp + max(e, 0), imp + max(i, 0)
                rows.append(Reading(meter, ts, gen, 0, exp, imp))
        out = slot_flows(commissioning, rows, self.slot_s)
        for account, ts, wh in self.releases:
            slot = ts // self.slot_s
            key = release_key(account)
            before = out.setdefault(slot, {}).get(key, Flow())
            out[slot][key] = Flow(imported_wh=before.imported_wh + wh)
        return {s: f for s, f in out.items()
                if (first_slot is None or s >= first_slot) and (last_slot is None or s <= last_slot)}

    def methods_of(self, flows: Mapping[int, Mapping[str, Flow]]) -> dict[str, int]:
        """Every key of `flows` with its method (releases and unknown meters: none)."""
        keys = {k for f in flows.values() for k in f}
        return {k: self.methods.get(k, METHOD_NONE) for k in keys}

    def days(self) -> list[int]:
        """Days with any flow, ascending."""
        return sorted({day_of_slot(s, self.slot_s) for s in self.flows()})


# ---------------------------------------------------------------- a day's settlement


def battery_with_content(lots: Iterable[Lot], eta_ppm: int, after_slot: int | None = None) -> GreenBattery:
    """A GreenBattery holding ``lots`` (oldest first; e.g. the chain's queue), next to settle a slot
    after ``after_slot``. storage_green builds batteries empty; the relay starts from the chain's queue
    rather than replaying every day since the first (the auditor replays)."""
    battery = GreenBattery(eta_ppm)
    for lot in lots:
        if lot.wh <= 0:
            raise ValueError(f"a lot holds a positive Wh, not {lot.wh}")
        battery._queue.append(lot)  # noqa: SLF001  (the queue's only writer besides settle)
    battery._last_slot = after_slot  # noqa: SLF001
    return battery


class _DischargeTree:
    """What a settled day's claims are made of, for the settler's `DaySettlement` and a member's
    `DayClaims` alike: the day's words, the discharge leaves and their tree, a claim's arguments.
    Subclasses give day, slot_s, ledger, discharges, need, green and cover (slot -> min(C, N))."""

    def words(self, slot_wh: Mapping[int, int]) -> list[int]:
        return pack_day(self.day, self.slot_s, slot_wh)

    @property
    def need_words(self) -> list[int]:
        return self.words(self.need)

    @property
    def cover_words(self) -> list[int]:
        return self.words(self.cover)

    def discharge_words(self, meter: str) -> list[int]:
        return self.words(self.discharges.get(meter.lower(), {}))

    def green_words(self, meter: str) -> list[int]:
        """The profile the member's discharge certificate carries (the reference's green per slot)."""
        return self.words(self.green.get(meter.lower(), {}))

    def drawn_wh(self, meter: str) -> int:
        return sum(self.discharges.get(meter.lower(), {}).values())

    def green_wh(self, meter: str) -> int:
        return sum(self.green.get(meter.lower(), {}).values())

    @cached_property
    def leaves(self) -> dict[str, bytes]:
        return {m: discharge_leaf(self.ledger, m, self.day, self.discharge_words(m)) for m in self.discharges}

    @cached_property
    def tree(self) -> merkle.ReadingTree | None:
        return merkle.ReadingTree(self.leaves.values()) if self.leaves else None

    @property
    def root(self) -> bytes:
        """The root of the day's discharge leaves (32 zero bytes when nobody discharged)."""
        return self.tree.root if self.tree else ZERO_ROOT

    def proof(self, meter: str) -> list[bytes]:
        leaf = self.leaves.get(meter.lower())
        if leaf is None:
            raise KeyError(f"{meter} drew nothing from the battery on day {self.day}")
        return self.tree.proof(leaf)

    def claim_args(self, meter: str) -> tuple:
        """``claim_discharge(meter, day, discharge_words, need_words, cover_words, proof)``'s arguments."""
        return (meter, self.day, self.discharge_words(meter), self.need_words, self.cover_words, self.proof(meter))


@dataclass(frozen=True)
class DaySettlement(_DischargeTree):
    """One day settled by the reference: the slot results and what the contract is sent."""

    day: int
    slot_s: int
    eta_ppm: int
    ledger: str  # the StorageLedger's address (every leaf names it)
    results: tuple[SlotResult, ...]  # the day's settled slots (those with a flow), in order
    content_before_wh: int  # the battery's green content before the day's first slot

    @cached_property
    def takes(self) -> dict[str, int]:
        """Green charge per charging meter over the day (Wh), meters ascending."""
        out: dict[str, int] = {}
        for r in self.results:
            for meter, wh in r.charged.items():
                out[meter] = out.get(meter, 0) + wh
        return dict(sorted(out.items(), key=lambda kv: int(kv[0], 16)))

    @cached_property
    def charged(self) -> dict[int, int]:
        return {r.slot: r.charged_wh for r in self.results if r.charged_wh}

    @cached_property
    def need(self) -> dict[int, int]:
        """N per slot: the charge every discharge of the slot needs to be wholly green."""
        out = {r.slot: sum(charge_needed_wh(d.imported_wh, self.eta_ppm) for d in r.discharges.values())
               for r in self.results}
        return {s: n for s, n in out.items() if n}

    @cached_property
    def taken(self) -> dict[int, int]:
        return {r.slot: r.charge_taken_wh for r in self.results if r.charge_taken_wh}

    @cached_property
    def content(self) -> dict[int, int]:
        """C per slot: the content after the slot's charges, before its discharges."""
        return {r.slot: r.content_wh + r.charge_taken_wh for r in self.results if r.content_wh + r.charge_taken_wh}

    @cached_property
    def cover(self) -> dict[int, int]:
        """min(C, N) per slot with a need: the part of the need the content covers (what a claim's
        pro-rata share is computed from)."""
        return {s: min(self.content.get(s, 0), n) for s, n in self.need.items() if min(self.content.get(s, 0), n)}

    @cached_property
    def discharges(self) -> dict[str, dict[int, int]]:
        """Member meter -> slot -> imported Wh burned from WATT (releases left out: no leaf)."""
        out: dict[str, dict[int, int]] = {}
        for r in self.results:
            for key, d in r.discharges.items():
                if not is_release(key):
                    out.setdefault(key, {})[r.slot] = d.imported_wh
        return out

    @cached_property
    def green(self) -> dict[str, dict[int, int]]:
        """Member meter -> slot -> green Wh (non-zero only): what its claim certifies."""
        out: dict[str, dict[int, int]] = {}
        for r in self.results:
            for key, d in r.discharges.items():
                if not is_release(key) and d.green_wh:
                    out.setdefault(key, {})[r.slot] = d.green_wh
        return out

    @property
    def content_after_wh(self) -> int:
        return self.results[-1].content_wh if self.results else self.content_before_wh

    # ---- words

    @property
    def take_words(self) -> list[int]:
        return [take_word(m, wh) for m, wh in self.takes.items()]

    @property
    def charge_words(self) -> list[int]:
        return self.words(self.charged)

    @property
    def taken_words(self) -> list[int]:
        return self.words(self.taken)

    def settle_args(self) -> tuple:
        """``settle_day(day, charge_words, need_words, taken_words, root)``'s arguments."""
        return (self.day, self.charge_words, self.need_words, self.taken_words, self.root)

    @property
    def empty(self) -> bool:
        """Nothing charged and nothing drawn: a day the settler may skip."""
        return not self.charged and not self.need


def settle_day(battery: GreenBattery, day: int, flows: Mapping[int, Mapping[str, Flow]],
               methods: Mapping[str, int], slot_s: int, ledger: str) -> DaySettlement:
    """Settles the day's slots of ``flows`` (other slots ignored) in order on ``battery`` (which holds
    the earlier days' content and is left holding this day's) by storage_green's rules; ``ledger`` is
    the StorageLedger's address. Raises ValueError when a figure does not fit the contract's lanes
    (2**31 - 1 Wh a slot: a slot's charge or need)."""
    first = first_slot_of(day, slot_s)
    before = battery.content_wh
    slots = sorted(s for s in flows if first <= s < first + slots_per_day(slot_s) and flows[s])
    results = tuple(battery.settle(s, flows[s], methods) for s in slots)
    out = DaySettlement(day, slot_s, battery.eta_ppm, ledger, results, before)
    for name, per_slot in (("charge", out.charged), ("need", out.need)):
        for s, wh in per_slot.items():
            if wh > MAX_SLOT_WH:
                raise ValueError(f"slot {s}: the {name} of {wh} Wh does not fit a 31-bit lane")
    return out


def settle_days(flows: Mapping[int, Mapping[str, Flow]], methods: Mapping[str, int], eta_ppm: int, slot_s: int,
                days: Iterable[int], ledger: str, battery: GreenBattery | None = None) -> list[DaySettlement]:
    """``settle_day`` for each of ``days`` (ascending) on one battery (a fresh one by default)."""
    battery = battery or GreenBattery(eta_ppm)
    return [settle_day(battery, d, flows, methods, slot_s, ledger) for d in sorted(days)]


# ---------------------------------------------------------------- a settled day, for its claims


@dataclass(frozen=True)
class DayClaims(_DischargeTree):
    """A settled day as a member claims it: the discharges rebuilt from the day's flows (the leaves,
    the tree), N and C per slot as the chain settled them (its SlotSettled events), and each member's
    green by storage_green's rule for the slot's content C. ``root`` must equal the chain's
    ``day_root(day)`` before anything is sent."""

    day: int
    slot_s: int
    eta_ppm: int
    ledger: str
    discharges: dict[str, dict[int, int]]  # member meter -> slot -> imported Wh burned from WATT
    need: dict[int, int]  # slot -> N (SlotSettled.need_wh)
    content: dict[int, int]  # slot -> C (SlotSettled.content_wh)
    green: dict[str, dict[int, int]]  # member meter -> slot -> green Wh (non-zero)

    @property
    def cover(self) -> dict[int, int]:
        """min(C, N) per slot with a need, as the chain committed to it."""
        return {s: min(n, self.content.get(s, 0)) for s, n in self.need.items()}


def day_claims(day: int, flows: Mapping[int, Mapping[str, Flow]], settled: Mapping[int, tuple[int, int]],
               eta_ppm: int, slot_s: int, ledger: str) -> DayClaims:
    """A settled day's claims from its flows and ``settled[slot] = (need_wh, content_wh)`` (the chain's
    SlotSettled events). Each slot's green is storage_green's: the slot's discharges settled on a
    battery holding C Wh (C already counts the slot's charges). Raises ValueError when the flows'
    need of a slot differs from the need the chain settled (the claim's words would not match)."""
    first = first_slot_of(day, slot_s)
    discharges: dict[str, dict[int, int]] = {}
    green: dict[str, dict[int, int]] = {}
    for s in range(first, first + slots_per_day(slot_s)):
        drawn = {k: Flow(imported_wh=f.imported_wh) for k, f in flows.get(s, {}).items() if f.imported_wh}
        need_wh, content_wh = settled.get(s, (0, 0))
        need = sum(charge_needed_wh(f.imported_wh, eta_ppm) for f in drawn.values())
        if need != need_wh:
            raise ValueError(f"slot {s}: the readings need {need} Wh of charge, the chain settled {need_wh} Wh")
        if not drawn:
            continue
        lots = [Lot("", s, content_wh)] if content_wh else []
        result = battery_with_content(lots, eta_ppm, s - 1).settle(s, drawn, {k: METHOD_NONE for k in drawn})
        for key, d in result.discharges.items():
            if is_release(key):
                continue
            discharges.setdefault(key, {})[s] = d.imported_wh
            if d.green_wh:
                green.setdefault(key, {})[s] = d.green_wh
    need = {s: n for s, (n, _) in settled.items() if n}
    content = {s: c for s, (_, c) in settled.items() if c}
    return DayClaims(day, slot_s, eta_ppm, ledger, discharges, need, content, green)


def less_stored(gen_by_slot: Mapping[int, int], stored: Mapping[int, int]) -> dict[int, int]:
    """A meter's generation per slot (Wh) less its green charge per slot (`stored`, the battery's
    settlement). The settlement counts a credited reading's Wh in the slot of its last second, so with
    readings credited every few slots a charge can exceed that one slot's generation: each charge comes
    off its slot, then the slots before it, latest first (the credited reading's own interval, whose
    generation covers it). Raises ValueError when the generation cannot cover a charge."""
    out = dict(gen_by_slot)
    for slot in sorted(stored):
        left = stored[slot]
        for s in sorted((k for k in out if k <= slot and out[k] > 0), reverse=True):
            cut = min(left, out[s])
            out[s] -= cut
            left -= cut
            if not left:
                break
        if left:
            raise ValueError(f"slot {slot}: {stored[slot]} Wh stored, above the generation before it")
    return out


def batches(words: Sequence[int], size: int) -> list[list[int]]:
    """``record_charges`` calls: the take words cut in batches of at most ``size``."""
    return [list(words[i:i + size]) for i in range(0, len(words), size)]

