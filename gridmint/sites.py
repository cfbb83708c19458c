"""A member's site as the simulator and the demo community describe it (no chain, no oracle)."""

from __future__ import annotations

from dataclasses import dataclass


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
