"""Generation that cannot be real, per meter and 30-minute slot, from `ReadingAccepted` deltas.

No contract rule catches an operator that signs plausible readings for a meter of its own, or a
relayer holding readings back; these checks look at what was reported against the sun:

- `pv.clear-sky`: a slot's generation above reference power x the clear-sky plane-of-array energy
  of the slot or either neighbour slot (pvlib's Ineichen model at the configured location, tilt and
  azimuth) x (1 + margin);
- `pv.night`: generation in a slot in which the sun stays below the end of civil twilight;
- `pv.neighbours`: a specific yield (kWh per kW of reference power) above `neighbour_factor` x the
  median of the other solar meters in the same slot: every panel of a community sees the same sun;
- `pv.no-generator`: generation reported by a meter registered without a generator (method 0);
- `export.above-generation`: exports above the slot's generation plus the site's declared storage;
- `relay.late`: a reading credited more than `max_relay_delay_s` after it was taken.

Reference power: a meter's declared installed power (`peak_w` in the config) when given; otherwise
the smaller of its rated power on chain (the larger of generator and grid connection, so often far
above the panels) and an estimate from its own history: the highest ratio of its generation to the
clear-sky energy per kW over the bright slots (clear-sky at least half its maximum). A meter that
reports 3x its neighbours all day cannot hide behind the estimate, which is capped at its rated
power; one that reports a clear-sky profile through a cloudy afternoon keeps a normal estimate from
its bright morning and stands out against its neighbours.

A reading spanning several slots (the first after commissioning, a gap) is spread over them in
proportion to their clear-sky energy, so generation is placed where the sun shone; with no sun in
its whole interval it lands in the dark slots and is flagged there.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from .config import AuditConfig
from .findings import PLAUSIBILITY, Finding

REGISTRY = "MeterRegistry"
SOLAR = 1


@dataclass
class _Series:
    meter: object  # recompute.Meter (the newest key's record)
    slots: array = field(default_factory=lambda: array("i"))
    gen: array = field(default_factory=lambda: array("i"))
    exp: array = field(default_factory=lambda: array("i"))


@dataclass
class MeterProfile:
    """One meter's day for the report: per slot, Wh."""

    meter: str
    name: str
    day_start: int  # s since the epoch (UTC midnight)
    generated_wh: list[float]
    clear_sky_wh: list[float]  # the clear-sky bound (margin included)
    neighbours_wh: list[float]  # the neighbours' median specific yield x this meter's reference power
    reference_w: float
    findings: int
    reference_clear_sky_wh: list[float]  # clear-sky energy of the reference power (no margin)


