"""Alert rules: when a meter's readings leave its forecast band, or a water meter's night flow climbs.

Pure functions over arrays, no I/O. Each rule *replays* a window of hours (or nights) and returns
the episodes it finds, raised and possibly cleared, so evaluating the same window twice gives
the same answer and the caller only has to compare episodes with what it stored before.

**Band rule.** An hour is *outside* when its reading is above the forecast's upper quantile or
below its lower one (P1 and P99 by default). ``raise_hours`` consecutive outside hours raise an
episode starting at the first of them; it clears at the end of ``clear_hours`` consecutive inside
hours. Hours without a reading or a forecast are skipped: they neither extend nor break a run.
How far outside is the worst excess beyond the nearer bound, in the meter's unit and in band
widths (upper minus lower of that hour), so a 3-band excess means the same on a school and a feeder.
When the band's levels are not among the published quantiles they are extrapolated from the widest
published ones (``band_bounds``), and the alert says so.

**Night-flow rules (water).** A night's *minimum flow* is the smallest reading in the local hours
``start_hour .. end_hour - 1`` (01:00-04:59 by default), when most of those hours have a reading;
at night legitimate use is lowest, so a rise in the minimum is the classic sign of a leak.
*Threshold:* a night minimum above ``threshold`` raises; ``clear_nights`` nights at or below it
clear. *Trend:* when every one of the last ``trend_nights`` minima is above ``(1 + rise_fraction)``
times the baseline (the median minimum of the ``baseline_nights`` nights before them), it raises.
The baseline is frozen while the episode is active (otherwise a lasting leak would become the new
normal after two weeks), and ``clear_nights`` nights back at or below the raise level clear it.
One odd night (a hydrant flushed, a night shift) does not raise; several nights in a row do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.ml.quantiles import frame_levels, quantile_key

BAND = "band"
NIGHT_THRESHOLD = "night_flow"
NIGHT_TREND = "night_trend"
RULES = (BAND, NIGHT_THRESHOLD, NIGHT_TREND)


@dataclass(frozen=True)
class BandRule:
    lower_level: float = 0.01
    upper_level: float = 0.99
    raise_hours: int = 3
    clear_hours: int = 3


@dataclass(frozen=True)
class NightRule:
    start_hour: int = 1
    end_hour: int = 5
    min_hours: int = 3
    threshold: float | None = None
    trend_nights: int = 3
    baseline_nights: int = 14
    rise_fraction: float = 0.2
    clear_nights: int = 2


@dataclass
class Episode:
    """One alert's life inside the replayed window (UTC stamps; ``cleared_at`` None while active)."""

    rule: str
    since: pd.Timestamp
    last_outside: pd.Timestamp
    direction: str = "above"
    worst_value: float = float("nan")
    worst_bound: float = float("nan")
    worst_excess: float = 0.0
    worst_excess_bands: float | None = None
    hours_outside: int = 0
    cleared_at: pd.Timestamp | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    def note(self, stamp: pd.Timestamp, value: float, bound: float, width: float | None) -> None:
        """Count one outside hour (or night) and keep the worst excess."""
        excess = abs(value - bound)
        self.last_outside = stamp
        self.hours_outside += 1
        if excess >= self.worst_excess:
            self.worst_excess = excess
            self.worst_value, self.worst_bound = value, bound
            self.direction = "above" if value > bound else "below"
            self.worst_excess_bands = excess / width if width and width > 0 else None

    def to_dict(self) -> dict[str, Any]:
        def stamp(value: pd.Timestamp | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "rule": self.rule,
            "since": stamp(self.since),
            "last_outside": stamp(self.last_outside),
            "cleared_at": stamp(self.cleared_at),
            "direction": self.direction,
            "worst_value": _finite(self.worst_value),
            "worst_bound": _finite(self.worst_bound),
            "worst_excess": _finite(self.worst_excess),
            "worst_excess_bands": _finite(self.worst_excess_bands),
            "hours_outside": self.hours_outside,
            "detail": self.detail,
        }


