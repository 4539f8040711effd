"""meter_scenarios(): joint paths around the forecast's own point, on a tiny trained meter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.scenarios import COMONOTONE, RESIDUAL_DAYS
from energy_forecast.services import training
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.scenarios import RESIDUALS_FIELD, meter_scenarios
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
START = pd.Timestamp("2024-03-01T00:00Z")
END = pd.Timestamp("2024-03-02T23:00Z")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    store.upsert_meters([Meter("b1", ELEC, "s1", unit="kWh"), Meter("new", ELEC, "s1")])
    store.write_readings(ELEC, "b1", hourly_series("2024-01-01", 24 * 60, seed=1))
    store.write_readings(ELEC, "new", hourly_series("2024-02-27", 24 * 3, seed=4))
    store.write_temperature("s1", hourly_series("2024-01-01", 24 * 62, seed=2, base=10, name="temperature"))
    yield store, FileModelStore(tmp_path / "models")
    store.close()


def _window(store: DuckDBSeriesStore, models: FileModelStore, meter_id: str, **kw: object):
    args = {"meter_id": meter_id, "meter_type": ELEC, "start": START, "end": END}
    forecast = forecast_meter(store, models, **args)
    return forecast, meter_scenarios(store, models, **args, **kw)


def test_paths_centre_on_the_forecast_and_match_its_calibrated_band(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    train_meter(store, models, meter_id="b1", meter_type=ELEC)
    assert models.get_version(ELEC, "b1").metadata[RESIDUALS_FIELD]["hours"] > 24 * 7

    forecast, scenarios = _window(store, models, "b1", size=400, seed=7)

    ahead = [p for p in forecast.points if p.kind == "forecast"]
    assert scenarios.dependence == RESIDUAL_DAYS and scenarios.unit == "kWh"
    assert scenarios.model == forecast.model and (scenarios.members, scenarios.fallbacks) == (1, 0)
    assert np.array_equal(scenarios.point, [p.value for p in ahead])  # the forecast's own point path
    assert scenarios.paths.shape == (400, 48) and (scenarios.paths >= 0).all()
    band = scenarios.hourly_quantiles((0.1, 0.9))
    ours = np.mean(band["p90"] - band["p10"])
    theirs = np.mean([p.quantiles["p90"] - p.quantiles["p10"] for p in ahead])
    assert 0.5 < ours / theirs < 2.0  # same calibration source: hold-out residuals of the same forecaster
    for key in ("p10", "p90"):  # the paths' marginals are the forecast's own calibrated quantiles
        wanted = np.array([p.quantiles[key] for p in ahead])
        assert np.allclose(band[key], wanted, atol=0.03 * theirs)
    again = meter_scenarios(
        store, models, meter_id="b1", meter_type=ELEC, start=START, end=END, size=400, seed=7
    )
    assert np.array_equal(again.paths, scenarios.paths)


def test_a_bundle_without_residual_days_samples_its_quantiles_comonotone_and_says_so(
    stores: tuple[DuckDBSeriesStore, FileModelStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, models = stores
    monkeypatch.setattr(training, "holdout_residual_days", lambda *a, **k: None)
    train_meter(store, models, meter_id="b1", meter_type=ELEC)

    forecast, scenarios = _window(store, models, "b1", size=2000)

    ahead = [p for p in forecast.points if p.kind == "forecast"]
    assert scenarios.dependence == COMONOTONE
    band = scenarios.hourly_quantiles((0.1, 0.9))
    assert np.allclose(band["p10"], [p.quantiles["p10"] for p in ahead], rtol=0.05)
    assert np.allclose(band["p90"], [p.quantiles["p90"] for p in ahead], rtol=0.05)


def test_a_meter_without_a_model_contributes_its_labelled_fallback(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    forecast, scenarios = _window(store, models, "new", size=50)
    assert forecast.model == "fallback" and scenarios.fallbacks == 1 and scenarios.dependence == COMONOTONE
    assert np.array_equal(scenarios.point, [p.value for p in forecast.points if p.kind == "forecast"])
