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
    spec = FeatureSpec(
        lags=(24, 48),
        windows=(24,),
        window_shift=24,
        same_hour_days=(7,),
        temperature_windows=(),
        anchor_hours=None,
    )
    assert spec.min_lag_hours == 24
    assert spec.lookback_hours == 24 * 7
    # anchored features reach from the previous midnight back over a week of same hours
    assert (
        FeatureSpec(lags=(24,), same_hour_days=(), windows=(), temperature_windows=()).lookback_hours == 216
    )


@pytest.mark.parametrize("hour", [24 * 30, 24 * 30 + 7, 24 * 41 + 23], ids=["midnight", "morning", "last"])
def test_row_ignores_readings_at_and_after_its_hour(load: pd.Series, hour: int) -> None:
    # Arrange: the same readings, with everything at and after the hour replaced by noise.
    spec = FeatureSpec(timezone="Europe/Rome", country="IT")
    temperature = synthetic_temperature(load)
    target = load.index[hour]
    changed = load.copy()
    cutoff = target
    changed[changed.index >= cutoff] = np.random.default_rng(9).uniform(
        0, 1e6, (changed.index >= cutoff).sum()
    )
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


@pytest.mark.parametrize("hour", [24 * 30, 24 * 30 + 7, 24 * 30 + 23], ids=["00h", "07h", "23h"])
def test_each_column_family_respects_its_own_bound(load: pd.Series, hour: int) -> None:
    # Lag/window columns read nothing after t - min_lag; anchored ones nothing from the UTC midnight on.
    spec = FeatureSpec()
    target = load.index[hour]
    midnight = target.floor("D")
    lag_cut = target - pd.Timedelta(hours=spec.min_lag_hours - 1)
    base = build_features(load, None, spec).loc[target]
    for cutoff, columns in (
        (lag_cut, [c for c in base.index if c.startswith(("lag_", "roll_", "same_hour_"))]),
        (midnight, ["last_obs", "anchor_mean_24h", "lead_hours"]),
    ):
        changed = load.copy()
        changed[changed.index >= cutoff] = -1.0
        after = build_features(changed, None, spec).loc[target]
        pd.testing.assert_series_equal(base[columns], after[columns], check_exact=True)
    assert base["lead_hours"] == target.hour
    assert base["last_obs"] == load.loc[midnight - pd.Timedelta(hours=1)]
