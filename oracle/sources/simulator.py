"""A meter simulator driven by real inputs, not made-up curves.

- PV: the German Weather Service's test reference year (TRY 2010, region 5
  "Niederrheinisch-westfälische Bucht", station Essen) that ships inside
  demandlib: hourly direct and diffuse horizontal irradiance, air temperature
  and wind. pvlib turns it into AC power with a ModelChain (PVWatts DC and
  inverter models, SAPM cell temperature) for a south-facing 35° array.
- Load: BDEW's 2025 standard load profiles from demandlib: H25 (households,
  with its dynamisation over the year) and G25 (commerce: the school and the
  company).

A `Site` turns power into the four cumulative meter registers: generation and
load are metered; a home battery, if any, absorbs surplus and covers deficit
first; what is left is exported into or imported from the community battery.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from gridmint.sites import SiteSpec

from .parsers import REGISTERS

TRY_REGION = 5  # Essen
ESSEN = {"latitude": 51.4, "longitude": 6.967, "altitude": 152, "tz": "Etc/GMT-1"}  # TRY hours are MEZ
LOAD_PROFILES = ("H25", "G25")


def try_weather_file(region: int = TRY_REGION) -> Path:
    import demandlib.vdi

    return Path(demandlib.vdi.__file__).parent / "resources_weather" / f"TRY2010_{region:02d}_Jahr.dat"


@functools.lru_cache(maxsize=4)
def read_try(region: int = TRY_REGION) -> pd.DataFrame:
    """The TRY file as an hourly frame indexed by the middle of each hour (MEZ = UTC+1, year 2010):
    ghi, dhi, temp_air, wind_speed."""
    path = try_weather_file(region)
    lines = path.read_text(encoding="latin-1").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("***")) + 1
    rows = [line.split() for line in lines[start:] if line.strip()]
    data = pd.DataFrame(
        rows,
        columns=["RG", "IS", "MM", "DD", "HH", "N", "WR", "WG", "t", "p", "x", "RF", "W", "B", "D", "IK", "A", "E", "IL"],
    ).astype(float)
    if len(data) != 8760:
        raise ValueError(f"{path.name}: expected 8760 hours, got {len(data)}")
    # HH 1..24 is the hour ending at HH:00 MEZ; its mean value belongs to HH-0.5
    index = pd.date_range("2010-01-01 00:30", periods=8760, freq="h", tz=ESSEN["tz"])
    frame = pd.DataFrame(
        {
            "ghi": (data["B"] + data["D"]).to_numpy(),
            "dhi": data["D"].to_numpy(),
            "temp_air": data["t"].to_numpy(),
            "wind_speed": data["WG"].to_numpy(),
        },
        index=index,
    )
    return frame


@functools.lru_cache(maxsize=4)
def pv_year_w_per_kwp(region: int = TRY_REGION) -> pd.Series:
    """AC power of 1 kWp over the TRY year (W, hourly, mid-hour index) through pvlib's ModelChain."""
    from pvlib.irradiance import dni as dni_from
    from pvlib.location import Location
    from pvlib.modelchain import ModelChain
    from pvlib.pvsystem import PVSystem
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    weather = read_try(region).copy()
    location = Location(ESSEN["latitude"], ESSEN["longitude"], ESSEN["tz"], ESSEN["altitude"], "Essen")
    solpos = location.get_solarposition(weather.index)
    weather["dni"] = dni_from(weather["ghi"], weather["dhi"], solpos["zenith"]).fillna(0.0).clip(lower=0.0)
    system = PVSystem(
        surface_tilt=35,
        surface_azimuth=180,
        module_parameters={"pdc0": 1000.0, "gamma_pdc": -0.004},
        inverter_parameters={"pdc0": 1000.0 / 1.1, "eta_inv_nom": 0.96},
        temperature_model_parameters=TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"],
    )
    chain = ModelChain(system, location, aoi_model="physical", spectral_model="no_loss", losses_model="pvwatts")
    chain.run_model(weather[["ghi", "dni", "dhi", "temp_air", "wind_speed"]])
    return chain.results.ac.fillna(0.0).clip(lower=0.0)


