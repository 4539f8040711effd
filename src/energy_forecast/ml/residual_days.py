"""Whole days of out-of-sample residuals, and the joint sample paths built from them.

A training keeps the ensemble's day-ahead hold-out residuals (``actual - forecast``, hours it never
saw) of its last few weeks in the bundle (``ResidualDays``, a compact float32 array with its first
UTC hour). Serving turns them into a ``(days, 24)`` matrix, one row per complete UTC calendar day,
and builds ``S`` paths: every forecast UTC date of a path draws one calendar day of that matrix and
adds its residual of the same UTC hour to the point forecast, scaled by the recursive block's
widening (later days carry fed-back error, as the forecast's own quantiles assume). A path therefore
keeps the dependence between the hours of a day; a group draws the *same* calendar day for every
member (``common_days`` + shared ``day_draws``), which keeps the dependence between meters too.

Why UTC days: the forecaster's blocks are UTC days (its anchored features are read at UTC midnight)
and every member of a group, whatever its time zone, then shares one calendar.

Where no residual days exist (a bundle written before they were kept, a meter answered by a
fallback), ``comonotone_paths`` samples the forecast's own quantiles with one uniform draw per path
and forecast day: exact marginals, but perfect rank dependence between the hours of a day and none
between days or meters, a stated simplification.

Pure: NumPy and pandas only, deterministic given the seed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.ml.copula import read_quantiles

HOURS_PER_DAY = 24
KEEP_DAYS = 28  # residual days a bundle keeps: four of each weekday, ~2.7 kB
MIN_DAYS = 7  # fewer usable days than this: the comonotone fallback instead
MIN_DAY_HOURS = 20  # a residual day with fewer scored hours is left out
DEFAULT_SIZE = 500
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ResidualDays:
    """Hourly residuals from ``start`` (a UTC hour) on a regular grid; NaN where no hour was scored."""

    start: pd.Timestamp
    values: np.ndarray

    @classmethod
    def from_holdout(
        cls, index: pd.DatetimeIndex, actual: Any, forecast: Any, keep_days: int = KEEP_DAYS
    ) -> ResidualDays | None:
        """The last ``keep_days`` UTC days of ``actual - forecast`` (None: nothing finite)."""
        residual = np.asarray(actual, dtype="float64") - np.asarray(forecast, dtype="float64")
        index = pd.DatetimeIndex(index)
        ok = np.isfinite(residual)
        if not ok.any() or len(index) == 0:
            return None
        index, residual = index[ok], residual[ok]
        start = max(index[0].floor("D"), index[-1].floor("D") - (keep_days - 1) * _DAY)
        inside = index >= start
        index, residual = index[inside], residual[inside]
        slots = ((index - start) // pd.Timedelta(hours=1)).to_numpy(dtype="int64")
        grid = np.full(int(slots[-1]) + 1, np.nan)
        grid[slots] = residual
        return cls(pd.Timestamp(start), grid)

    def last(self, days: int) -> ResidualDays:
        """The same record cut to its last ``days`` UTC days (all of it when shorter)."""
        end = self.start + pd.Timedelta(hours=len(self.values))
        start = max(self.start.floor("D"), (end - pd.Timedelta(hours=1)).floor("D") - (days - 1) * _DAY)
        skip = max(int((start - self.start) // pd.Timedelta(hours=1)), 0)
        return ResidualDays(self.start + pd.Timedelta(hours=skip), self.values[skip:])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the start stamp and the values as base64 little-endian float32."""
        raw = np.asarray(self.values, dtype="<f4").tobytes()
        return {
            "start": self.start.isoformat(),
            "hours": len(self.values),
            "float32": base64.b64encode(raw).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResidualDays:
        """Raises: ValueError for a record whose length does not match its ``hours``."""
        values = np.frombuffer(base64.b64decode(data["float32"]), dtype="<f4").astype("float64")
        if len(values) != int(data["hours"]):
            raise ValueError(f"residual record holds {len(values)} hours, says {data['hours']}")
        return cls(pd.Timestamp(data["start"]).tz_convert("UTC"), values)

    def matrix(
        self, min_hours: int = MIN_DAY_HOURS, centred: bool = True
    ) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """(UTC dates, ``(days, 24)`` residuals) of the UTC days with ``min_hours`` scored hours.

        A day's few missing hours take the mean of its other hours (the day's level of error), so
        a meter with scattered gaps keeps its days and the members of a group keep shared ones.
        ``centred`` subtracts the median residual: the hold-out model's bias (it never saw the
        newest readings) is not the forecasting refit's, so only the spread and shape of its
        errors are carried over and the paths' median stays on the point forecast.
        """
        offset = int((self.start - self.start.floor("D")) / pd.Timedelta(hours=1))
        first = self.start.floor("D")
        padded = np.concatenate([np.full(offset, np.nan), self.values])
        days = -(-len(padded) // HOURS_PER_DAY)
        padded = np.concatenate([padded, np.full(days * HOURS_PER_DAY - len(padded), np.nan)])
        table = padded.reshape(days, HOURS_PER_DAY)
        complete = np.isfinite(table).sum(axis=1) >= min_hours
        table = table[complete]
        if table.size:
            with np.errstate(invalid="ignore"):
                level = np.nanmean(table, axis=1, keepdims=True)
            table = np.where(np.isfinite(table), table, level)
            if centred:
                table = table - float(np.median(table))
        dates = pd.date_range(first, periods=days, freq="D")[complete]
        return pd.DatetimeIndex(dates), table


def common_days(
    tables: Sequence[tuple[pd.DatetimeIndex, np.ndarray]],
) -> tuple[pd.DatetimeIndex, list[np.ndarray]]:
    """The calendar days every table has, and each table's rows of those days in the same order."""
    if not tables:
        return pd.DatetimeIndex([], tz="UTC"), []
    shared = tables[0][0]
    for dates, _ in tables[1:]:
        shared = shared.intersection(dates)
    shared = pd.DatetimeIndex(shared).sort_values()
    rows = [table[dates.get_indexer(shared)] for dates, table in tables]
    return shared, rows


def utc_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The distinct UTC dates (midnights) of ``index``, sorted: the columns of ``day_draws``."""
    return pd.DatetimeIndex(pd.DatetimeIndex(index).floor("D").unique()).sort_values()


def forecast_days(index: pd.DatetimeIndex) -> np.ndarray:
    """Position of each hour's UTC date among the distinct dates of ``index`` (0, 0, ..., 1, ...)."""
    dates = pd.DatetimeIndex(index).floor("D")
    _, positions = np.unique(dates.asi8, return_inverse=True)
    return positions.astype("int64")


def day_draws(index: pd.DatetimeIndex, available: int, size: int, seed: int) -> np.ndarray:
    """``(size, forecast dates)`` calendar-day positions in ``range(available)``, one per path and date.

    The same arguments give the same draws: members of a group share them.
    """
    dates = int(forecast_days(index).max(initial=-1)) + 1
    rng = np.random.default_rng(seed)
    return rng.integers(0, max(available, 1), size=(size, dates))


def residual_draws(
    index: pd.DatetimeIndex,
    table: np.ndarray,
    draws: np.ndarray,
    *,
    dates: pd.DatetimeIndex | None = None,
) -> np.ndarray:
    """``(S, hours)`` residuals ``table[draw of the hour's date, UTC hour]``: what paths add.

    ``draws`` has one column per UTC date of ``dates`` (default: the distinct dates of ``index``),
    so members of a group whose forecasts start at different hours still read the same day on the
    same date.
    """
    index = pd.DatetimeIndex(index)
    hours = index.hour.to_numpy()
    columns = forecast_days(index) if dates is None else dates.get_indexer(index.floor("D"))
    if (columns < 0).any():
        raise ValueError("an hour's date is not among the drawn dates")
    chosen = draws[:, columns]  # (S, hours): the calendar day each path reads per hour
    return np.asarray(table, dtype="float64")[chosen, hours[None, :]]


def residual_paths(
    point: np.ndarray,
    index: pd.DatetimeIndex,
    table: np.ndarray,
    draws: np.ndarray,
    widen: np.ndarray,
    *,
    dates: pd.DatetimeIndex | None = None,
    clip: bool = True,
) -> np.ndarray:
    """``(S, hours)`` paths: ``point + widen * table[draw of the hour's date, UTC hour]``.

    ``widen`` is the recursive block's factor per hour (1 on the first forecast day); ``draws``
    and ``dates`` as ``residual_draws``.
    """
    point = np.asarray(point, dtype="float64")
    residuals = residual_draws(index, table, draws, dates=dates)
    paths = point[None, :] + np.asarray(widen, dtype="float64")[None, :] * residuals
    return np.maximum(paths, 0.0) if clip else paths


def comonotone_paths(
    index: pd.DatetimeIndex,
    levels: Sequence[float],
    quantiles: np.ndarray,
    size: int,
    seed: int,
    *,
    clip: bool = True,
) -> np.ndarray:
    """``(S, hours)`` paths from per-hour quantiles (``quantiles[i, h]`` at ``levels[i]``, sorted).

    One uniform per path and UTC date, read through every hour's quantile function (linear between
    levels, flat beyond the outermost): comonotone within a day, independent across days.
    """
    dates = forecast_days(index)
    rng = np.random.default_rng(seed)
    u = rng.random((size, int(dates.max(initial=-1)) + 1))[:, dates]  # (S, hours)
    paths = read_quantiles(u, levels, quantiles)
    return np.maximum(paths, 0.0) if clip else paths


def block_numbers(index: pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    """Recursive block of each hour: 1 from the origin to the next UTC midnight, then one per UTC day."""
    dates = pd.DatetimeIndex(index).floor("D")
    return ((dates - pd.Timestamp(origin).floor("D")) // _DAY).to_numpy(dtype="int64") + 1
