"""Calendar features in the meter's local time zone.

Occupancy follows the local wall clock, so hour-of-day and weekday are taken after converting the
UTC stamps to the meter's IANA zone: on a DST day the local hours 02:00 (spring) or the repeated
02:00 (autumn) come out exactly as people lived them. Month and day-of-year are deliberately not
offered by default: on one or two years of data they let the trees memorise last year's dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

CALENDAR_FEATURES = ("hour", "weekday", "weekend", "holiday", "hour_of_week", "month", "day_of_year")


@lru_cache(maxsize=64)
def holiday_dates(country: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """Public holidays of ``country`` (ISO 3166 alpha-2) in ``years``; empty when no country.

    Cached because the forecaster asks for the same country-years once per block.
    """
    if not country or not years:
        return frozenset()
    return frozenset(holidays_lib.country_holidays(country, years=sorted(set(years))).keys())


def calendar_features(
    index: pd.DatetimeIndex, *, timezone: str, country: str | None, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The requested calendar columns for UTC hours ``index``, computed on local wall-clock time."""
    unknown = set(names) - set(CALENDAR_FEATURES)
    if unknown:
        raise ValueError(f"unknown calendar features {sorted(unknown)}; choose from {CALENDAR_FEATURES}")
    local = index.tz_convert(timezone)
    hour = local.hour.to_numpy()
    weekday = local.day_of_week.to_numpy()
    columns: dict[str, np.ndarray] = {}
    for name in names:
        if name == "hour":
            columns[name] = hour.astype("float64")
        elif name == "weekday":
            columns[name] = weekday.astype("float64")
        elif name == "weekend":
            columns[name] = (weekday >= 5).astype("float64")
        elif name == "hour_of_week":
            columns[name] = (weekday * 24 + hour).astype("float64")
        elif name == "month":
            columns[name] = local.month.to_numpy().astype("float64")
        elif name == "day_of_year":
            columns[name] = local.day_of_year.to_numpy().astype("float64")
        elif name == "holiday":
            dates = local.date
            found = holiday_dates(country, tuple(int(y) for y in np.unique(local.year)))
            columns[name] = np.fromiter((d in found for d in dates), dtype="float64", count=len(dates))
    return columns
