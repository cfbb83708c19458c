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


def test_sim_clock__past_day_accelerated__never_ahead_of_the_wall_clock():
    from oracle.sources.simulator import SimClock

    wall0 = datetime(2026, 6, 16, 12, 0, tzinfo=timezone.utc).timestamp()
    clock = SimClock(datetime(2026, 6, 15, tzinfo=timezone.utc), speed=60, wall0_s=wall0)
    assert clock.now(wall0) == datetime(2026, 6, 15, tzinfo=timezone.utc)
    # 24 wall-clock minutes are a simulated day
    assert clock.now(wall0 + 24 * 60) == datetime(2026, 6, 16, tzinfo=timezone.utc)
    # 36 wall minutes: 36 simulated hours, the present is not reached yet; 40: it is, then real time
    assert clock.now(wall0 + 36 * 60) == datetime(2026, 6, 16, 12, 0, tzinfo=timezone.utc)
    assert clock.now(wall0 + 40 * 60) == datetime.fromtimestamp(wall0 + 40 * 60, timezone.utc)
    with pytest.raises(ValueError):
        SimClock(datetime(2026, 6, 15), speed=60)


class _Sink:
    def __init__(self, last=None):
        self.samples, self._last = [], last

    def ingest(self, meter, values, source, timestamp=None, input_id=None):
        self.samples.append((meter, timestamp, values))
        return True

    def refuse(self, *args, **kw):
        raise AssertionError("nothing to refuse")

    def last(self, meter):
        return self._last


def test_simulator_source__start_and_speed__a_june_day_of_readings_in_24_wall_minutes():
    import threading
    from types import SimpleNamespace

    from oracle.sources.simulator import SimulatorSource

    meter = SimpleNamespace(address="0x" + "aa" * 20, pv_kwp=10, annual_kwh=4_500, profile="H25", battery_kwh=0)
    sink = _Sink()
    wall0 = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc).timestamp()
    source = SimulatorSource([meter], sink, 60, threading.Event(), datetime(2026, 6, 15, tzinfo=CEST), 60, wall0)
    for minute in range(1, 25):  # what 24 wall-clock minutes of 60 s ticks do
        source.tick(source.clock.now(wall0 + 60 * minute))
    stamps = [ts for _m, ts, _v in sink.samples]
    assert stamps[0] == int(datetime(2026, 6, 15, 1, 0, tzinfo=CEST).timestamp())  # one simulated hour a tick
    assert stamps[-1] == int(datetime(2026, 6, 16, 0, 0, tzinfo=CEST).timestamp())
    assert all(b - a == 3_600 for a, b in zip(stamps, stamps[1:]))
    generated = [v["generated_wh"] for _m, _ts, v in sink.samples]
    # a 10 kWp roof in June: nothing at night, 30-80 kWh over the day
    assert generated[3] == 0 and 30_000 < generated[-1] < 80_000
    assert generated == sorted(generated)


def test_simulator_source__starts_after_the_meters_last_reading():
    import threading
    from types import SimpleNamespace

    from oracle.eip712 import Reading
    from oracle.sources.simulator import SimulatorSource

    meter = SimpleNamespace(address="0x" + "aa" * 20, pv_kwp=5, annual_kwh=3_000, profile="H25", battery_kwh=0)
    last = Reading(meter.address, int(datetime(2026, 6, 15, 9, 0, tzinfo=timezone.utc).timestamp()), 7, 8, 9, 10)
    wall0 = datetime(2026, 12, 5, tzinfo=timezone.utc).timestamp()
    source = SimulatorSource([meter], _Sink(last), 60, threading.Event(), datetime(2026, 6, 15, tzinfo=timezone.utc),
                             60, wall0)
    # a restart (or a meter commissioned later than `start`) resumes at its last reading, from its counters
    assert source.clock.now(wall0) == datetime(2026, 6, 15, 9, 0, tzinfo=timezone.utc)
    assert source.sim.counters()[meter.address] == (7, 8, 9, 10)