def _finite(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 6)


def band_episodes(
    actual: pd.Series, lower: pd.Series, upper: pd.Series, rule: BandRule = BandRule()
) -> list[Episode]:
    """Episodes of ``rule.raise_hours`` consecutive hours outside ``[lower, upper]``.

    The three series share a UTC hourly index (aligned here); rows missing any of them are skipped.
    """
    frame = pd.concat({"actual": actual, "lower": lower, "upper": upper}, axis=1).sort_index()
    frame = frame[np.isfinite(frame.to_numpy(dtype="float64")).all(axis=1)]
    episodes: list[Episode] = []
    run: list[tuple[pd.Timestamp, float, float, float]] = []
    current: Episode | None = None
    inside = 0
    for stamp, value, low, high in frame.itertuples(name=None):
        width = float(high - low)
        outside = value > high or value < low
        bound = float(high if value > high else low)
        if current is None:
            if not outside:
                run = []
                continue
            run.append((stamp, float(value), bound, width))
            if len(run) >= rule.raise_hours:
                current = Episode(BAND, run[0][0], run[0][0])
                for item in run:
                    current.note(*item)
                inside = 0
            continue
        if outside:
            current.note(stamp, float(value), bound, width)
            inside = 0
            continue
        inside += 1
        if inside >= rule.clear_hours:
            current.cleared_at = stamp
            episodes.append(current)
            current, run, inside = None, [], 0
    if current is not None:
        episodes.append(current)
    return episodes


def night_minima(readings: pd.Series, tz: str, rule: NightRule = NightRule()) -> pd.Series:
    """Minimum reading per local night (index: the night's first hour in UTC), nights with too few
    readings left out."""
    values = readings.dropna()
    if values.empty:
        return pd.Series(dtype="float64")
    local = values.index.tz_convert(tz)
    in_night = (local.hour >= rule.start_hour) & (local.hour < rule.end_hour)
    night = values[in_night]
    dates = local[in_night].normalize()
    grouped = night.groupby(dates)
    minima = grouped.min()[grouped.count() >= rule.min_hours]
    index = (minima.index + pd.Timedelta(hours=rule.start_hour)).tz_convert("UTC")
    return pd.Series(minima.to_numpy(dtype="float64"), index=index).sort_index()


def threshold_episodes(minima: pd.Series, rule: NightRule) -> list[Episode]:
    """Nights whose minimum flow is above ``rule.threshold`` (none when no threshold is set)."""
    if rule.threshold is None:
        return []
    limit = float(rule.threshold)
    return _night_walk(minima, NIGHT_THRESHOLD, lambda i: limit, rule, {"threshold": limit})


def trend_episodes(minima: pd.Series, rule: NightRule) -> list[Episode]:
    """Episodes where each of the recent nights' minima rose above the baseline by ``rise_fraction``."""
    values = minima.to_numpy(dtype="float64")
    need = rule.baseline_nights + rule.trend_nights
    episodes: list[Episode] = []
    current: Episode | None = None
    frozen = 0.0
    calm = 0
    for i in range(len(values)):
        if current is None:
            if i + 1 < need:
                continue
            recent = float(np.min(values[i + 1 - rule.trend_nights : i + 1]))
            baseline = float(np.median(values[i + 1 - need : i + 1 - rule.trend_nights]))
            level = baseline * (1.0 + rule.rise_fraction)
            if baseline <= 0 or recent <= level:
                continue
            start = i + 1 - rule.trend_nights
            current = Episode(NIGHT_TREND, minima.index[start], minima.index[start])
            current.detail = {"baseline": round(baseline, 6), "raise_level": round(level, 6)}
            frozen, calm = level, 0
            for j in range(start, i + 1):
                if values[j] > frozen:
                    current.note(minima.index[j], float(values[j]), frozen, None)
            continue
        if values[i] > frozen:
            current.note(minima.index[i], float(values[i]), frozen, None)
            calm = 0
            continue
        calm += 1
        if calm >= rule.clear_nights:
            current.cleared_at = minima.index[i]
            episodes.append(current)
            current = None
    if current is not None:
        episodes.append(current)
    return episodes


