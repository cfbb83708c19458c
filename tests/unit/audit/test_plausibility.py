"""Plausibility: the demo community's 20 real-profile members (DWD TRY Essen + BDEW profiles, through
the oracle's simulator) on a day with a bright morning and a cloudy afternoon pass; a meter reporting
PV at night, one reporting three times its neighbours' yield and an operator-owned ghost reporting a
clear-sky profile through the clouds are flagged, each with meter, slot, value and bound."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gridmint.audit.config import AuditConfig
from gridmint.audit.plausibility import Plausibility, clear_sky
from gridmint.audit.recompute import Meter
from gridmint.community import COMMUNITY
from oracle.sources.simulator import SiteSpec, Simulator

DAY = datetime(2026, 6, 30, tzinfo=timezone.utc)  # TRY Essen: bright morning, clouds from noon
SLOT = 1_800
NIGHT, TRIPLE, GHOST = "0xn1ght", "0x3x", "0xgh0st"


def _meter(address, method, rated_w, name="m"):
    return Meter(address, "0xowner", method, rated_w, name, address, int(DAY.timestamp()), [0, 0, 0, 0], True)


@pytest.fixture(scope="module")
def community_day():
    """Per meter: (Meter, [(slot end ts, gen, cons, exp, imp) deltas]) for the 20 members + 3 fakes."""
    sites = {f"0xm{i:02d}": m.site for i, m in enumerate(COMMUNITY)}
    sites[TRIPLE] = SiteSpec(pv_kwp=8.0, annual_kwh=3_000, profile="H25")
    sim = Simulator(sites, DAY)
    prev = sim.counters()
    rows: dict[str, list] = {m: [] for m in sites}
    for k in range(1, 49):
        now = sim.advance(DAY + timedelta(seconds=k * SLOT))
        for m in sites:
            rows[m].append((int(DAY.timestamp()) + k * SLOT, *[a - b for a, b in zip(now[m], prev[m])]))
        prev = now
    meters = {f"0xm{i:02d}": _meter(f"0xm{i:02d}", m.method, m.rated_power_w, m.name) for i, m in enumerate(COMMUNITY)}
    # three times what its 8 kWp panels made, registered at 8 kW (generator = grid connection)
    meters[TRIPLE] = _meter(TRIPLE, 1, 8_000, "triple")
    rows[TRIPLE] = [(t, 3 * g, c, 3 * g, 0) for t, g, c, e, i in rows[TRIPLE]]
    # PV at night: 1.5 kWh in each slot from 22:00 to 02:00 UTC
    meters[NIGHT] = _meter(NIGHT, 1, 10_000, "night")
    rows[NIGHT] = [(t, 1_500 if (t - SLOT) % 86_400 >= 22 * 3_600 or t % 86_400 <= 2 * 3_600 and t % 86_400 else 0,
                    0, 0, 0) for t, *_ in rows[TRIPLE]]
    # the ghost: 20 kWp of clear-sky output (x 0.85 losses) all day, through the afternoon's clouds
    cs, _ = clear_sky(AuditConfig(), int(DAY.timestamp()) // SLOT, 48)
    meters[GHOST] = _meter(GHOST, 1, 30_000, "ghost")
    rows[GHOST] = [(t, int(20 * 0.85 * cs[k] * 1000), 0, 0, 0) for k, (t, *_) in enumerate(rows[TRIPLE])]
    return meters, rows


def _run(meters, rows, delay_s=60, config=AuditConfig()):
    p = Plausibility(config)
    for m, series in rows.items():
        prev = int(DAY.timestamp())
        for t, g, c, e, i in series:
            p.on_reading(meters[m], prev, t, t + delay_s, g, c, e, i)
            prev = t
    p.analyse()
    return p


def test_real_profile_members__not_flagged__fakes_flagged(community_day):
    meters, rows = community_day
    p = _run(meters, rows)
    flagged = {m for m, _ in p.counts}
    real = {m for m in meters if m.startswith("0xm")}
    assert flagged & real == set(), [(f.account, f.check, f.value if hasattr(f, "value") else f.actual) for f in
                                     p.findings if f.account in real][:5]
    checks = {(m, c) for m, c in p.counts}
    assert (NIGHT, "pv.night") in checks
    assert (TRIPLE, "pv.neighbours") in checks
    assert (TRIPLE, "pv.clear-sky") in checks
    assert (GHOST, "pv.neighbours") in checks
    # the ghost is flagged only in the cloudy afternoon: its morning matches its neighbours'
    ghost_hours = {(f.slot % 86_400) // 3_600 for f in p.findings if f.account == GHOST}
    assert ghost_hours and min(ghost_hours) >= 10
    assert (GHOST, "pv.clear-sky") not in checks and (GHOST, "pv.night") not in checks
    # each finding names meter, slot, value and bound
    night = next(f for f in p.findings if f.account == NIGHT and f.check == "pv.night")
    cfg = AuditConfig()
    assert night.actual == 1_500 and night.unit == "Wh"
    assert night.expected == round(cfg.tolerance_wh + cfg.twilight_wh_per_kw * 10)  # 10 kW rated
    assert night.slot % SLOT == 0
    # the report's profiles: the flagged meters first, each with a whole day of slots
    assert list(p.profiles)[:3] and len(p.profiles[GHOST].generated_wh) == 48


def test_late_relay__flagged_with_its_delay(community_day):
    meters, rows = community_day
    p = _run({"0xm00": meters["0xm00"]}, {"0xm00": rows["0xm00"][:4]}, delay_s=8 * 3_600)
    late = [f for f in p.findings if f.check == "relay.late"]
    assert len(late) == 4 and late[0].actual == 8 * 3_600 and late[0].expected == 6 * 3_600


def test_export_above_generation__flagged_unless_storage_declared(community_day):
    meters, _ = community_day
    m = _meter("0xexp", 0, 30_000)
    t0 = int(DAY.timestamp()) + 12 * 3_600
    series = {"0xexp": [(t0 + SLOT, 0, 0, 2_000, 0)]}
    p = Plausibility(AuditConfig())
    p.on_reading(m, t0, t0 + SLOT, t0 + SLOT, 0, 0, 2_000, 0)
    p.analyse()
    assert ("0xexp", "export.above-generation") in p.counts
    cfg = AuditConfig(storage_wh={"0xexp": 5_000})
    p = Plausibility(cfg)
    p.on_reading(m, t0, t0 + SLOT, t0 + SLOT, 0, 0, 2_000, 0)
    p.analyse()
    assert ("0xexp", "export.above-generation") not in p.counts
    assert series


def test_reading_over_many_slots__spread_by_clear_sky__not_night():
    """The first reading after commissioning covers a night and a morning: its generation is put
    where the sun shone, not spread evenly into the dark."""
    m = _meter("0xlong", 1, 10_000)
    t0 = int(DAY.timestamp())  # midnight UTC
    p = Plausibility(AuditConfig())
    p.on_reading(m, t0, t0 + 10 * 3_600, t0 + 10 * 3_600, 8_000, 0, 0, 0)
    p.analyse()
    assert ("0xlong", "pv.night") not in p.counts
    p = Plausibility(AuditConfig())
    p.on_reading(m, t0, t0 + 2 * 3_600, t0 + 2 * 3_600, 8_000, 0, 0, 0)  # all of it before dawn
    p.analyse()
    assert ("0xlong", "pv.night") in p.counts


def test_clear_sky__day_and_night_in_essen():
    cs, elev = clear_sky(AuditConfig(), int(DAY.timestamp()) // SLOT, 48)
    assert elev[0] < 0 and elev[24] > 50  # midnight, ~noon UTC (13:00 local summer time is ~11:00 UTC)
    assert 0.4 < cs.max() < 0.55  # kWh per kW in 30 minutes of full clear sun on a 35 degree roof
    assert np.all(cs[elev < -1] == 0)
