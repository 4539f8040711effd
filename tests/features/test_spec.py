from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_forecast.features import FeatureSpec, build_features
from tests.features.conftest import synthetic_temperature


def test_spec_round_trips_through_json() -> None:
    spec = FeatureSpec(timezone="Europe/Rome", country="IT", lags=(24, 168), windows=(24,))
    restored = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec


def test_spec_rejects_a_zero_lag_that_would_be_the_target() -> None:
    with pytest.raises(ValueError, match="lags"):
        FeatureSpec(lags=(0, 24))


def test_spec_reports_its_leakage_bound_and_look_back() -> None:
    spec = FeatureSpec(lags=(24, 48), windows=(24,), window_shift=24, same_hour_days=(7,), temperature_windows=())
    assert spec.min_lag_hours == 24
    assert spec.lookback_hours == 24 * 7


@pytest.mark.parametrize("hour", [24 * 30, 24 * 30 + 7, 24 * 41 + 23], ids=["midnight", "morning", "last"])
def test_row_ignores_readings_at_and_after_its_hour(load: pd.Series, hour: int) -> None:
    # Arrange: the same readings, with everything from `hour - min_lag + 1` on replaced by noise.
    spec = FeatureSpec(timezone="Europe/Rome", country="IT")
    temperature = synthetic_temperature(load)
    target = load.index[hour]
    changed = load.copy()
    cutoff = target - pd.Timedelta(hours=spec.min_lag_hours - 1)
    changed[changed.index >= cutoff] = np.random.default_rng(9).uniform(0, 1e6, (changed.index >= cutoff).sum())
    # Act
    before = build_features(load, temperature, spec).loc[target]
    after = build_features(changed, temperature, spec).loc[target]
    # Assert: bit-identical, NaN in the same places
    pd.testing.assert_series_equal(before, after, check_exact=True)


def test_dropping_future_rows_leaves_a_row_unchanged(load: pd.Series) -> None:
    spec = FeatureSpec()
    target = load.index[24 * 35]
    full = build_features(load, None, spec).loc[target]
    truncated = build_features(load[load.index < target], None, spec, pd.DatetimeIndex([target])).loc[target]
    pd.testing.assert_series_equal(full, truncated, check_exact=True)


def test_gaps_become_nan_lags_not_shifted_neighbours(load: pd.Series) -> None:
    spec = FeatureSpec(lags=(24,), windows=(), same_hour_days=(), temperature=False, calendar=())
    gappy = load.drop(load.index[100:110])
    features = build_features(gappy, None, spec)
    assert len(features) == len(load)  # reindexed to the full hourly grid
    assert features["lag_24h"].iloc[124:134].isna().all()
    assert features["lag_24h"].iloc[134] == load.iloc[110]


def test_without_temperature_series_the_columns_are_nan(load: pd.Series) -> None:
    features = build_features(load, None, FeatureSpec())
    assert features["temp_c"].isna().all()
    assert np.isfinite(features["lag_168h"].iloc[200])
