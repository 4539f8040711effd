"""Calendar features in the meter's local time zone.

Occupancy follows the local wall clock, so hour-of-day and weekday are taken after converting the
UTC stamps to the meter's IANA zone: on a DST day the local hours 02:00 (spring) or the repeated
02:00 (autumn) come out exactly as people lived them. Month and day-of-year are deliberately not
offered by default: on one or two years of data they let the trees memorise last year's dates.

``year_end`` marks the end-of-year break where the holiday calendar has Christmas: Christmas Day to
New Year's Day, plus a bridge day (a working day between the break and a weekend). Many offices,
universities and schools close for it although only two or three of its days are public holidays,
so ``holiday`` alone leaves the trees to forecast the working days in between as ordinary ones.
Whether a country has Christmas is read from the ``holidays`` calendar (25 December is a public
holiday there), never from a list: where it is not, the column is all zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

CALENDAR_FEATURES = (
    "hour",
    "weekday",
    "weekend",
    "holiday",
    "hour_of_week",
    "month",
    "day_of_year",
    "year_end",
)
# Years looked at to decide whether a country's calendar has Christmas at all.
_CHRISTMAS_PROBE_YEARS = tuple(range(2015, 2031))


@lru_cache(maxsize=64)
def holiday_dates(country: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """Public holidays of ``country`` (ISO 3166 alpha-2) in ``years``; empty when no country.

    Cached because the forecaster asks for the same country-years once per block.
    """
    if not country or not years:
        return frozenset()
    return frozenset(holidays_lib.country_holidays(country, years=sorted(set(years))).keys())


@lru_cache(maxsize=256)
def has_christmas(country: str | None) -> bool:
    """Whether 25 December is a public holiday of ``country`` in the ``holidays`` calendar.

    An unknown country code has no calendar, so no break either (``holiday`` is empty for it too).
    """
    if not country:
        return False
    try:
        found = holidays_lib.country_holidays(country, years=_CHRISTMAS_PROBE_YEARS)
    except NotImplementedError:
        return False
    return any(date(year, 12, 25) in found for year in _CHRISTMAS_PROBE_YEARS)


@lru_cache(maxsize=64)
def year_end_dates(country: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """The end-of-year break days falling in ``years``; empty without a Christmas holiday.

    The break of year ``y`` runs from 25 December (when it is a public holiday that year) to
    1 January of ``y + 1``; a working day just before or after it is added when its other neighbour
    is a weekend or a public holiday (a bridge day, e.g. Monday 24 December). Breaks that start in the
    year before the first of ``years`` are included, since they reach into its first days.
    """
    if not years or not has_christmas(country):
        return frozenset()
    first, last = min(years) - 1, max(years)
    found = holidays_lib.country_holidays(country, years=range(first, last + 2))
    one = timedelta(days=1)
    days: set[date] = set()
    for year in range(first, last + 1):
        start, end = date(year, 12, 25), date(year + 1, 1, 1)
        if start not in found:
            continue
        block = {start + k * one for k in range((end - start).days + 1)}

        def off(day: date, block: set[date] = block) -> bool:
            return day.weekday() >= 5 or day in found or day in block

        for bridge, beyond in ((start - one, start - 2 * one), (end + one, end + 2 * one)):
            if not off(bridge) and off(beyond):
                block.add(bridge)
        days |= block
    wanted = set(years)
    return frozenset(d for d in days if d.year in wanted)


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
        elif name in ("holiday", "year_end"):
            years = tuple(int(y) for y in np.unique(local.year))
            found = (holiday_dates if name == "holiday" else year_end_dates)(country, years)
            columns[name] = _on_dates(local, found)
    return columns


def _on_dates(local: pd.DatetimeIndex, found: frozenset[date]) -> np.ndarray:
    """1.0 where the local date is one of ``found``, looked up once per distinct day."""
    if not found:
        return np.zeros(len(local))
    days = local.normalize().tz_localize(None)
    unique, inverse = np.unique(days.to_numpy(), return_inverse=True)
    hits = np.fromiter((pd.Timestamp(d).date() in found for d in unique), dtype="float64", count=len(unique))
    return hits[inverse]
