"""The demo community: members of the kinds the sources name, with their meters' ratings."""

from __future__ import annotations

from dataclasses import dataclass

SLOT_S = 1_800  # 30-minute slots, as smart meters report


@dataclass
class Member:
    name: str
    kind: str
    method: int  # 0 none, 1 solar
    rated_power_w: int
    # Wh per 30-minute slot for each of 8 slots 10:00–14:00 on a clear day:
    # (generated, consumed, exported, imported). A fixed sample until the
    # oracle's real-profile simulator (pvlib + BDEW) drives the demo.
    slots: list[tuple[int, int, int, int]]


def _pv_home(peak_wh, load_wh, battery=False):
    shape = [0.62, 0.78, 0.9, 0.97, 1.0, 0.97, 0.9, 0.78]
    rows = []
    for s in shape:
        gen = int(peak_wh * s)
        cons = load_wh
        surplus = gen - cons
        rows.append((gen, cons, max(surplus, 0), max(-surplus, 0) if not battery else 0))
    return rows


COMMUNITY = [
    Member("Berger household", "PV + battery home", 1, 8_000, _pv_home(2_300, 450, battery=True)),
    Member("Okafor household", "PV-only home", 1, 7_000, _pv_home(1_900, 600)),
    Member("Lindqvist flat", "home without PV", 0, 6_000, [(0, 350, 0, 350)] * 8),
    Member("Riverside school", "school", 1, 40_000, _pv_home(13_000, 9_000)),
    Member("Hofmann Tools GmbH", "company", 1, 80_000, _pv_home(25_000, 30_000)),
    Member("Meadow PV plant", "small PV plant", 1, 150_000, _pv_home(60_000, 200)),
]
