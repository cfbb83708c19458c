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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

TRY_REGION = 5  # Essen
ESSEN = {"latitude": 51.4, "longitude": 6.967, "altitude": 152, "tz": "Etc/GMT-1"}  # TRY hours are MEZ
LOAD_PROFILES = ("H25", "G25")


@dataclass(frozen=True)
class SiteSpec:
    """What a member's site has: PV peak power, yearly consumption, profile, home battery."""

    pv_kwp: float = 0.0
    annual_kwh: float = 3_500.0
    profile: str = "H25"
    battery_kwh: float = 0.0
    initial_wh: tuple[int, int, int, int] = (0, 0, 0, 0)

    def rated_power_w(self, grid_connection_w: int = 0) -> int:
        """The most power through any register: the larger of the generator and the grid connection."""
        return int(max(self.pv_kwp * 1000, grid_connection_w, 1))


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
