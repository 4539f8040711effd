"""Peak forecasts read from joint scenarios: the day's or billing month's peak, its hour, and the
chance that a day exceeds a threshold.

A peak is a statistic of a whole path, not of one hour: the P90 of the month's peak is *not* the
largest hourly P90 (that overstates it, every hour being at its own 90th percentile at once). So
each scenario path is completed with the readings already observed in the period, its maximum
and the hour of that maximum are taken per path, and the quantiles and hour distribution are read
across paths. Days and months are the meter's local calendar (a billing month starts at local
midnight on the 1st).

"Exceeds" is strict (``>``): a day that only equals the month-to-date peak sets no new peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from energy_forecast.ml.scenarios import Scenarios, quantiles_of

Period = Literal["day", "month"]
PERIODS: tuple[str, ...] = ("day", "month")
PEAK_LEVELS: tuple[float, ...] = (0.1, 0.5, 0.9)
TOP_HOURS = 3


@dataclass(frozen=True)
class PeriodPeak:
    """The peak of one local day or month: observed so far, and forecast across scenarios.

    ``hours`` lists (UTC hour, share of scenarios whose peak falls in that hour), most likely
    first; an hour already observed appears when the observed peak stands in some paths.
    """

    label: str  # local "2026-12-08" or "2026-12"
    observed_hours: int
    forecast_hours: int
    observed_peak: float | None
    observed_peak_at: pd.Timestamp | None
    quantiles: dict[str, float]
    mean: float
    hours: list[tuple[pd.Timestamp, float]]
    stands_probability: float  # share of paths where the observed peak is not beaten

    @property
    def likely_hour(self) -> pd.Timestamp:
        return self.hours[0][0]


@dataclass(frozen=True)
class DayExceedance:
    """One local forecast day: the share of paths whose day maximum exceeds the threshold, and the
    share that set a new peak for their month (beating the month's running maximum, observed and
    forecast, before that day)."""

    day: str
    probability: float
    new_peak_probability: float
    observed_max: float | None  # the day's hours already observed, if any


def period_labels(index: pd.DatetimeIndex, timezone: str, period: Period) -> np.ndarray:
    """The local day (``YYYY-MM-DD``) or month (``YYYY-MM``) of each UTC hour."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    local = index.tz_convert(timezone)
    return np.asarray(local.strftime("%Y-%m-%d" if period == "day" else "%Y-%m"), dtype=object)


def observed_before(readings: pd.Series, origin: pd.Timestamp) -> pd.Series:
    """Finite readings strictly before ``origin`` (what the forecast was made from)."""
    observed = readings[readings.index < origin]
    return observed[np.isfinite(observed.to_numpy(dtype="float64"))]


def _finite_paths(paths: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(paths), paths, -np.inf)


def forecast_peaks(
    scenarios: Scenarios,
    readings: pd.Series,
    timezone: str,
    period: Period,
    levels: Sequence[float] = PEAK_LEVELS,
    top: int = TOP_HOURS,
) -> list[PeriodPeak]:
    """The peak of each local day or month the forecast reaches, combining observed hours
    (``readings`` before the forecast's first hour) with each path's forecast hours."""
    origin = scenarios.index[0]
    observed = observed_before(readings, origin)
    future_labels = period_labels(scenarios.index, timezone, period)
    seen_labels = period_labels(pd.DatetimeIndex(observed.index), timezone, period)
    paths = _finite_paths(scenarios.paths)
    peaks: list[PeriodPeak] = []
    for label in dict.fromkeys(future_labels):
        inside = np.flatnonzero(future_labels == label)
        seen = observed[seen_labels == label]
        block = paths[:, inside]
        path_max = block.max(axis=1)
        candidates = scenarios.index[inside]
        winner = block.argmax(axis=1)
        observed_peak = observed_at = None
        stands = np.zeros(len(path_max), dtype=bool)
        if not seen.empty:
            observed_peak, observed_at = float(seen.max()), pd.Timestamp(seen.idxmax())
            stands = path_max <= observed_peak
            path_max = np.maximum(path_max, observed_peak)
        peaks.append(
            PeriodPeak(
                label=str(label),
                observed_hours=len(seen),
                forecast_hours=len(inside),
                observed_peak=observed_peak,
                observed_peak_at=observed_at,
                quantiles={k: float(v) for k, v in quantiles_of(path_max, levels).items()},
                mean=float(path_max.mean()),
                hours=_hour_shares(candidates, winner, stands, observed_at, top),
                stands_probability=float(stands.mean()),
            )
        )
    return peaks


