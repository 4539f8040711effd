"""Calibrated quantiles: keys, parsing, no crossing, out-of-sample calibration, older bundles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_forecast.domain.meters import MeterType
from energy_forecast.features import build_features
from energy_forecast.ml.backtest import rolling_origin_backtest
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.metrics import evaluate_quantiles
from energy_forecast.ml.model import METADATA_ARTIFACT, ForecastModel
from energy_forecast.ml.quantiles import (
    GRID,
    QuantileOffsets,
    key_level,
    normalised_offsets,
    parse_levels,
    quantile_columns,
    quantile_key,
    recency_weights,
    weighted_quantile,
)
from energy_forecast.ml.training import TrainingResult

from .conftest import synthetic_meter


@pytest.mark.parametrize(
    ("level", "key"),
    [
        (0.1, "p10"),
        (0.5, "p50"),
        (0.9, "p90"),
        (0.025, "p2.5"),
        (0.975, "p97.5"),
        (0.001, "p0.1"),
        (0.333, "p33.3"),
    ],
)
def test_keys_are_p_and_the_level_in_percent_and_read_back(level: float, key: str) -> None:
    assert quantile_key(level) == key
    assert key_level(key) == pytest.approx(level)


def test_levels_parse_sorted_and_deduplicated() -> None:
    assert parse_levels("0.9, 0.1,0.5,0.1") == (0.1, 0.5, 0.9)
    assert parse_levels("0.025,0.975") == (0.025, 0.975)


@pytest.mark.parametrize("text", ["", "0", "1", "1.5", "-0.1", "abc", "0.1;0.9", "nan"])
def test_bad_levels_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError):
        parse_levels(text)


residual_sets = st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=0, max_size=300)
level_sets = st.lists(st.floats(min_value=0.0001, max_value=0.9999), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    residuals=residual_sets,
    levels=level_sets,
    centers=st.lists(st.floats(min_value=-50, max_value=1e4, allow_nan=False), min_size=1, max_size=20),
    widen=st.floats(min_value=0.0, max_value=5.0),
    spread=st.floats(min_value=0.0, max_value=100.0),
)
def test_quantiles_never_cross_whatever_the_residuals_widening_or_clipping(
    residuals: list[float], levels: list[float], centers: list[float], widen: float, spread: float
) -> None:
    offsets = QuantileOffsets.from_residuals(residuals)
    ordered = sorted(set(levels))
    values = quantile_columns(np.array(centers), np.full(len(centers), spread), offsets, ordered, widen)
    table = np.column_stack([values[q] for q in ordered])
    assert (np.diff(table, axis=1) >= 0).all()
    assert (table >= 0).all()
    rows = np.linspace(0.5, 3.0, len(centers))  # a factor per row (recursive blocks)
    per_row = quantile_columns(np.array(centers), np.full(len(centers), spread), offsets, ordered, rows)
    assert (np.diff(np.column_stack([per_row[q] for q in ordered]), axis=1) >= 0).all()


def test_many_random_residual_sets_give_non_decreasing_offsets_at_any_levels() -> None:
    rng = np.random.default_rng(7)
    for trial in range(500):
        kind = trial % 4
        size = int(rng.integers(1, 400))
        r = [
            rng.normal(0, 1, size),
            rng.lognormal(0, 1.5, size) - 1,
            rng.standard_t(1.5, size),
            np.round(rng.normal(0, 1, size)),  # ties
        ][kind]
        offsets = QuantileOffsets.from_residuals(r)
        levels = np.sort(rng.uniform(0.001, 0.999, 9))
        assert (np.diff(offsets.at(levels)) >= 0).all()
        assert (np.diff(offsets.at(levels, float(rng.uniform(0, 4)))) >= 0).all()


def test_offsets_round_trip_through_json() -> None:
    offsets = QuantileOffsets.from_residuals(np.random.default_rng(1).normal(size=500)).with_widen((1.0, 1.3))
    assert QuantileOffsets.from_dict(json.loads(json.dumps(offsets.to_dict()))) == offsets


def test_split_conformal_offsets_cover_each_level_out_of_sample() -> None:
    rng = np.random.default_rng(3)
    calibration, future = rng.gamma(2.0, 3.0, 2000) - 6, rng.gamma(2.0, 3.0, 20000) - 6  # skewed
    offsets = QuantileOffsets.from_residuals(calibration)
    levels = (0.025, 0.1, 0.5, 0.9, 0.975)
    for level, offset in zip(levels, offsets.at(levels), strict=True):
        assert np.mean(future <= offset) == pytest.approx(level, abs=0.02)


def test_lead_hour_bands_widen_later_days_from_their_own_residuals() -> None:
    rng = np.random.default_rng(5)
    lead = np.tile(np.arange(72), 200)
    residuals = rng.normal(0, 1 + lead // 24, lead.size)  # day 2 twice, day 3 three times as wide
    offsets = QuantileOffsets.from_residuals(residuals, lead)
    assert offsets.widen[0] == 1.0
    assert offsets.widen[1] == pytest.approx(2.0, rel=0.1)
    assert offsets.widen[2] == pytest.approx(3.0, rel=0.1)
    day3 = residuals[lead // 24 == 2]
    low, high = offsets.at((0.1, 0.9), offsets.block_factor(3))
    assert np.mean(day3 <= low) == pytest.approx(0.1, abs=0.02)
    assert np.mean(day3 <= high) == pytest.approx(0.9, abs=0.02)


def test_centred_offsets_keep_the_spread_and_put_the_median_on_the_forecast() -> None:
    residuals = np.random.default_rng(8).gamma(2.0, 3.0, 3000) + 5.0  # a biased, skewed hold-out
    offsets = QuantileOffsets.from_residuals(residuals).with_widen((1.0, 1.4))
    centred = offsets.centred()
    assert float(centred.at((0.5,))[0]) == pytest.approx(0.0, abs=1e-12)
    levels = (0.05, 0.1, 0.9, 0.95)
    assert np.diff(centred.at(levels)) == pytest.approx(np.diff(offsets.at(levels)))
    assert centred.widen == offsets.widen and (np.diff(centred.offsets) >= 0).all()


def test_normalised_offsets_follow_the_scale() -> None:
    rng = np.random.default_rng(11)
    scale = rng.uniform(1, 50, 4000)
    actual = 100 + rng.normal(0, 1, 4000) * scale
    offsets = normalised_offsets(actual[:2000], np.full(2000, 100.0), scale[:2000])
    assert offsets is not None
    values = quantile_columns(np.full(2000, 100.0), scale[2000:], offsets, (0.1, 0.9))
    assert np.mean(actual[2000:] <= values[0.1]) == pytest.approx(0.1, abs=0.025)
    assert np.mean(actual[2000:] <= values[0.9]) == pytest.approx(0.9, abs=0.025)
    assert normalised_offsets(actual[:10], np.zeros(10), np.ones(10)) is None


def test_weighted_quantiles_lean_toward_heavy_values() -> None:
    values = np.array([3.0, 1.0, 2.0])
    assert weighted_quantile(values, np.array([1.0, 1.0, 1.0]), (0.5,))[0] == pytest.approx(2.0)
    assert weighted_quantile(values, np.array([10.0, 1.0, 1.0]), (0.5,))[0] > 2.5
    sample = np.random.default_rng(2).normal(size=5000)
    assert weighted_quantile(sample, np.ones(5000), (0.1, 0.9)) == pytest.approx(
        np.quantile(sample, (0.1, 0.9)), abs=0.01
    )
    equal = QuantileOffsets.from_residuals(np.arange(10.0), weights=np.ones(10))
    assert (np.diff(equal.offsets) >= 0).all() and equal.at((0.5,))[0] == pytest.approx(4.5)


def test_recency_weights_halve_every_half_life_and_move_the_offsets_to_recent_spread() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 120, freq="h", tz="UTC")
    weights = recency_weights(index, 14.0)
    assert weights is not None and weights[-1] == pytest.approx(1.0)
    assert weights[-1 - 24 * 14] == pytest.approx(0.5) and recency_weights(index, None) is None
    # The spread tripled for the last six weeks: weighted offsets follow it, equal ones lag.
    rng = np.random.default_rng(5)
    scale = np.where(index >= index[-1] - pd.Timedelta(days=42), 3.0, 1.0)
    residuals = rng.normal(0, 1, len(index)) * scale
    recent = normalised_offsets(residuals, np.zeros(len(index)), np.ones(len(index)), weights=weights)
    equal = normalised_offsets(residuals, np.zeros(len(index)), np.ones(len(index)))
    assert recent is not None and equal is not None
    future = rng.normal(0, 3, 5000)
    low, high = recent.at((0.1, 0.9))
    assert np.mean((future >= low) & (future <= high)) == pytest.approx(0.8, abs=0.04)
    true_width = 2 * 1.2816 * 3.0
    assert abs(high - low - true_width) < abs(float(np.diff(equal.at((0.1, 0.9)))[0]) - true_width)


def test_an_older_band_gives_derived_quantiles_with_its_band_exact() -> None:
    offsets = QuantileOffsets.from_band(-2.0, 3.0, 0.8, (1.0, 1.5))
    assert offsets.derived and offsets.widen == (1.0, 1.5)
    low, median, high = offsets.at((0.1, 0.5, 0.9))
    assert (low, median, high) == pytest.approx((-2.0, 0.0, 3.0))
    assert (np.diff(offsets.at(GRID)) >= 0).all()


def test_a_model_bundle_from_before_quantiles_forecasts_every_level(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    artifacts = trained.model.to_artifacts()
    document = json.loads(artifacts[METADATA_ARTIFACT])
    del document["quantiles"]  # as written before quantiles: an 80 % band only
    old = ForecastModel.from_artifacts({**artifacts, METADATA_ARTIFACT: json.dumps(document).encode()})
    assert old.quantiles is not None and old.quantiles.derived
    old.levels = (0.05, 0.1, 0.5, 0.9, 0.95)
    origin = consumption.index[-24 * 3]
    frame = forecast(old, consumption, temperature, origin, 48)
    table = frame[["p5", "p10", "p50", "p90", "p95"]].to_numpy()
    assert (np.diff(table, axis=1) >= 0).all()
    current = forecast(trained.model, consumption, temperature, origin, 48)
    # The band it was calibrated with is kept; the first day is compared because later days read
    # the fed-back median, which the older bundle takes to be the point forecast.
    np.testing.assert_allclose(
        (frame["upper"] - frame["lower"]).to_numpy()[:24],
        (current["upper"] - current["lower"]).to_numpy()[:24],
        rtol=1e-9,
    )


def test_a_model_reports_the_levels_asked_for_and_the_median_is_the_value(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    model = ForecastModel.from_artifacts(trained.model.to_artifacts())
    model.levels = (0.025, 0.25, 0.75, 0.975)
    frame = model.predict_interval(build_features(consumption, temperature, model.spec).iloc[-200:])
    assert list(frame.columns) == ["forecast", "lower", "upper", "p2.5", "p25", "p75", "p97.5"]
    ordered = frame[["p2.5", "lower", "p25", "forecast", "p75", "upper", "p97.5"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()


def test_backtest_quantiles_are_calibrated_out_of_sample_on_synthetic_meters() -> None:
    # One meter's 28 days are a few weeks of correlated errors: its coverage alone moves by +-15
    # points from seed to seed. Pooled over five meters it must sit near each level.
    coverage: dict[str, list[float]] = {"p10": [], "p50": [], "p90": []}
    for seed in range(1, 6):
        consumption, temperature = synthetic_meter(24 * 120, seed=seed)
        result = rolling_origin_backtest(
            consumption, temperature, meter_id="synthetic", meter_type=MeterType.ELECTRICITY, days=28
        )
        scored = result.metrics["model"]
        for key in coverage:
            coverage[key].append(scored[f"coverage_{key}_percent"])
        assert 0 < scored["rcrps"] < 0.2
    for key, level in (("p10", 10), ("p50", 50), ("p90", 90)):
        assert np.mean(coverage[key]) == pytest.approx(level, abs=5)


def test_quantile_metrics_match_hand_computed_values() -> None:
    actual = np.array([0.0, 10.0, 20.0, np.nan])
    quantiles = {0.1: np.array([1.0, 5.0, 5.0, 1.0]), 0.9: np.array([5.0, 15.0, 15.0, 5.0])}
    scored = evaluate_quantiles(actual, quantiles)
    # P10: losses 0.9*1, 0.1*5, 0.1*15 -> mean 2.9/3; P90: 0.1*5, 0.1*5, 0.9*5 -> 5.5/3
    assert scored["pinball_p10"] == pytest.approx(2.9 / 3)
    assert scored["pinball_p90"] == pytest.approx(5.5 / 3)
    assert scored["crps"] == pytest.approx(2 * (2.9 / 3 + 5.5 / 3) / 2)
    assert scored["coverage_p10_percent"] == pytest.approx(100 / 3)
    assert scored["coverage_p90_percent"] == pytest.approx(200 / 3)
    span = np.percentile([0.0, 10.0, 20.0], 99) - np.percentile([0.0, 10.0, 20.0], 1)
    assert scored["rcrps"] == pytest.approx(scored["crps"] / span)


def test_recency_weights_never_thin_the_outer_tails() -> None:
    rng = np.random.default_rng(3)
    residuals = np.concatenate([rng.normal(0, 5.0, 2000), rng.normal(0, 1.0, 200)])  # calm lately
    weights = np.concatenate([np.full(2000, 0.01), np.ones(200)])
    levels = (0.01, 0.1, 0.5, 0.9, 0.99)

    plain = QuantileOffsets.from_residuals(residuals, levels=levels).at(levels)
    weighted = QuantileOffsets.from_residuals(residuals, levels=levels, weights=weights).at(levels)

    assert weighted[0] == pytest.approx(plain[0]) and weighted[-1] == pytest.approx(plain[-1])
    assert plain[1] < weighted[1] < 0 < weighted[3] < plain[3]  # inside P5-P95 the recent spread
