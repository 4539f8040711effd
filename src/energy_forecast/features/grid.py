"""Put an hourly series on a complete hourly grid, leaving gaps as NaN.

Lags and windows are defined in hours, not in rows: a missing reading must become a NaN slot on the
grid, never a shifted neighbour and never an invented value. XGBoost routes NaN down its learned
default branch, so nothing downstream needs filling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)


def hourly_index(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Every UTC hour from ``start`` to ``end`` inclusive, named like the series contract."""
    return pd.date_range(start, end, freq="h", tz="UTC", name="timestamp").as_unit("ns")


def on_grid(series: pd.Series | None, grid: pd.DatetimeIndex) -> np.ndarray:
    """Values of ``series`` at each grid hour as float64; absent hours (or no series) are NaN."""
    if series is None or series.empty:
        return np.full(len(grid), np.nan)
    index = pd.DatetimeIndex(series.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    clean = pd.Series(series.to_numpy(dtype="float64"), index=index.as_unit("ns"))
    clean = clean[~clean.index.duplicated(keep="last")]
    return clean.reindex(grid).to_numpy(dtype="float64", copy=True)
