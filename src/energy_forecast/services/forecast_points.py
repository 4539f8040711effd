"""The forecast answer's shape: hours as plain arrays, then hourly or daily points.

Kept apart from ``forecasting`` (which decides what each hour holds) because the shaping is where
the per-request cost hides: a 7-day answer is 168 points built on every dashboard poll.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

DAILY_NOTE = (
    "daily values are sums of hourly consumption per local day ({tz}) over the hours inside the "
    "window ('hours' says how many); a day holding readings and forecasts is a forecast point adding "
    "both; bounds and quantiles are sums of hourly 10 %/90 % bounds and hourly quantiles, wider than "
    "the same quantiles of the daily total"
)


class ForecastPoint(NamedTuple):
    """One output point; ``label`` is an ISO UTC hour (hourly) or a local ISO date (daily).

    A named tuple, not a frozen dataclass: a 7-day answer builds 168 of them per request, and a
    frozen dataclass's ``__init__`` cost ten times as much.
    """

    label: str
    value: float
    kind: Literal["historical", "forecast"]
    temperature: float | None = None
    lower: float | None = None
    upper: float | None = None
    temperature_source: str | None = None
    hours: int | None = None
    quantiles: dict[str, float] | None = None  # "p10" -> value, forecast points only


@dataclass(frozen=True)
class Columns:
    """The answer's hours as plain arrays: historical hours first, then forecast hours.

    Arrays, not a DataFrame: on a 7-day answer, pandas' per-operation overhead (concat, rename,
    reindex of 168 rows) cost more than the forecast it carried.
    """

    stamps: np.ndarray  # int64 ns since the epoch, UTC
    value: np.ndarray
    historical: int  # how many leading hours are readings
    temperature: np.ndarray  # NaN on historical hours and where unknown
    lower: np.ndarray
    upper: np.ndarray
    source: np.ndarray  # object: the temperature's source label, None on historical hours
    quantiles: dict[str, np.ndarray] = field(default_factory=dict)  # "p10" -> values, NaN on history

    def frame(self) -> pd.DataFrame:
        kind = np.where(np.arange(len(self.stamps)) < self.historical, "historical", "forecast")
        columns = {"value": self.value, "kind": kind, "temperature": self.temperature}
        columns.update(lower=self.lower, upper=self.upper, source=self.source)
        columns.update(self.quantiles)
        return pd.DataFrame(columns, index=pd.DatetimeIndex(self.stamps, tz="UTC"))


def hourly_points(columns: Columns) -> list[ForecastPoint]:
    labels = [f"{label}Z" for label in np.datetime_as_string(columns.stamps.astype("datetime64[ns]"), "s")]
    historical = columns.historical
    points = [
        ForecastPoint(label, value, "historical")
        for label, value in zip(labels[:historical], columns.value[:historical].tolist(), strict=True)
    ]

    def plain(values: np.ndarray) -> list[float | None]:
        return [None if v != v else v for v in values.tolist()]  # NaN -> None

    keys = list(columns.quantiles)
    ahead = len(labels) - historical
    tables = [plain(columns.quantiles[key][historical:]) for key in keys]
    quantiles = [
        {key: table[i] for key, table in zip(keys, tables, strict=True) if table[i] is not None} or None
        for i in range(ahead)
    ]
    rows = zip(
        labels[historical:],
        columns.value[historical:].tolist(),
        plain(columns.temperature[historical:]),
        plain(columns.lower[historical:]),
        plain(columns.upper[historical:]),
        columns.source[historical:].tolist(),
        quantiles,
        strict=True,
    )
    points.extend(
        ForecastPoint(label, value, "forecast", temp, low, up, src, None, q)
        for label, value, temp, low, up, src, q in rows
    )
    return points


def daily_points(frame: pd.DataFrame, timezone: str) -> list[ForecastPoint]:
    points = []
    for day, rows in frame.groupby(frame.index.tz_convert(timezone).date):
        is_forecast = rows["kind"] == "forecast"
        if not is_forecast.any():
            points.append(
                ForecastPoint(day.isoformat(), float(rows["value"].sum()), "historical", hours=len(rows))
            )
            continue
        observed = float(rows.loc[~is_forecast, "value"].sum())
        temps = rows.loc[is_forecast, "temperature"].dropna()
        sources = set(rows.loc[is_forecast, "source"])
        keys = [c for c in rows.columns if c.startswith("p") and c[1:2].isdigit()]
        summed = {k: observed + float(rows.loc[is_forecast, k].sum(min_count=1)) for k in keys}
        points.append(
            ForecastPoint(
                day.isoformat(),
                float(rows["value"].sum()),
                "forecast",
                float(temps.mean()) if len(temps) else None,
                observed + float(rows.loc[is_forecast, "lower"].sum()),
                observed + float(rows.loc[is_forecast, "upper"].sum()),
                sources.pop() if len(sources) == 1 else "mixed",
                len(rows),
                {k: v for k, v in summed.items() if v == v} or None,
            )
        )
    return points
