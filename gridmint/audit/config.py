"""The audit's assumptions, with documented defaults (docs/audit.md explains each).

Defaults describe the demo community: Essen (the DWD test reference year station the simulator's
weather comes from), south-facing panels at 35 degrees. A TOML file given with `--config` overrides
any field; `[peak_w]` and `[storage_wh]` tables name per-meter values by meter address.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


class ConfigError(ValueError):
    """The audit config file is unreadable or names unknown keys (one line for the user)."""


@dataclass(frozen=True)
class AuditConfig:
    # where the community's panels are and how they face
    latitude_deg: float = 51.4
    longitude_deg: float = 6.967
    altitude_m: float = 152.0
    tilt_deg: float = 35.0
    azimuth_deg: float = 180.0  # 180 = south
    # 30-minute slots, as smart meters report (DESIGN.md: SLOT_S)
    slot_s: int = 1_800
    # a slot's generation may exceed reference power x clear-sky plane-of-array energy by this
    # fraction before it is flagged: cloud-edge enhancement, albedo and model error stay below it
    # in 30-minute means
    clear_sky_margin: float = 0.25
    # absolute slack per slot on every energy bound (register resolution, rounding), Wh
    tolerance_wh: int = 20
    # more slack on the clear-sky and night bounds per kW of the meter's power, Wh per slot: panels
    # produce a little from diffuse light in twilight, before sunrise and after sunset
    twilight_wh_per_kw: float = 2.0
    # the sun counts as down in a slot when its apparent elevation stays below this all slot long:
    # the end of civil twilight (-6 degrees); above it diffuse light can still reach the panels
    night_elevation_deg: float = -6.0
    # specific yield (kWh per kW of reference power) above this many times the neighbours' median
    # in the same slot is flagged ...
    neighbour_factor: float = 2.0
    # ... with the median raised to at least this (kWh per kW per slot: 0.1 = 20 % of full sun
    # for 30 minutes), so dim slots where everything is small do not flag
    neighbour_floor_kwh_per_kw: float = 0.1
    # fewest other solar meters reporting the slot for a neighbour comparison
    min_neighbours: int = 3
    # a reading relayed more than this long after it was taken (block time - reading time), s
    max_relay_delay_s: int = 6 * 3_600
    # the most plausibility findings kept per meter and check (the count is always complete)
    max_findings_per_meter_check: int = 100
    # meters plotted in the HTML report (flagged ones first)
    max_plots: int = 40
    # declared installed generator power per meter, W (e.g. from a public register such as the
    # Marktstammdatenregister); without it the reference power is estimated (see plausibility.py)
    peak_w: dict[str, int] = field(default_factory=dict)
    # storage a meter's site may export from (a home battery allowed to discharge to the grid), Wh
    storage_wh: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "AuditConfig":
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read the audit config {path}: {e}") from None
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown audit config keys in {path}: {', '.join(sorted(unknown))}")
        for key in ("peak_w", "storage_wh"):
            if key in data:
                data[key] = {k.lower(): int(v) for k, v in data[key].items()}
        try:
            return replace(cls(), **data)
        except TypeError as e:
            raise ConfigError(f"bad audit config {path}: {e}") from None

    def peak_of(self, meter: str) -> int | None:
        return self.peak_w.get(meter.lower())

    def storage_of(self, meter: str) -> int:
        return self.storage_wh.get(meter.lower(), 0)