class Plausibility:
    def __init__(self, config: AuditConfig = AuditConfig()):
        self.config = config
        self.series: dict[str, _Series] = {}
        self._long: list[tuple] = []
        self.findings: list[Finding] = []
        self.counts: dict[tuple[str, str], int] = {}  # (meter, check) -> findings, complete
        self.profiles: dict[str, MeterProfile] = {}
        self.readings = 0
        self.seconds = 0.0  # time spent in analyse()

    # ---- fed by Ledger(on_reading=...)
    def on_reading(self, meter, prev_ts: int, ts: int, block_ts: int, dg: int, dc: int, de: int, di: int) -> None:
        self.readings += 1
        s = self.series.get(meter.root)
        if s is None:
            s = self.series[meter.root] = _Series(meter)
        s.meter = meter
        slot_s = self.config.slot_s
        a = prev_ts // slot_s
        if a == (ts - 1) // slot_s:
            s.slots.append(a)
            s.gen.append(dg)
            s.exp.append(de)
        else:
            self._long.append((meter.root, prev_ts, ts, dg, de))
        delay = block_ts - ts
        if delay > self.config.max_relay_delay_s:
            self._add("relay.late", meter.root, ts - ts % slot_s, delay, self.config.max_relay_delay_s, "s",
                      "credited long after it was taken")

    def _add(self, check: str, meter: str, slot: int, value, bound, unit: str, detail: str) -> None:
        key = (meter, check)
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        if n < self.config.max_findings_per_meter_check:
            self.findings.append(Finding(PLAUSIBILITY, check, REGISTRY, meter, None, bound, value, unit, detail, slot))

    # ---- the checks, vectorized over meters x slots
    def analyse(self) -> list[Finding]:
        cfg = self.config
        meters = list(self.series)
        if not any(s.slots for s in self.series.values()) and not self._long:
            return self.findings
        lo = min([min(s.slots) for s in self.series.values() if s.slots] + [p // cfg.slot_s for _, p, *_ in self._long])
        hi = max([max(s.slots) for s in self.series.values() if s.slots] + [(t - 1) // cfg.slot_s for _, _, t, *_ in self._long])
        n_slots = hi - lo + 1
        cs_kwh_per_kw, elevation = clear_sky(cfg, lo, n_slots)
        night = elevation < cfg.night_elevation_deg
        G = np.zeros((len(meters), n_slots), dtype=np.float32)
        E = np.zeros_like(G)
        covered = np.zeros(G.shape, dtype=bool)
        row = {m: i for i, m in enumerate(meters)}
        for m, s in self.series.items():
            if not s.slots:
                continue
            idx = np.frombuffer(s.slots, dtype=np.int32) - lo
            G[row[m]] = np.bincount(idx, weights=np.frombuffer(s.gen, dtype=np.int32), minlength=n_slots)
            E[row[m]] = np.bincount(idx, weights=np.frombuffer(s.exp, dtype=np.int32), minlength=n_slots)
            covered[row[m], idx] = True
        for m, prev_ts, ts, dg, de in self._long:
            a, b = prev_ts // cfg.slot_s, (ts - 1) // cfg.slot_s
            k = np.arange(a, b + 1)
            overlap = np.minimum((k + 1) * cfg.slot_s, ts) - np.maximum(k * cfg.slot_s, prev_ts)
            w = overlap * cs_kwh_per_kw[k - lo]
            if w.sum() <= 0 or dg == 0:
                w = overlap.astype(float)
            w = w / w.sum()
            G[row[m], k - lo] += dg * w
            E[row[m], k - lo] += de * w
            covered[row[m], k - lo] = True
        slot_start = (np.arange(n_slots) + lo) * cfg.slot_s
        tol = cfg.tolerance_wh

        rated_kw = np.array([self.series[m].meter.rated_power_w / 1000 for m in meters])
        declared = np.array([(cfg.peak_of(m) or 0) / 1000 for m in meters])
        method = np.array([self.series[m].meter.method for m in meters])
        bright = cs_kwh_per_kw >= 0.5 * cs_kwh_per_kw.max() if cs_kwh_per_kw.max() > 0 else np.zeros(n_slots, bool)
        est_kw = rated_kw.copy()
        if bright.any():
            ratio = np.where(covered[:, bright], G[:, bright] / (cs_kwh_per_kw[bright] * 1000), 0.0)
            est = ratio.max(axis=1)
            est_kw = np.where(est > 0, np.minimum(est, rated_kw), rated_kw)
        ref_kw = np.where(declared > 0, declared, est_kw)
        bound_kw = np.where(declared > 0, declared, rated_kw)

        # clear sky: reference power (declared, else rated) x clear-sky kWh per kW x (1 + margin), the
        # clear-sky energy taken as the highest of the slot and its two neighbours: meter clocks drift
        # (up to the registry's clock skew), and profiles built from hourly data smear dawn and dusk
        cs_window = cs_kwh_per_kw.copy()
        cs_window[1:] = np.maximum(cs_window[1:], cs_kwh_per_kw[:-1])
        cs_window[:-1] = np.maximum(cs_window[:-1], cs_kwh_per_kw[1:])
        tol_m = tol + cfg.twilight_wh_per_kw * bound_kw  # per meter, Wh per slot
        clear_wh = bound_kw[:, None] * cs_window[None, :] * 1000 * (1 + cfg.clear_sky_margin) + tol_m[:, None]
        for i, j in zip(*np.nonzero(G > clear_wh)):
            self._add("pv.clear-sky", meters[i], int(slot_start[j]), round(float(G[i, j])), round(float(clear_wh[i, j])),
                      "Wh", "generation above the clear-sky output of the meter's power")
        # night
        dark = G[:, night] > tol_m[:, None]
        night_idx = np.nonzero(night)[0]
        for i, jj in zip(*np.nonzero(dark)):
            j = night_idx[jj]
            self._add("pv.night", meters[i], int(slot_start[j]), round(float(G[i, j])), round(float(tol_m[i])), "Wh",
                      "generation while the sun is below the horizon (past civil twilight)")
        # generation by a meter without a generator
        for i in np.nonzero(method == 0)[0]:
            for j in np.nonzero(G[i] > tol)[0]:
                self._add("pv.no-generator", meters[i], int(slot_start[j]), round(float(G[i, j])), tol, "Wh",
                          "generation reported by a meter registered without a generator")
        # exports above generation + storage
        storage = np.array([cfg.storage_of(m) for m in meters], dtype=np.float32)
        export_bound = G + storage[:, None] + tol
        for i, j in zip(*np.nonzero(E > export_bound)):
            self._add("export.above-generation", meters[i], int(slot_start[j]), round(float(E[i, j])),
                      round(float(export_bound[i, j])), "Wh", "exported more than generated and storable")
        # neighbours: specific yield against the median of the other solar meters in the slot
        solar = np.nonzero((method == SOLAR) & (ref_kw > 0))[0]
        median = np.full(n_slots, np.nan)
        if len(solar) > cfg.min_neighbours:
            Y = np.where(covered[solar], G[solar] / (ref_kw[solar, None] * 1000), np.nan)
            reporting = (~np.isnan(Y)).sum(axis=0)
            with np.errstate(all="ignore"):
                median = np.nanmedian(np.where(reporting > 0, Y, 0.0), axis=0)
            limit = cfg.neighbour_factor * np.maximum(median, cfg.neighbour_floor_kwh_per_kw)
            candidates = (Y > limit) & (reporting - 1 >= cfg.min_neighbours) & ~night
            for r, j in zip(*np.nonzero(candidates)):
                others = np.delete(Y[:, j], r)
                med = float(np.nanmedian(others))
                bound = cfg.neighbour_factor * max(med, cfg.neighbour_floor_kwh_per_kw)
                if Y[r, j] > bound:
                    self._add("pv.neighbours", meters[solar[r]], int(slot_start[j]), round(float(Y[r, j]), 4),
                              round(bound, 4), "kWh/kW",
                              f"specific yield {Y[r, j] / max(med, 1e-9):.1f}x the neighbours' median {med:.4f}")
        self._profiles(meters, G, clear_wh, median, ref_kw, slot_start, lo, cs_kwh_per_kw)
        return self.findings

    def _profiles(self, meters, G, clear_wh, median, ref_kw, slot_start, lo, cs_kwh_per_kw) -> None:
        cfg = self.config
        per_day = 86_400 // cfg.slot_s
        flagged = {m: 0 for m in meters}
        day_hits: dict[tuple[str, int], int] = {}
        for f in self.findings:
            if f.account in flagged and f.slot is not None:
                flagged[f.account] += 1
                key = (f.account, f.slot - f.slot % 86_400)
                day_hits[key] = day_hits.get(key, 0) + 1
        generating = {m for i, m in enumerate(meters) if G[i].any()}
        order = sorted(generating, key=lambda m: (-flagged[m], m))[: cfg.max_plots]
        for m in order:
            i = meters.index(m)
            hits = {d: n for (mm, d), n in day_hits.items() if mm == m}
            if hits:
                day = max(hits, key=lambda d: (hits[d], d))
            else:
                sums = {}
                for j in np.nonzero(G[i])[0]:
                    d = int(slot_start[j]) - int(slot_start[j]) % 86_400
                    sums[d] = sums.get(d, 0) + float(G[i, j])
                day = max(sums, key=sums.get) if sums else int(slot_start[-1]) - int(slot_start[-1]) % 86_400
            j0 = day // cfg.slot_s - lo
            cols = [j for j in range(j0, j0 + per_day)]

            def take(values, j):
                return float(values[j]) if 0 <= j < len(values) and not np.isnan(values[j]) else 0.0

            self.profiles[m] = MeterProfile(
                m, self.series[m].meter.name, day,
                [take(G[i], j) for j in cols],
                [take(clear_wh[i], j) for j in cols],
                [take(median, j) * ref_kw[i] * 1000 for j in cols],
                float(ref_kw[i] * 1000), flagged[m],
                [take(cs_kwh_per_kw, j) * ref_kw[i] * 1000 for j in cols])


def clear_sky(cfg: AuditConfig, first_slot: int, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Per slot: clear-sky plane-of-array energy per kW of panels (kWh/kW) and the sun's highest
    apparent elevation (degrees), from 5-minute samples (pvlib: Ineichen clear sky with the
    Linke turbidity climatology, isotropic transposition)."""
    import pandas as pd
    from pvlib.irradiance import get_total_irradiance
    from pvlib.location import Location

    step_s = 300
    per_slot = cfg.slot_s // step_s
    start = first_slot * cfg.slot_s
    # samples at the middle of each 5-minute step, and the slot edges for the elevation
    mids = pd.to_datetime(start + step_s // 2 + np.arange(n_slots * per_slot) * step_s, unit="s", utc=True)
    edges = pd.to_datetime(start + np.arange(n_slots + 1) * cfg.slot_s, unit="s", utc=True)
    loc = Location(cfg.latitude_deg, cfg.longitude_deg, "UTC", cfg.altitude_m)
    sun = loc.get_solarposition(mids)
    sky = loc.get_clearsky(mids, model="ineichen", solar_position=sun)
    poa = get_total_irradiance(cfg.tilt_deg, cfg.azimuth_deg, sun["apparent_zenith"], sun["azimuth"],
                               sky["dni"], sky["ghi"], sky["dhi"])["poa_global"].fillna(0.0).clip(lower=0.0)
    # W/m2 at STC 1000 W/m2 = W per W of panels; mean over the slot x slot hours -> kWh per kW
    kwh_per_kw = poa.to_numpy().reshape(n_slots, per_slot).mean(axis=1) / 1000 * cfg.slot_s / 3600
    elev_mid = sun["apparent_elevation"].to_numpy().reshape(n_slots, per_slot).max(axis=1)
    elev_edge = loc.get_solarposition(edges)["apparent_elevation"].to_numpy()
    elevation = np.maximum(elev_mid, np.maximum(elev_edge[:-1], elev_edge[1:]))
    return kwh_per_kw, elevation
