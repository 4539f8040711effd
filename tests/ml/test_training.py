from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import FlatlineError, InsufficientDataError
from energy_forecast.ml.training import TrainingResult, fit_model
from tests.ml.conftest import synthetic_meter


def test_training_reports_window_points_and_day_ahead_metrics(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, _ = meter
    assert trained.data_points == len(consumption)
    assert trained.training_window == (consumption.index[0], consumption.index[-1])
    metrics = trained.metrics
    for key in ("r2", "rmse", "mae", "mape_percent", "cv_rmse_percent", "nmbe_percent", "coverage_percent"):
        assert metrics[key] is not None, key
    assert metrics["naive_7d_cv_rmse_percent"] is not None
    # a learnable synthetic meter: the model must beat the best seasonal-naive baseline
    assert metrics["cv_rmse_ratio_to_best_baseline"] is not None
    assert metrics["cv_rmse_ratio_to_best_baseline"] < 1.0


def test_training_is_reproducible(meter: tuple[pd.Series, pd.Series], trained: TrainingResult) -> None:
    consumption, temperature = meter
    again = fit_model(
        consumption,
        temperature,
        meter_id="synthetic",
        meter_type=MeterType.ELECTRICITY,
        timezone="Europe/Rome",
        country="IT",
    )
    assert again.metrics == trained.metrics
    assert again.model.to_artifacts() == trained.model.to_artifacts()


def test_two_weeks_with_gaps_and_no_temperature_still_trains() -> None:
    consumption, _ = synthetic_meter(24 * 15)
    gappy = consumption.drop(consumption.index[40:52])
    result = fit_model(gappy, None, meter_id="short", meter_type=MeterType.WATER)
    assert result.data_points == len(gappy)
    assert result.model.scaler.kind == "standard"


def test_data_quality_errors_reach_the_caller() -> None:
    consumption, _ = synthetic_meter(24 * 10)
    with pytest.raises(InsufficientDataError):
        fit_model(consumption, None, meter_id="m", meter_type=MeterType.ELECTRICITY)
    consumption, _ = synthetic_meter(24 * 20)
    consumption.iloc[24:60] = 5.0
    with pytest.raises(FlatlineError):
        fit_model(consumption, None, meter_id="m", meter_type=MeterType.ELECTRICITY)


def test_holdout_fraction_must_leave_both_parts() -> None:
    consumption, _ = synthetic_meter(24 * 20)
    with pytest.raises(ValueError, match="holdout_fraction"):
        fit_model(consumption, None, meter_id="m", meter_type=MeterType.ELECTRICITY, holdout_fraction=1.0)


def test_nan_readings_are_gaps_not_training_rows() -> None:
    consumption, _ = synthetic_meter(24 * 20)
    consumption.iloc[100:110] = np.nan
    result = fit_model(consumption, None, meter_id="m", meter_type=MeterType.ELECTRICITY)
    assert result.data_points == len(consumption) - 10


def test_holdout_model_is_half_the_trees_at_twice_the_rate() -> None:
    from energy_forecast.ml.params import default_params
    from energy_forecast.ml.training import holdout_params

    water = default_params(MeterType.WATER)
    short = holdout_params(water)
    assert (short.n_estimators, short.learning_rate) == (water.n_estimators // 2, water.learning_rate * 2)
    assert holdout_params(water, 1.0) == water