def _hour_shares(
    candidates: pd.DatetimeIndex,
    winner: np.ndarray,
    stands: np.ndarray,
    observed_at: pd.Timestamp | None,
    top: int,
) -> list[tuple[pd.Timestamp, float]]:
    """The ``top`` most likely peak hours with their share of paths, ties broken by time."""
    counts = np.bincount(winner[~stands], minlength=len(candidates)).astype("float64")
    shares = [(candidates[i], counts[i] / len(winner)) for i in np.flatnonzero(counts)]
    if observed_at is not None and stands.any():
        shares.append((observed_at, float(stands.mean())))
    shares.sort(key=lambda item: (-item[1], item[0]))
    return [(pd.Timestamp(t), float(p)) for t, p in shares[: max(top, 1)]]


def month_to_date_peak(
    readings: pd.Series, origin: pd.Timestamp, timezone: str
) -> tuple[float | None, str, pd.Timestamp | None]:
    """The default threshold: the highest reading of the local month before ``origin``; at the
    start of a month (nothing observed in it yet) the previous month's peak.

    Returns (value, source, hour): source is ``month_to_date_peak`` or ``previous_month_peak``;
    (None, ``none``, None) when neither month has readings.
    """
    observed = observed_before(readings, origin)
    if observed.empty:
        return None, "none", None
    months = period_labels(pd.DatetimeIndex(observed.index), timezone, "month")
    current = period_labels(pd.DatetimeIndex([origin]), timezone, "month")[0]
    this_month = observed[months == current]
    if not this_month.empty:
        return float(this_month.max()), "month_to_date_peak", pd.Timestamp(this_month.idxmax())
    previous = (pd.Period(current, freq="M") - 1).strftime("%Y-%m")
    last_month = observed[months == previous]
    if not last_month.empty:
        return float(last_month.max()), "previous_month_peak", pd.Timestamp(last_month.idxmax())
    return None, "none", None


def day_exceedance(
    scenarios: Scenarios, readings: pd.Series, timezone: str, threshold: float
) -> list[DayExceedance]:
    """Per local forecast day, the share of paths whose day maximum (observed hours of that day
    included) exceeds ``threshold``, and the share whose day beats its month's running peak."""
    origin = scenarios.index[0]
    observed = observed_before(readings, origin)
    days = period_labels(scenarios.index, timezone, "day")
    seen_days = period_labels(pd.DatetimeIndex(observed.index), timezone, "day")
    seen_months = period_labels(pd.DatetimeIndex(observed.index), timezone, "month")
    paths = _finite_paths(scenarios.paths)
    running: dict[str, np.ndarray] = {}  # month -> per-path maximum so far
    answers: list[DayExceedance] = []
    for day in dict.fromkeys(days):
        month = str(day)[:7]
        if month not in running:
            before = observed[(seen_months == month) & (seen_days != day)]
            start = float(before.max()) if not before.empty else -np.inf
            running[month] = np.full(scenarios.size, start)
        seen = observed[seen_days == day]
        day_max = paths[:, days == day].max(axis=1)
        if not seen.empty:
            day_max = np.maximum(day_max, float(seen.max()))
        answers.append(
            DayExceedance(
                day=str(day),
                probability=float(np.mean(day_max > threshold)),
                new_peak_probability=float(np.mean(day_max > running[month])),
                observed_max=float(seen.max()) if not seen.empty else None,
            )
        )
        running[month] = np.maximum(running[month], day_max)
    return answers
