"""The end-of-year break in the default recipe: who gets it, what it learns, old models unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.features.calendar import year_end_dates
from energy_forecast.features.spec import FeatureSpec
from energy_forecast.ml.fleet import fleet_spec
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.params import default_spec
from energy_forecast.ml.training import fit_model
from tests.ml.conftest import synthetic_meter

ELEC, WATER = MeterType.ELECTRICITY, MeterType.WATER


def test_buildings_in_christmas_countries_get_the_break_and_no_one_else_does() -> None:
    assert "year_end" in default_spec(ELEC, "Europe/London", "GB").calendar
    assert default_spec(ELEC, "Africa/Casablanca", "MA") == FeatureSpec(
        timezone="Africa/Casablanca", country="MA"
    )
    assert "year_end" not in default_spec(WATER, "Europe/Rome", "IT").calendar
    # the global member stacks every country of the type into one matrix: same columns for all
    assert "year_end" in fleet_spec(ELEC, "Africa/Casablanca", "MA").calendar
    assert "year_end" not in fleet_spec(WATER, "Europe/Rome", "IT").calendar


def closing_building() -> tuple[pd.Series, pd.Series]:
    """A year and a bit of an office that runs at 40 % over the end-of-year break."""
    consumption, temperature = synthetic_meter(24 * 410, seed=3, start="2022-11-20")
    local = consumption.index.tz_convert("Europe/London")
    breaks = year_end_dates("GB", (2022, 2023))
    closed = np.fromiter((d in breaks for d in local.date), dtype=bool, count=len(local))
    return make_series(
        consumption.index, np.where(closed, 0.4, 1.0) * consumption.to_numpy(), "c"
    ), temperature


@pytest.fixture(scope="module")
def building() -> tuple[pd.Series, pd.Series]:
    return closing_building()


def test_a_building_that_closed_last_year_is_forecast_low_over_this_years_break(
    building: tuple[pd.Series, pd.Series],
) -> None:
    consumption, temperature = building
    origin = pd.Timestamp("2023-12-25T00:00:00Z")  # the break's first day (a Monday)
    history = consumption[consumption.index < pd.Timestamp("2023-12-22T00:00:00Z")]
    common = {"meter_id": "office", "meter_type": ELEC, "timezone": "Europe/London", "country": "GB"}
    with_break = fit_model(history, temperature, **common).model
    without = fit_model(
        history, temperature, spec=FeatureSpec(timezone="Europe/London", country="GB"), **common
    )
    assert "year_end" in with_break.spec.calendar
    known = consumption[consumption.index < origin]
    ours = forecast(with_break, known, temperature, origin, 72)["forecast"].mean()
    plain = forecast(without.model, known, temperature, origin, 72)["forecast"].mean()
    actual = consumption[origin : origin + pd.Timedelta(hours=71)].mean()
    # without the break the model forecasts two holidays and a working day; with it, a closed office
    assert abs(ours - actual) < 0.5 * abs(plain - actual)


def test_a_model_saved_without_the_break_reloads_and_forecasts_as_it_did(
    building: tuple[pd.Series, pd.Series],
) -> None:
    consumption, temperature = building
    history = consumption[consumption.index < pd.Timestamp("2023-02-01T00:00:00Z")]
    before = FeatureSpec(timezone="Europe/London", country="GB")  # the recipe models were saved with
    model = fit_model(
        history,
        temperature,
        meter_id="old",
        meter_type=ELEC,
        timezone="Europe/London",
        country="GB",
        spec=before,
    ).model
    restored = ForecastModel.from_artifacts(model.to_artifacts())
    assert restored.spec == before and "year_end" not in restored.feature_names
    origin = pd.Timestamp("2023-12-27T00:00:00Z")
    known = consumption[consumption.index < origin]
    assert forecast(restored, known, temperature, origin, 48).equals(
        forecast(model, known, temperature, origin, 48)
    )
