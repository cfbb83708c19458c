"""The simulator reads real inputs (DWD TRY through pvlib, BDEW H25/G25 through demandlib)."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from oracle.sources.simulator import (
    Simulator,
    Site,
    SiteSpec,
    load_w,
    pv_w_per_kwp,
    pv_year_w_per_kwp,
    read_try,
)

CEST = timezone(timedelta(hours=2))


def test_try_file_is_the_real_essen_year():
    weather = read_try()
    assert len(weather) == 8760
    # Essen's TRY: ~1,000 kWh/m² global horizontal irradiation per year, mean air temperature ~10 °C
    assert 900 < weather["ghi"].sum() / 1000 < 1150
    assert 8 < weather["temp_air"].mean() < 12


def test_pv_yield_is_plausible_for_the_ruhr_area():
    year = pv_year_w_per_kwp()
    # specific yield of a south-facing 35° array in North Rhine-Westphalia: 750–1,000 kWh/kWp
    assert 750 < year.sum() / 1000 < 1000
    assert year.max() < 1000  # never above the inverter's AC rating per kWp
    noon_june = pv_w_per_kwp(pd.DatetimeIndex([datetime(2026, 6, 15, 13, 30, tzinfo=CEST)]))[0]
    midnight = pv_w_per_kwp(pd.DatetimeIndex([datetime(2026, 6, 15, 0, 30, tzinfo=CEST)]))[0]
    assert midnight == 0
    assert noon_june > 0


def test_household_load_follows_h25_scaling():
    day = pd.date_range("2026-03-10 00:00", periods=96, freq="15min", tz="Europe/Berlin")
    watts = load_w("H25", 3_500, day)
    kwh_day = watts.sum() * 0.25 / 1000
    # 3,500 kWh a year is ~9.6 kWh a day on average; a March weekday is near it
    assert 7 < kwh_day < 12
    assert watts.min() > 0
    assert np.argmax(watts) > 24  # the peak is not in the night
    with pytest.raises(ValueError):
        load_w("X99", 1, day)


def test_site_battery_absorbs_surplus_then_exports():
    site = Site(SiteSpec(pv_kwp=5, battery_kwh=1))
    # one hour at 3 kW PV, 1 kW load: 2 kWh surplus, 1 kWh fills the battery, 1 kWh exported
    assert site.step(3000, 1000, 3600) == pytest.approx((3000, 1000, 1000, 0))
    # then 0 PV, 1.5 kW load for an hour: the battery covers 1 kWh, 0.5 kWh imported
    assert site.step(0, 1500, 3600) == pytest.approx((0, 1500, 0, 500))
    assert site.counters() == (3000, 2500, 1000, 500)


def test_simulator_counters_never_fall_and_balance():
    sites = {
        "pv": SiteSpec(pv_kwp=8, annual_kwh=4_500, battery_kwh=10),
        "home": SiteSpec(annual_kwh=3_000),
        "school": SiteSpec(pv_kwp=40, annual_kwh=60_000, profile="G25"),
    }
    start = datetime(2026, 6, 15, tzinfo=CEST)
    sim = Simulator(sites, start)
    previous = sim.counters()
    for slot in range(1, 49):
        now = sim.advance(start + timedelta(minutes=30 * slot))
        for meter, counters in now.items():
            assert all(a >= b for a, b in zip(counters, previous[meter]))
        previous = now
    gen, cons, exp, imp = previous["home"]
    assert gen == exp == 0 and imp == cons > 0
    gen, cons, exp, imp = previous["pv"]
    assert gen > cons  # an 8 kWp roof in mid-June out-produces a 4,500 kWh household
    # energy balance: generation + import = load + export + what the home battery holds (±4 Wh flooring)
    stored = sim.sites["pv"].soc_wh
    assert abs(gen + imp - cons - exp - stored) <= 4
    with pytest.raises(ValueError):
        sim.advance(start)
