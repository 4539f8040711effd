"""Fleet model, descriptors and blending on synthetic meters of very different scales."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.features.spec import build_features
from energy_forecast.ml.blend import simplex_weights
from energy_forecast.ml.fleet import FleetMember, FleetModel, fit_fleet_members, fleet_spec, has_fleet_history
from energy_forecast.ml.fleet_backtest import fleet_backtest
from energy_forecast.ml.forecasting import forecast
from tests.ml.conftest import synthetic_meter

ELEC = MeterType.ELECTRICITY
ORIGIN = pd.Timestamp("2024-02-05T00:00:00Z")


def members(days: int = 42) -> list[FleetMember]:
    """Four meters of the same habits from 1x to 1000x scale, one site's temperature."""
    out = []
    for i, scale in enumerate((1.0, 10.0, 100.0, 1000.0)):
        consumption, temperature = synthetic_meter(24 * days, seed=i)
        out.append(FleetMember(f"m{i}", consumption * scale, temperature, "Europe/Rome", "IT"))
    return out


@pytest.fixture(scope="module")
def fleet() -> FleetModel:
    return fit_fleet_members(members(), ELEC, until=ORIGIN, max_rows=4000, folds=2)


def test_descriptors_are_scale_free_and_equal_in_training_and_forecasting() -> None:
    consumption, temperature = synthetic_meter(24 * 40)
    spec = fleet_spec(ELEC, "Europe/Rome", "IT")
    small = build_features(consumption, temperature, spec).filter(like="desc_")
    large = build_features(consumption * 1000, temperature, spec).filter(like="desc_")
    np.testing.assert_allclose(small.to_numpy(), large.to_numpy(), rtol=1e-9, equal_nan=True)
    day = pd.date_range("2024-01-30", periods=24, freq="h", tz="UTC")
    at_forecast = build_features(consumption[consumption.index < day[0]], temperature, spec, day)
    full = build_features(consumption, temperature, spec).loc[day]
    assert np.array_equal(at_forecast.to_numpy(), full.to_numpy(), equal_nan=True)


def test_a_meter_never_seen_gets_a_fleet_forecast_at_its_own_scale(fleet: FleetModel) -> None:
    consumption, temperature = synthetic_meter(24 * 10, seed=9, start="2024-01-26")
    new = consumption * 50
    model = fleet.model_for("brand-new", new, "Europe/Rome", "IT")
    frame = forecast(model, new, temperature, new.index[-1] + pd.Timedelta(hours=1), 48)
    assert len(frame) == 48 and np.isfinite(frame.to_numpy()).all()
    assert (frame["lower"] <= frame["forecast"]).all() and (frame["forecast"] <= frame["upper"]).all()
    assert 0.5 * new.mean() < frame["forecast"].mean() < 2.0 * new.mean()
    assert model.metadata["model"] == "fleet"


@cache
def fleets_before_and_after_a_change(library: str) -> tuple[FleetModel, FleetModel]:
    """Fleets fitted ``until`` the origin on the members as they are, and with every meter changed
    at and after the origin (fitted once per library for the module's leakage cases)."""
    changed = []
    for member in members():
        later = member.consumption.index >= ORIGIN
        changed.append(
            replace(member, consumption=member.consumption.where(~later, member.consumption * 3 + 7))
        )
    fleet = fit_fleet_members(members(), ELEC, until=ORIGIN, max_rows=4000, folds=2, library=library)
    again = fit_fleet_members(changed, ELEC, until=ORIGIN, max_rows=4000, folds=2, library=library)
    return fleet, again


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("meter_id", ["m0", "someone-new"])
def test_cross_meter_leakage_other_meters_after_the_origin_change_nothing(
    library: str, meter_id: str
) -> None:
    """Every global member (either library; fold model or full model) trained ``until`` an origin
    forecasts the same whatever any meter did at or after it."""
    fleet, again = fleets_before_and_after_a_change(library)
    assert fleet.library == again.library == library
    target = members()[0]
    history = target.consumption[target.consumption.index < ORIGIN]
    first = forecast(
        fleet.model_for(meter_id, history, "Europe/Rome", "IT"), history, target.temperature, ORIGIN, 24
    )
    second = forecast(
        again.model_for(meter_id, history, "Europe/Rome", "IT"), history, target.temperature, ORIGIN, 24
    )
    assert first.equals(second)


def test_fleet_bundle_round_trips_bit_for_bit(fleet: FleetModel) -> None:
    again = FleetModel.from_artifacts(fleet.to_artifacts())
    target = members()[1]
    history = target.consumption[target.consumption.index < ORIGIN]
    one = forecast(fleet.model_for("m1", history), history, target.temperature, ORIGIN, 48)
    two = forecast(again.model_for("m1", history), history, target.temperature, ORIGIN, 48)
    assert one.equals(two)
    assert again.folds == fleet.folds and again.metadata == fleet.metadata
    assert again.library == fleet.library == "lightgbm"


def test_fleet_history_counts_days_not_exact_hours() -> None:
    consumption, _ = synthetic_meter(24 * 7)
    assert has_fleet_history(consumption.drop(consumption.index[30]))
    assert not has_fleet_history(consumption.iloc[: 24 * 6])


def test_simplex_weights_give_the_baseline_what_it_wins() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(100, 10, 500)
    noisy_model = actual + rng.normal(0, 30, 500)
    baseline = actual + rng.normal(0, 2, 500)
    weights = simplex_weights(actual, np.column_stack([noisy_model, baseline]))
    assert weights.sum() == pytest.approx(1.0) and weights[1] >= 0.9


def test_a_two_week_meter_with_a_missing_hour_is_backtested_by_the_fleet(fleet: FleetModel) -> None:
    consumption, temperature = synthetic_meter(24 * 21, seed=7, start="2024-01-22")
    gappy = (consumption * 20).drop(consumption.index[50])
    result = fleet_backtest(
        gappy, temperature, meter_id="cold", meter_type=ELEC, fleet=fleet, timezone="Europe/Rome", days=7
    )
    assert result.model_kind == "global"
    assert result.metrics["model"]["cv_rmse_percent"] is not None


def test_the_ensemble_hold_out_reuses_the_global_forecasts_of_its_weights(fleet: FleetModel) -> None:
    from energy_forecast.ml.blend import ensemble_holdout, fit_blend
    from energy_forecast.ml.training import fit_model

    consumption, temperature = synthetic_meter(24 * 40, seed=3, start="2023-12-20")
    train = consumption[consumption.index < ORIGIN] * 30
    result = fit_model(
        train, temperature, meter_id="m-new", meter_type=ELEC, timezone="Europe/Rome", country="IT"
    )
    model = fleet.model_for("m-new", train, "Europe/Rome", "IT")
    assert result.holdout is not None
    weights = fit_blend(result.holdout, train, temperature, model, fleet_version=7)
    assert weights is not None and weights.fleet > 0
    kept = result.holdout.attrs["global_day_ahead"]
    assert kept.version == 7 and len(kept.values) == len(result.holdout)
    pd.concat([result.holdout, result.holdout.copy()])  # frames carrying it still concatenate
    reused = ensemble_holdout(result.holdout, train, temperature, model, weights)
    fresh = ensemble_holdout(
        result.holdout.copy().assign(), train, temperature, model, replace(weights, fleet_version=8)
    )
    pd.testing.assert_frame_equal(reused, fresh)
