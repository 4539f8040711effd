from __future__ import annotations

import math

import numpy as np
import pytest

from energy_forecast.ml import metrics

ACTUAL = np.array([10.0, 20.0, 30.0, 40.0])
FORECAST = np.array([12.0, 18.0, 33.0, 36.0])


def test_point_metrics_match_hand_computation() -> None:
    errors = ACTUAL - FORECAST  # -2, 2, -3, 4
    assert metrics.rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt((4 + 4 + 9 + 16) / 4))
    assert metrics.mae(ACTUAL, FORECAST) == pytest.approx(11 / 4)
    assert metrics.mape_percent(ACTUAL, FORECAST) == (pytest.approx((0.2 + 0.1 + 0.1 + 0.1) / 4 * 100), 4)
    assert metrics.mean_accuracy_percent(ACTUAL, FORECAST) == pytest.approx(100 - 12.5)
    assert metrics.cv_rmse_percent(ACTUAL, FORECAST) == pytest.approx(math.sqrt(33 / 4) / 25 * 100)
    assert metrics.nmbe_percent(ACTUAL, FORECAST) == pytest.approx(errors.sum() / (4 * 25) * 100)
    assert metrics.wape_percent(ACTUAL, FORECAST) == pytest.approx(11 / 100 * 100)
    ss_res, ss_tot = 33.0, float(((ACTUAL - 25) ** 2).sum())
    assert metrics.r2(ACTUAL, FORECAST) == pytest.approx(1 - ss_res / ss_tot)


def test_mape_skips_zero_actual_hours_and_counts_the_rest() -> None:
    value, hours = metrics.mape_percent([0.0, 10.0, 0.0, 20.0], [5.0, 11.0, 1.0, 18.0])
    assert hours == 2
    assert value == pytest.approx((0.1 + 0.1) / 2 * 100)


def test_all_zero_actuals_give_none_not_errors() -> None:
    zeros, forecast = np.zeros(5), np.ones(5)
    assert metrics.mape_percent(zeros, forecast) == (None, 0)
    assert metrics.mean_accuracy_percent(zeros, forecast) is None
    assert metrics.cv_rmse_percent(zeros, forecast) is None
    assert metrics.nmbe_percent(zeros, forecast) is None
    assert metrics.wape_percent(zeros, forecast) is None
    assert metrics.r2(zeros, forecast) is None
    assert metrics.rmse(zeros, forecast) == pytest.approx(1.0)


def test_non_finite_pairs_are_dropped_and_empty_gives_none() -> None:
    assert metrics.mae([1.0, np.nan, 3.0], [2.0, 5.0, np.inf]) == pytest.approx(1.0)
    assert metrics.rmse([], []) is None
    assert metrics.r2([1.0], [1.0]) is None
    assert metrics.interval_coverage_percent([np.nan], [0.0], [1.0]) is None


def test_interval_coverage_counts_inclusive_bounds() -> None:
    coverage = metrics.interval_coverage_percent(
        [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 3.5, 0.0], [1.0, 1.0, 4.0, 5.0]
    )
    assert coverage == pytest.approx(50.0)


def test_evaluate_bundles_every_metric() -> None:
    result = metrics.evaluate(ACTUAL, FORECAST, ACTUAL - 1, ACTUAL + 1)
    assert result["hours"] == 4
    assert result["coverage_percent"] == 100.0
    assert {"r2", "rmse", "mae", "mape_percent", "cv_rmse_percent", "nmbe_percent", "wape_percent"} <= set(
        result
    )


def test_mismatched_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="actual has 2 values"):
        metrics.rmse([1.0, 2.0], [1.0])
