from __future__ import annotations

import pandas as pd
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.params import default_params, default_spec
from energy_forecast.ml.tuning import cross_validate, fold_cutoffs
from tests.ml.conftest import synthetic_meter


def test_fold_cutoffs_are_back_to_back_and_end_at_the_window_end() -> None:
    end = pd.Timestamp("2024-03-01 13:00", tz="UTC")
    cutoffs = fold_cutoffs(end, folds=3, fold_days=7)
    assert cutoffs == [
        pd.Timestamp("2024-02-16", tz="UTC"),
        pd.Timestamp("2024-02-23", tz="UTC"),
        pd.Timestamp("2024-03-01", tz="UTC"),
    ]
    with pytest.raises(ValueError, match="positive"):
        fold_cutoffs(end, folds=0, fold_days=7)


def test_cross_validation_reads_nothing_at_or_after_the_window_end() -> None:
    consumption, temperature = synthetic_meter(24 * 56)
    end = pd.Timestamp("2024-02-19", tz="UTC")
    spec = default_spec(MeterType.ELECTRICITY, "Europe/Rome", "IT")
    params = default_params(MeterType.ELECTRICITY)

    def score(series: pd.Series) -> tuple[float | None, float | None, int]:
        result = cross_validate(
            series,
            temperature,
            meter_id="synthetic",
            meter_type=MeterType.ELECTRICITY,
            end=end,
            params=params,
            spec=spec,
            folds=2,
            fold_days=4,
        )
        return result.cv_rmse_percent, result.best_baseline_cv_rmse_percent, result.hours

    baseline = score(consumption)
    tampered = consumption.copy()
    tampered[tampered.index >= end] *= 5.0
    assert score(tampered) == baseline
    # 2 folds x 4 days x 24 hours, all inside the window.
    assert baseline[2] == 2 * 4 * 24
    ours, theirs, _ = baseline
    assert ours is not None and theirs is not None
    assert ours < theirs
