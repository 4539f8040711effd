"""The canonical hourly series contract shared by stores, services and models.

A series crossing a layer is a ``pandas.Series`` of floats indexed by a tz-aware UTC
``DatetimeIndex`` named ``timestamp``, strictly increasing, on whole hours, labelling the start of
the hour. Gaps stay gaps: missing hours are absent (stores never fill them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

INDEX_NAME = "timestamp"


def between(series: pd.Series, start: pd.Timestamp | None, stop: pd.Timestamp | None) -> pd.Series:
    """The part with ``start <= t < stop`` (either bound optional) of a contract series.

    Binary search on the sorted index: a boolean mask compares every row, which on a forecast's
    path (years of history, a few weeks read) cost more than the rest of the slicing.
    """
    index = series.index
    lo = 0 if start is None else int(index.searchsorted(start, "left"))
    hi = len(index) if stop is None else int(index.searchsorted(stop, "left"))
    return series.iloc[lo:hi]


def empty_series(name: str) -> pd.Series:
    """An empty series that still honours the contract (UTC index, float dtype)."""
    index = pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit("ns")
    return pd.Series(np.array([], dtype="float64"), index=index, name=name)


def make_series(timestamps: pd.DatetimeIndex | np.ndarray, values: np.ndarray, name: str) -> pd.Series:
    """Build a contract series from UTC timestamps and values (sorted, ns resolution)."""
    index = pd.DatetimeIndex(timestamps)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    series = pd.Series(np.asarray(values, dtype="float64"), index=index.as_unit("ns"), name=name)
    series.index.name = INDEX_NAME
    return series.sort_index()


def validate_series(series: pd.Series) -> pd.Series:
    """Check the contract once at a layer boundary.

    Raises:
        ValueError: naive or non-UTC index, unsorted or duplicate stamps, or stamps off the hour.
    """
    index = series.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("series index must be a tz-aware DatetimeIndex")
    if str(index.tz) != "UTC":
        raise ValueError(f"series index must be UTC, got {index.tz}")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("series index must be strictly increasing")
    if len(index) and not (index == index.floor("h")).all():
        raise ValueError("series timestamps must be on whole hours")
    return series


def to_utc(value: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A tz-aware UTC timestamp; naive input is read as UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """What a store knows about one meter's readings without loading them."""

    meter_id: str
    count: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    @property
    def gap_hours(self) -> int:
        """Hours between first and last reading that have no reading."""
        if self.first is None or self.last is None:
            return 0
        span = int((self.last - self.first) / pd.Timedelta(hours=1)) + 1
        return max(span - self.count, 0)
