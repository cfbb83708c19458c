"""The demo community: ~20 members of the kinds the sources name, as simulated sites.

PV sizes and yearly consumption are typical German values; load profiles are
BDEW's H25 (households) and G25 (commerce: the school and the company).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gridmint.sites import SiteSpec

SLOT_S = 1_800  # 30-minute slots, as smart meters report
BERLIN = ZoneInfo("Europe/Berlin")  # the community's time zone


def next_june_day(after_ts: int) -> datetime:
    """Midnight (Berlin) of the next 15 June after `after_ts`: a long summer day, and chain time only
    moves forward (the demo's day and `make app`'s seeded morning)."""
    now = datetime.fromtimestamp(after_ts, BERLIN)
    year = now.year if now < datetime(now.year, 6, 14, tzinfo=BERLIN) else now.year + 1
    return datetime(year, 6, 15, tzinfo=BERLIN)


@dataclass(frozen=True)
class Member:
    name: str
    kind: str
    method: int  # 0 none, 1 solar
    site: SiteSpec
    grid_connection_w: int  # the site's grid connection rating

    @property
    def rated_power_w(self) -> int:
        return self.site.rated_power_w(self.grid_connection_w)


def _home(name, kind, pv=0.0, kwh=3_500, battery=0.0):
    return Member(name, kind, 1 if pv else 0, SiteSpec(pv_kwp=pv, annual_kwh=kwh, profile="H25", battery_kwh=battery), 30_000)


COMMUNITY = [
    _home("Berger household", "PV + battery home", 9.8, 4_800, 10),
    _home("Nowak household", "PV + battery home", 7.5, 3_900, 7.5),
    _home("Yilmaz household", "PV + battery home", 11.0, 5_600, 12),
    _home("Schulte household", "PV + battery home", 6.2, 3_200, 5),
    _home("Okafor household", "PV-only home", 8.1, 4_200),
    _home("Fischer household", "PV-only home", 5.4, 2_900),
    _home("Dimitriou household", "PV-only home", 9.9, 5_100),
    _home("Wagner household", "PV-only home", 4.2, 2_300),
    _home("Kowalski household", "PV-only home", 6.6, 3_600),
    _home("Lindqvist flat", "home without PV", 0, 2_100),
    _home("Meyer flat", "home without PV", 0, 1_800),
    _home("Rossi household", "home without PV", 0, 3_700),
    _home("Becker household", "home without PV", 0, 4_400),
    _home("Hoang flat", "home without PV", 0, 1_500),
    _home("Klein household", "home without PV", 0, 3_100),
    _home("Ahmed household", "home without PV", 0, 2_700),
    Member("Riverside school", "school", 1, SiteSpec(pv_kwp=60, annual_kwh=95_000, profile="G25"), 100_000),
    Member("Hofmann Tools GmbH", "company", 1, SiteSpec(pv_kwp=30, annual_kwh=260_000, profile="G25"), 250_000),
    Member("Meadow PV plant", "small PV plant", 1, SiteSpec(pv_kwp=250, annual_kwh=0, profile="G25"), 250_000),
    Member("St. Anna care home", "company", 0, SiteSpec(pv_kwp=0, annual_kwh=120_000, profile="G25"), 150_000),
]


# ---------------------------------------------------------------- how the simulated members trade
# One place for the rules the demo (scripts/demo.py) and `make app`'s seed (tools/app_seed.py) follow
# each slot; prices in quote base units per kWh, amounts in Wh.

ASK_MIN_STORED_WH = 2_000  # a member with at least this much stored WATT offers half of it
BID_MIN_IMPORT_WH = 500  # a member that imported at least this much last slot bids for it
ORDER_STEP_WH = 100  # bids are whole multiples of this


def _in_band(floor: int, ceiling: int, tick: int, percent: int) -> int:
    """`percent` of the way from the floor (feed-in) to the ceiling (retail), down to the tick."""
    return (floor + (ceiling - floor) * percent // 100) // tick * tick


def ask(stored_wh: int, member_index: int, floor: int, ceiling: int, tick: int) -> tuple[int, int] | None:
    """(price, Wh) of the ask a seller rests: half of what it stores, at 40-56 % of the band (by member,
    so the book has levels), or None when it stores too little to offer."""
    if stored_wh < ASK_MIN_STORED_WH:
        return None
    return _in_band(floor, ceiling, tick, 40 + 4 * (member_index % 5)), stored_wh // 2


def bid(imported_wh: int, floor: int, ceiling: int, tick: int) -> tuple[int, int] | None:
    """(price, Wh) of the immediate-or-cancel bid of a member that imported `imported_wh` last slot:
    at 70 % of the band, for what it imported in whole steps; None when it imported too little."""
    if imported_wh < BID_MIN_IMPORT_WH:
        return None
    return _in_band(floor, ceiling, tick, 70), imported_wh // ORDER_STEP_WH * ORDER_STEP_WH

