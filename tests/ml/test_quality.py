from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.series import empty_series, make_series
from energy_forecast.errors import DataQualityError, FlatlineError, InsufficientDataError, NoDataFoundError
from energy_forecast.ml.quality import check_training_data


def series(hours: int, *, start: str = "2024-01-01", seed: int = 0) -> pd.Series:
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return make_series(index, np.random.default_rng(seed).uniform(10, 20, hours), "consumption")


def test_two_weeks_of_hourly_data_is_enough() -> None:
    check_training_data(series(24 * 14), "m1")


def test_no_readings_raise_no_data_found() -> None:
    with pytest.raises(NoDataFoundError):
        check_training_data(empty_series("consumption"), "m1")


def test_nan_only_readings_count_as_no_data() -> None:
    values = series(48)
    with pytest.raises(NoDataFoundError):
        check_training_data(values * np.nan, "m1")


def test_too_few_hours_says_found_and_needed() -> None:
    with pytest.raises(InsufficientDataError, match=r"300 hourly readings found, 336 needed") as caught:
        check_training_data(series(300), "m1")
    assert caught.value.meter_id == "m1"


def test_sparse_readings_fail_completeness() -> None:
    sparse = series(24 * 60).iloc[::3]  # a third of the hours
    with pytest.raises(InsufficientDataError, match="33%"):
        check_training_data(sparse, "m1")


def test_stuck_meter_raises_flatline_with_where() -> None:
    values = series(24 * 20)
    values.iloc[100:130] = 42.0
    with pytest.raises(FlatlineError, match=r"30 consecutive hours from 2024-01-05 04:00:00\+00:00"):
        check_training_data(values, "m1")


def test_equal_values_across_a_gap_are_not_a_flatline() -> None:
    values = series(24 * 20)
    values.iloc[100:120] = 42.0
    values.iloc[125:140] = 42.0
    check_training_data(values.drop(values.index[120:125]).drop(values.index[300:310]), "m1")


@pytest.mark.parametrize("bad", [pytest.param(-1.0, id="negative"), pytest.param(np.inf, id="infinite")])
def test_absurd_values_are_rejected(bad: float) -> None:
    values = series(24 * 20)
    values.iloc[50] = bad
    with pytest.raises(DataQualityError, match="readings"):
        check_training_data(values, "m1")