def pv_w_per_kwp(when: pd.DatetimeIndex, region: int = TRY_REGION) -> np.ndarray:
    """PV power per kWp at `when` (tz-aware), read off the TRY year at the same day of year and
    time of day, interpolated linearly between the hourly values."""
    year = pv_year_w_per_kwp(region)
    local = when.tz_convert(ESSEN["tz"])
    # hours since the TRY year's start, folded onto its 8760 hours (Feb 29 reads Mar 1)
    doy = np.minimum(local.dayofyear.to_numpy() - 1, 364)
    hours = doy * 24 + local.hour.to_numpy() + local.minute.to_numpy() / 60 + local.second.to_numpy() / 3600
    grid = np.arange(8760) + 0.5
    return np.interp(hours, grid, year.to_numpy(), period=8760)


@functools.lru_cache(maxsize=64)
def _load_day_kw_per_gwh(profile: str, day: str) -> pd.Series:
    """The BDEW 2025 profile for one calendar day at 15 minutes, in kW per GWh/year."""
    from demandlib import bdew

    if profile not in LOAD_PROFILES:
        raise ValueError(f"unknown load profile {profile!r}; use one of {LOAD_PROFILES}")
    start = pd.Timestamp(day)
    index = pd.date_range(start, periods=96, freq="15min")
    return getattr(bdew, profile)(index)


def load_w(profile: str, annual_kwh: float, when: pd.DatetimeIndex) -> np.ndarray:
    """Load power (W) at `when` (tz-aware) for a site using `annual_kwh` per year.
    The profile is in local time (Europe/Berlin), constant over each 15-minute interval."""
    local = when.tz_convert("Europe/Berlin")
    out = np.empty(len(local))
    for i, ts in enumerate(local):
        day = _load_day_kw_per_gwh(profile, ts.strftime("%Y-%m-%d"))
        quarter = ts.hour * 4 + ts.minute // 15
        out[i] = day.iloc[quarter] * annual_kwh / 1e6 * 1000.0
    return out


@dataclass
class Site:
    """One simulated site: integrates power into the four cumulative registers (Wh)."""

    spec: SiteSpec
    registers: list[float] = field(default_factory=list)
    soc_wh: float = 0.0

    def __post_init__(self):
        if not self.registers:
            self.registers = [float(v) for v in self.spec.initial_wh]

    def step(self, gen_w: float, load_w: float, seconds: float) -> tuple[float, float, float, float]:
        """Advances by `seconds` at constant power; returns this step's (gen, cons, exp, imp) in Wh."""
        gen = max(gen_w, 0.0) * seconds / 3600
        cons = max(load_w, 0.0) * seconds / 3600
        net = gen - cons
        capacity = self.spec.battery_kwh * 1000
        if net > 0 and capacity > 0:
            charge = min(net, capacity - self.soc_wh)
            self.soc_wh += charge
            net -= charge
        elif net < 0 and self.soc_wh > 0:
            discharge = min(-net, self.soc_wh)
            self.soc_wh -= discharge
            net += discharge
        flows = (gen, cons, max(net, 0.0), max(-net, 0.0))
        self.registers = [r + f for r, f in zip(self.registers, flows)]
        return flows

    def counters(self) -> tuple[int, int, int, int]:
        """The registers as a meter shows them: whole Wh, floored (monotonic)."""
        return tuple(int(math.floor(r)) for r in self.registers)  # type: ignore[return-value]


