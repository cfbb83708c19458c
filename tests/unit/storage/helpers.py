"""A test-side settler for contracts/StorageLedger.vy: builds a day's settlement from
gridmint/storage_green.py's slot results (the reference), packed as the ledger takes it.

Kept apart from gridmint/storage_ledger.py (the relay's builder) on purpose: the contract is checked
against an encoding written from its own documentation, and the relay's builder against both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eth_utils import keccak, to_canonical_address

from gridmint import merkle
from gridmint import profile as P
from gridmint import storage_green as G

DAY_S = 86_400
LEAF_TAG = keccak(b"gridmint.StorageLedger.discharge.v1")


def words_per_day(slot_s: int) -> int:
    return DAY_S // slot_s // 8


def day_words(day: int, per_slot: Mapping[int, int], slot_s: int) -> list[int]:
    """The day's per-slot words: lane 0 of word 0 = the day's first slot."""
    spd = DAY_S // slot_s
    return P.pack(day * spd, day * spd + spd - 1, {s: v for s, v in per_slot.items() if v})


def leaf(ledger: str, meter: str, day: int, words: list[int]) -> bytes:
    """keccak256(abi_encode(TAG, ledger, meter, day, uint256[] words)), as the contract doc fixes it."""
    def w(x: int) -> bytes:
        return int(x).to_bytes(32, "big")

    def a(addr: str) -> bytes:
        return to_canonical_address(addr).rjust(32, b"\0")

    return keccak(LEAF_TAG + a(ledger) + a(meter) + w(day) + w(0xA0) + w(len(words)) + b"".join(w(x) for x in words))


def take_word(meter: str, wh: int) -> int:
    return int(meter, 16) | (wh << 160)


@dataclass
class DaySettlement:
    day: int
    takes: list[int]
    charge: list[int]
    need: list[int]
    taken: list[int]
    cover: list[int]
    root: bytes
    discharge: dict[str, list[int]] = field(default_factory=dict)
    proofs: dict[str, list[bytes]] = field(default_factory=dict)
    green: dict[str, dict[int, int]] = field(default_factory=dict)  # the reference's green Wh per meter, slot

    def settle_args(self):
        return self.day, self.charge, self.need, self.taken, self.root

    def claim_args(self, meter: str):
        return meter, self.day, self.discharge[meter], self.need, self.cover, self.proofs[meter]


def settlement(
    ledger: str,
    day: int,
    results: Iterable[G.SlotResult],
    eta_ppm: int,
    slot_s: int,
    no_leaf: Iterable[str] = (),
) -> DaySettlement:
    """The settlement of `day` from the reference's results of its slots (other slots ignored).
    Meters in `no_leaf` (release burns) count in N but get no leaf."""
    spd = DAY_S // slot_s
    first, last = day * spd, day * spd + spd - 1
    skip = set(no_leaf)
    charge, need, taken, cover = {}, {}, {}, {}
    takes: dict[str, int] = {}
    per_meter: dict[str, dict[int, int]] = {}
    green: dict[str, dict[int, int]] = {}
    for r in results:
        if not first <= r.slot <= last:
            continue
        charge[r.slot] = r.charged_wh
        for m, wh in r.charged.items():
            takes[m] = takes.get(m, 0) + wh
        n = sum(G.charge_needed_wh(d.imported_wh, eta_ppm) for d in r.discharges.values())
        need[r.slot] = n
        taken[r.slot] = r.charge_taken_wh
        content_before_take = r.content_wh + r.charge_taken_wh
        cover[r.slot] = min(content_before_take, n)
        for m, d in r.discharges.items():
            if m in skip:
                continue
            per_meter.setdefault(m, {})[r.slot] = d.imported_wh
            if d.green_wh:
                green.setdefault(m, {})[r.slot] = d.green_wh
    discharge = {m: day_words(day, s, slot_s) for m, s in per_meter.items()}
    leaves = {m: leaf(ledger, m, day, w) for m, w in discharge.items()}
    if leaves:
        tree = merkle.ReadingTree(leaves.values())
        root, proofs = tree.root, {m: tree.proof(lf) for m, lf in leaves.items()}
    else:
        root, proofs = b"\0" * 32, {}
    return DaySettlement(
        day=day,
        takes=[take_word(m, wh) for m, wh in sorted(takes.items()) if wh],
        charge=day_words(day, charge, slot_s),
        need=day_words(day, need, slot_s),
        taken=day_words(day, taken, slot_s),
        cover=day_words(day, cover, slot_s),
        root=root,
        discharge=discharge,
        proofs=proofs,
        green=green,
    )


# ---------------------------------------------------------------- a test day


def reference_day(ledger: str, day: int, flows, methods, eta_ppm: int, slot_s: int, no_leaf: Iterable[str] = ()):
    """The settlement of `day`'s `flows` by the reference (gridmint/storage_green.py) on a fresh battery."""
    battery = G.GreenBattery(eta_ppm)
    results = [battery.settle(s, flows[s], methods) for s in sorted(flows)]
    return settlement(ledger, day, results, eta_ppm, slot_s, no_leaf)


def slot(day: int, i: int, slot_s: int = 1_800) -> int:
    """The absolute number of the day's i-th slot."""
    return day * (DAY_S // slot_s) + i


def day_flows(day, gens, members, charge=(3_000, 1_000), draw=(2_000, 900)):
    """Generators charge at noon (slots 24, 25), members draw in the evening (slots 40, 41)."""
    g1, g2 = gens
    a, b = members
    return {
        slot(day, 24): {g1.address: G.Flow(generated_wh=5_000, exported_wh=charge[0]),
                        g2.address: G.Flow(generated_wh=charge[1], exported_wh=charge[1] + 500)},
        slot(day, 25): {g1.address: G.Flow(generated_wh=4_000, exported_wh=charge[0])},
        slot(day, 40): {a.address: G.Flow(imported_wh=draw[0]), b.address: G.Flow(imported_wh=draw[1])},
        slot(day, 41): {a.address: G.Flow(imported_wh=draw[0])},
    }


def settle(ledger, settler, s):
    if s.takes:
        ledger.record_charges(s.day, s.takes, sender=settler)
    ledger.settle_day(*s.settle_args(), sender=settler)
    return ledger.get_logs()


