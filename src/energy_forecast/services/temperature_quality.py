"""Data-quality report on a site's stored temperature: coverage, gaps, bounds, flat lines, and the
mean absolute difference to a weather provider when one answers.

The window is the last ``days`` days ending at the site's last stored hour (or at ``end``), not at
the wall clock: an archive imported from 2019 is judged on its own last month, and how stale it is
is reported separately (``hours_since_last``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_forecast.domain.series import to_utc
from energy_forecast.errors import NotFoundError
from energy_forecast.features.grid import HOUR, hourly_index, on_grid
from energy_forecast.services.weather import most_useful_failure
from energy_forecast.storage.base import SeriesStore
from energy_forecast.weather.fallback import FallbackChain

# Outside the surface-air records (-89.2 °C, +56.7 °C) with a margin: a unit or sensor error.
BOUNDS_C = (-90.0, 60.0)
FLAT_HOURS = 6
MAX_LISTED = 50


@dataclass(frozen=True)
class Stretch:
    """Hours ``start <= t < end``; ``value`` for flat lines."""

    start: pd.Timestamp
    end: pd.Timestamp
    hours: int
    value: float | None = None


@dataclass
class TemperatureReport:
    site_id: str
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    expected_hours: int
    observed_hours: int
    gaps: list[Stretch]
    out_of_bounds: list[tuple[pd.Timestamp, float]]
    flatlines: list[Stretch]
    last_observation: pd.Timestamp | None
    hours_since_last: int | None
    comparison: dict[str, object] = field(default_factory=dict)

    @property
    def coverage_percent(self) -> float:
        return round(100.0 * self.observed_hours / self.expected_hours, 3) if self.expected_hours else 0.0

    @property
    def gap_hours(self) -> int:
        return self.expected_hours - self.observed_hours

    @property
    def longest_gap(self) -> Stretch | None:
        return max(self.gaps, key=lambda g: g.hours, default=None)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(first position, length)`` of each run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def quality_report(
    site_id: str,
    temperature: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    now: pd.Timestamp,
    flat_hours: int = FLAT_HOURS,
) -> TemperatureReport:
    """Coverage, gaps, out-of-bounds values and flat lines of ``temperature`` on ``[start, end)``."""
    grid = hourly_index(start, end - HOUR) if end > start else hourly_index(start, start)[:0]
    values = on_grid(temperature, grid)
    present = np.isfinite(values)
    gaps = [Stretch(grid[i], grid[i] + n * HOUR, n) for i, n in _runs(~present)]
    low, high = BOUNDS_C
    bad = present & ((values < low) | (values > high))
    # A flat line of k hours is k - 1 consecutive zero steps between present values.
    same = present[1:] & present[:-1] & (np.diff(values) == 0)
    flat = [
        Stretch(grid[i], grid[i] + (n + 1) * HOUR, n + 1, float(values[i]))
        for i, n in _runs(same)
        if n + 1 >= flat_hours
    ]
    last = temperature.index[-1] if len(temperature) else None
    return TemperatureReport(
        site_id=site_id,
        window_start=grid[0] if len(grid) else start,
        window_end=end,
        expected_hours=len(grid),
        observed_hours=int(present.sum()),
        gaps=gaps,
        out_of_bounds=[(grid[i], float(values[i])) for i in np.flatnonzero(bad)[:MAX_LISTED]],
        flatlines=flat,
        last_observation=last,
        hours_since_last=None if last is None else max(int((to_utc(now) - last) / HOUR), 0),
    )


def validate_temperature(
    store: SeriesStore,
    chain: FallbackChain,
    *,
    days: int,
    now: pd.Timestamp,
    site_id: str | None = None,
    end: pd.Timestamp | None = None,
) -> list[TemperatureReport]:
    """One report per site with stored temperature (or the named site), newest ``days`` days each.

    Raises:
        NotFoundError: the named site has no stored temperature and is not registered.
    """
    stats = store.temperature_stats()
    if site_id is not None:
        if site_id not in stats and store.get_site(site_id) is None:
            raise NotFoundError(
                f"site {site_id!r} has no stored temperature and is not registered; import temperatures "
                "or register it with POST /location/"
            )
        ids = [site_id]
    else:
        ids = sorted(stats)
    reports = []
    for sid in ids:
        stat = stats.get(sid)
        stop = to_utc(end).floor("h") if end is not None else None
        if stop is None:
            stop = stat.last + HOUR if stat and stat.last is not None else to_utc(now).floor("h")
        start = stop - pd.Timedelta(days=days)
        stored = store.read_temperature(sid, start, stop)
        report = quality_report(sid, stored, start, stop, now=now)
        report.last_observation = stat.last if stat else None
        report.hours_since_last = (
            None if stat is None or stat.last is None else max(int((to_utc(now) - stat.last) / HOUR), 0)
        )
        report.comparison = _compare(store, chain, sid, stored, start, stop)
        reports.append(report)
    return reports


def _compare(
    store: SeriesStore,
    chain: FallbackChain,
    site_id: str,
    stored: pd.Series,
    start: pd.Timestamp,
    stop: pd.Timestamp,
) -> dict[str, object]:
    """Mean absolute difference, stored vs provider, over the hours both have."""
    if not chain.providers:
        return {"available": False, "reason": "no weather provider is configured (EF_WEATHER__PROVIDERS)"}
    site = store.get_site(site_id)
    if site is None or not site.has_coordinates:
        return {
            "available": False,
            "reason": f"site {site_id!r} has no coordinates; register it with POST /location/ to compare",
        }
    if stored.empty:
        return {"available": False, "reason": "no stored values in the window"}
    grid = hourly_index(start, stop - HOUR)
    fetched = chain.fetch(site, grid)
    ours = on_grid(stored, grid)
    both = np.isfinite(ours) & ~fetched.missing
    if not both.any():
        reason = most_useful_failure(fetched.failures).message if fetched.failures else "no overlapping hours"
        return {"available": False, "reason": reason}
    diff = np.abs(ours[both] - fetched.values[both])
    return {
        "available": True,
        "providers": sorted(set(fetched.sources[both].astype(str))),
        "compared_hours": int(both.sum()),
        "mean_absolute_difference_c": round(float(diff.mean()), 3),
        "max_absolute_difference_c": round(float(diff.max()), 3),
    }