def _night_walk(
    minima: pd.Series, name: str, limit_at: Any, rule: NightRule, detail: dict[str, Any]
) -> list[Episode]:
    episodes: list[Episode] = []
    current: Episode | None = None
    calm = 0
    for i, (stamp, value) in enumerate(minima.items()):
        limit = float(limit_at(i))
        if value > limit:
            if current is None:
                current = Episode(name, stamp, stamp, detail=dict(detail))
            current.note(stamp, float(value), limit, None)
            calm = 0
        elif current is not None:
            calm += 1
            if calm >= rule.clear_nights:
                current.cleared_at = stamp
                episodes.append(current)
                current = None
    if current is not None:
        episodes.append(current)
    return episodes


def band_columns(columns: Any, rule: BandRule) -> tuple[str, str, tuple[float, float]]:
    """The forecast columns to use as the band and the levels they stand for.

    The rule's levels when published (``p1``/``p99``); otherwise the widest published quantiles on
    each side of the median, and ``lower``/``upper`` (P10/P90) when no quantile column is there.
    Raises ValueError when the frame has neither.
    """
    levels = list(frame_levels(columns))
    low = [q for q in levels if q < 0.5]
    high = [q for q in levels if q > 0.5]
    if low and high:
        outer_low = [q for q in low if q <= rule.lower_level + 1e-9]
        outer_high = [q for q in high if q >= rule.upper_level - 1e-9]
        lo = max(outer_low) if outer_low else min(low)
        hi = min(outer_high) if outer_high else max(high)
        return quantile_key(lo), quantile_key(hi), (lo, hi)
    if "lower" in columns and "upper" in columns:
        return "lower", "upper", (0.1, 0.9)
    raise ValueError("the forecast has no band: neither quantile columns nor lower/upper")


def band_bounds(
    forecast: pd.DataFrame, rule: BandRule = BandRule()
) -> tuple[pd.Series, pd.Series, dict[str, Any]]:
    """The band's lower and upper series at the rule's levels, and what they were made from.

    Published levels at least as extreme as the rule's are used as they are. A side whose widest
    published level is narrower (P90 published, P99 wanted) is widened around the median by the
    normal distribution's quantile ratio (z(0.99) / z(0.9) = 1.82), the same assumption
    ``QuantileOffsets.from_band`` makes for bundles without quantiles; ``derived_from`` says so.
    Raises ValueError when the forecast has no band at all.
    """
    low_key, high_key, (lo, hi) = band_columns(forecast.columns, rule)
    lower = forecast[low_key].astype("float64")
    upper = forecast[high_key].astype("float64")
    median = forecast["p50"] if "p50" in forecast else forecast["value"]
    median = median.astype("float64")
    if lo > rule.lower_level + 1e-9:
        lower = (median - (median - lower) * _z(rule.lower_level) / _z(lo)).clip(lower=0.0)
        lo = rule.lower_level
    if hi < rule.upper_level - 1e-9:
        upper = median + (upper - median) * _z(rule.upper_level) / _z(hi)
        hi = rule.upper_level
    info: dict[str, Any] = {"band": f"{quantile_key(lo)}-{quantile_key(hi)}", "levels": [lo, hi]}
    published = f"{_key(low_key)}-{_key(high_key)}"
    if published != info["band"]:
        info["derived_from"] = published
    return lower, upper, info


def _z(level: float) -> float:
    return NormalDist().inv_cdf(level)


def _key(column: str) -> str:
    return {"lower": "p10", "upper": "p90"}.get(column, column)