class Simulator:
    """Sites stepped together through time: `advance(to)` integrates every site from the last
    time to `to` (substeps of at most `max_step_s`) and returns their counters."""

    def __init__(self, sites: dict[str, SiteSpec], start: datetime, max_step_s: int = 300, region: int = TRY_REGION):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.sites = {meter: Site(spec) for meter, spec in sites.items()}
        self.now = start
        self.max_step_s = max_step_s
        self.region = region

    def power_at(self, when: datetime) -> dict[str, tuple[float, float]]:
        index = pd.DatetimeIndex([when])
        pv = float(pv_w_per_kwp(index, self.region)[0])
        out = {}
        for meter, site in self.sites.items():
            load = float(load_w(site.spec.profile, site.spec.annual_kwh, index)[0]) if site.spec.annual_kwh else 0.0
            out[meter] = (pv * site.spec.pv_kwp, load)
        return out

    def advance(self, to: datetime) -> dict[str, tuple[int, int, int, int]]:
        if to < self.now:
            raise ValueError("the simulator cannot go back in time")
        while self.now < to:
            step = min(timedelta(seconds=self.max_step_s), to - self.now)
            power = self.power_at(self.now + step / 2)  # midpoint rule
            for meter, site in self.sites.items():
                site.step(*power[meter], step.total_seconds())
            self.now += step
        return {meter: site.counters() for meter, site in self.sites.items()}

    def counters(self) -> dict[str, tuple[int, int, int, int]]:
        return {meter: site.counters() for meter, site in self.sites.items()}


class SimClock:
    """Simulated time: from `start` (tz-aware), `speed` simulated seconds per wall-clock second
    since `wall0_s` (unix s), never ahead of the wall clock: a past day runs accelerated until it
    reaches the present, then in real time (the chain refuses readings from the future)."""

    def __init__(self, start: datetime, speed: float = 1.0, wall0_s: float | None = None):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.start, self.speed = start, speed
        self.wall0_s = time.time() if wall0_s is None else wall0_s

    def now(self, wall_s: float | None = None) -> datetime:
        wall_s = time.time() if wall_s is None else wall_s
        simulated = self.start + timedelta(seconds=(wall_s - self.wall0_s) * self.speed)
        return min(simulated, datetime.fromtimestamp(wall_s, timezone.utc))


class SimulatorSource:
    """Simulated meters on real weather and load profiles, sampled every `interval_s` of wall time.

    `start` (tz-aware; default now) and `speed` (simulated s per wall s) run a past day, accelerated:
    `start` = yesterday 00:00 and `speed` = 60 give a day of readings in 24 minutes. The simulation
    never starts before a meter's last reading (its commissioning values or the last one stored), so
    a restart resumes where it stopped."""

    def __init__(self, meters, sink, interval_s: float, stop: threading.Event,
                 start: datetime | None = None, speed: float = 1.0, wall0_s: float | None = None):
        specs = {}
        latest = None
        for m in meters:
            last = sink.last(m.address)
            initial = tuple(last[2:]) if last else (0, 0, 0, 0)
            specs[m.address] = SiteSpec(m.pv_kwp, m.annual_kwh, m.profile, m.battery_kwh, initial)
            if last is not None:
                latest = max(latest or last.timestamp, last.timestamp)
        wall0_s = time.time() if wall0_s is None else wall0_s
        begin = start or datetime.fromtimestamp(wall0_s, timezone.utc)
        if latest is not None:
            begin = max(begin, datetime.fromtimestamp(latest, timezone.utc))
        self.clock = SimClock(begin, speed, wall0_s)
        self.sim = Simulator(specs, begin)
        self.sink, self.interval_s, self.stop_event = sink, interval_s, stop
        self.thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        pass

    def tick(self, now: datetime | None = None) -> datetime:
        """Advances the sites to `now` (default: the simulated clock's time) and hands their counters
        (Wh) to the sink, stamped with that time; returns it."""
        now = self.clock.now() if now is None else now
        if now <= self.sim.now:
            return now
        for meter, counters in self.sim.advance(now).items():
            self.sink.ingest(meter, dict(zip(REGISTERS, counters)), "simulator", int(now.timestamp()))
        return now

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            self.tick()
