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
    """Values of ``series`` at each grid hour as float64; absent hours (or no series) are NaN.

    Positions are computed arithmetically from the stamps (the grid is regular), which is much
    faster than a reindex on the forecaster's hot path. Stamps off the hour or off the grid are
    ignored; of duplicated stamps the last wins.
    """
    out = np.full(len(grid), np.nan)
    if series is None or series.empty or len(grid) == 0:
        return out
    index = pd.DatetimeIndex(series.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    stamps = index.as_unit("ns").asi8
    step = HOUR.value
    offset = stamps - grid.as_unit("ns").asi8[0]
    position = offset // step
    keep = (offset % step == 0) & (position >= 0) & (position < len(grid))
    out[position[keep]] = series.to_numpy(dtype="float64")[keep]
    return out
