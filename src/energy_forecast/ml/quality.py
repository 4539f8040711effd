"""Refuse to train on data that cannot support a model, with a message that says what to fix.

Thresholds: 14 days of non-empty hours (two full weekly cycles, the shortest history on which the
168 h lag has anything to say), at least half the hours between the first and last reading present,
and no value held for 24 h or more (a stuck meter teaches the model a flat line). NaN is treated as
a gap like an absent row; infinities and negative readings are rejected (consumption is a volume).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.errors import DataQualityError, FlatlineError, InsufficientDataError, NoDataFoundError

HOUR = pd.Timedelta(hours=1)


def _longest_flat_run(values: pd.Series) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
    """Longest run of equal readings on consecutive hours: (length, first hour, last hour)."""
    stamps = values.index
    same = (values.to_numpy()[1:] == values.to_numpy()[:-1]) & ((stamps[1:] - stamps[:-1]) == HOUR)
    best, best_end, run = 1, 0, 1
    for i, continues in enumerate(same, start=1):
        run = run + 1 if continues else 1
        if run > best:
            best, best_end = run, i
    return best, stamps[best_end - best + 1], stamps[best_end]


def check_training_data(
    consumption: pd.Series,
    meter_id: str,
    *,
    min_hours: int = 24 * 14,
    min_completeness: float = 0.5,
    flatline_hours: int = 24,
) -> None:
    """Raise a DataQualityError subclass if ``consumption`` cannot train a model; return otherwise.

    Raises:
        NoDataFoundError: no readings at all.
        DataQualityError: infinite or negative readings.
        InsufficientDataError: fewer than ``min_hours`` readings, or completeness below the threshold.
        FlatlineError: one value held for ``flatline_hours`` consecutive hours or more.
    """
    values = consumption.dropna().sort_index()
    if values.empty:
        raise NoDataFoundError(
            f"meter {meter_id!r}: no readings to train on; import its readings first", meter_id=meter_id
        )
    array = values.to_numpy(dtype="float64")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataQualityError(
            f"meter {meter_id!r}: {int(bad.sum())} infinite readings, first at {values.index[bad][0]}",
            meter_id=meter_id,
        )
    negative = array < 0
    if negative.any():
        raise DataQualityError(
            f"meter {meter_id!r}: {int(negative.sum())} negative readings, first at "
            f"{values.index[negative][0]}; consumption must be >= 0",
            meter_id=meter_id,
        )
    found = len(values)
    if found < min_hours:
        raise InsufficientDataError(
            f"meter {meter_id!r}: {found} hourly readings found, {min_hours} needed "
            f"({min_hours / 24:g} days); import more history",
            meter_id=meter_id,
        )
    span = int((values.index[-1] - values.index[0]) / HOUR) + 1
    completeness = found / span
    if completeness < min_completeness:
        raise InsufficientDataError(
            f"meter {meter_id!r}: {found} of {span} hours between first and last reading present "
            f"({completeness:.0%}), at least {min_completeness:.0%} needed",
            meter_id=meter_id,
        )
    length, first, last = _longest_flat_run(values)
    if length >= flatline_hours:
        raise FlatlineError(
            f"meter {meter_id!r}: value {values.loc[first]:g} repeated for {length} consecutive hours "
            f"from {first} to {last}; check the meter or remove those readings",
            meter_id=meter_id,
        )
