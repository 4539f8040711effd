"""The global ensemble member in the services: trained as a task, saved in the model store with its
backtest edition, used by forecasts, ensembles and backtests, on a real DuckDB store and file model
store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from energy_forecast.api.routes.models import version_public
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.services.evaluation import backtest_meter, evaluate_meter
from energy_forecast.services.fleet_model import global_member_is_fresh, global_member_jobs, is_fleet_model
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.ml.conftest import synthetic_meter

ELEC = MeterType.ELECTRICITY
START = "2024-01-01"


def add_meter(store: DuckDBSeriesStore, meter_id: str, days: int, scale: float, seed: int) -> pd.Series:
    """A meter of ``days`` ending 2024-02-19 23:00 UTC at site s1 (temperature written once per seed 0)."""
    end = pd.Timestamp("2024-02-20T00:00:00Z")
    start = end - pd.Timedelta(days=days)
    consumption, temperature = synthetic_meter(24 * 50, seed=seed, start=START)
    readings = consumption[(consumption.index >= start) & (consumption.index < end)] * scale
    store.upsert_meters([Meter(meter_id, ELEC, "s1")])
    store.write_readings(ELEC, meter_id, readings)
    store.write_temperature("s1", temperature)
    return readings


@pytest.fixture(scope="module")
def fleet_stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    root = tmp_path_factory.mktemp("fleet")
    store = DuckDBSeriesStore(root / "s.duckdb")
    models = FileModelStore(root / "models")
    for i, scale in enumerate((1.0, 20.0, 300.0)):
        add_meter(store, f"old{i}", 49, scale, seed=i)
    details = train_meter(store, models, meter_id=FLEET_MODEL_ID, meter_type=ELEC)
    assert details["model"] == "global" and details["meters"] == 3 and details["model_version"] == 1
    yield store, models
    store.close()


def test_the_fleet_model_is_a_versioned_bundle_marked_as_such(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    _, models = fleet_stores
    info = models.get_version(ELEC, FLEET_MODEL_ID)
    assert is_fleet_model(info) and version_public(info).kind == "fleet"


def test_a_two_week_meter_with_a_missing_hour_gets_global_forecasts_and_backtest(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = fleet_stores
    readings = add_meter(store, "new14", 14, 7.0, seed=5)
    store.delete_readings(ELEC, "new14", readings.index[100], readings.index[100] + pd.Timedelta(minutes=30))
    last = pd.Timestamp("2024-02-19T23:00:00Z")
    result = forecast_meter(
        store,
        models,
        meter_id="new14",
        meter_type=ELEC,
        start=last - pd.Timedelta(days=1),
        end=last + pd.Timedelta(days=1),
    )
    assert result.model == "global" and not result.substituted
    ahead = [p for p in result.points if p.kind == "forecast"]
    assert len(ahead) == 24 and all(np.isfinite(p.value) and p.lower <= p.value <= p.upper for p in ahead)
    backtest = backtest_meter(store, model_store=models, meter_id="new14", meter_type=ELEC, days=3)
    assert backtest["summary"]["model_kind"] == "global" and len(backtest["records"]) == 72


@pytest.mark.parametrize("missing_hour", [False, True])
def test_a_seven_day_meter_gets_global_forecasts_and_a_backtest(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore], missing_hour: bool
) -> None:
    store, models = fleet_stores
    meter_id = f"week{int(missing_hour)}"
    readings = add_meter(store, meter_id, 7, 4.0, seed=12 + missing_hour)
    if missing_hour:
        hour = readings.index[80]
        store.delete_readings(ELEC, meter_id, hour, hour + pd.Timedelta(minutes=30))
    last = pd.Timestamp("2024-02-19T23:00:00Z")
    result = forecast_meter(
        store, models, meter_id=meter_id, meter_type=ELEC, start=last, end=last + pd.Timedelta(days=2)
    )
    assert result.model == "global" and not result.substituted
    ahead = [p for p in result.points if p.kind == "forecast"]
    assert len(ahead) == 48 and all(np.isfinite(p.value) and p.lower <= p.value <= p.upper for p in ahead)
    backtest = backtest_meter(store, model_store=models, meter_id=meter_id, meter_type=ELEC)
    summary = backtest["summary"]
    assert summary["model_kind"] == "global" and summary["days"] == 6 and len(backtest["records"]) == 144
    assert summary["cv_rmse_ratio_to_best_baseline"] is not None


def test_under_a_week_the_answer_is_the_labelled_fallback(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = fleet_stores
    add_meter(store, "new5", 5, 3.0, seed=6)
    last = pd.Timestamp("2024-02-19T23:00:00Z")
    result = forecast_meter(
        store, models, meter_id="new5", meter_type=ELEC, start=last, end=last + pd.Timedelta(hours=24)
    )
    assert result.model == "fallback" and result.substituted


def test_an_established_meter_stores_ensemble_weights_and_forecasts_the_ensemble(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = fleet_stores
    add_meter(store, "est", 49, 40.0, seed=8)
    train_meter(store, models, meter_id="est", meter_type=ELEC)
    info = models.get_version(ELEC, "est")
    blend = version_public(info).blend
    assert blend is not None and blend["fleet_version"] == 1
    assert sum(blend[k] for k in ("model", "fleet", "baseline")) == pytest.approx(1.0)
    last = pd.Timestamp("2024-02-19T23:00:00Z")
    result = forecast_meter(
        store, models, meter_id="est", meter_type=ELEC, start=last, end=last + pd.Timedelta(hours=24)
    )
    assert result.model == "ensemble" and result.model_version == info.version
    assert blend["raw"] is not None and len(blend["raw"]) == 3


def test_the_backtest_reads_the_kept_edition_and_trains_nothing(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, models = fleet_stores
    add_meter(store, "est3", 49, 25.0, seed=14)
    info = models.get_version(ELEC, FLEET_MODEL_ID)
    assert info.metadata["backtest_until"] == "2024-01-23T00:00:00+00:00"

    def no_training(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a request trained a global model")

    monkeypatch.setattr("energy_forecast.ml.fleet.fit_fleet", no_training)
    monkeypatch.setattr("energy_forecast.services.fleet_model.fit_fleet", no_training)
    result = backtest_meter(store, model_store=models, meter_id="est3", meter_type=ELEC, days=14)
    summary = result["summary"]
    assert summary["model_kind"] == "ensemble" and summary["blend"]["fleet"] > 0
    assert summary["first_origin"] == "2024-02-06T00:00:00Z"


def test_test_model_scores_the_ensemble_with_a_global_model_trained_before_the_test_hours(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = fleet_stores
    add_meter(store, "est2", 49, 15.0, seed=11)
    alone = evaluate_meter(store, meter_id="est2", meter_type=ELEC)
    blended = evaluate_meter(store, meter_id="est2", meter_type=ELEC, model_store=models)
    assert blended.test_window == alone.test_window and blended.test_samples == alone.test_samples
    assert blended.metrics["cv_rmse_percent"] is not None
    assert blended.metrics != alone.metrics


def test_a_fresh_global_member_is_left_out_of_a_batch_of_named_meters_only(
    fleet_stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = fleet_stores
    meters, day = store.list_meters(), timedelta(days=1)
    assert global_member_jobs(meters, {ELEC}) == [(FLEET_MODEL_ID, ELEC)]  # every meter: always
    assert global_member_jobs(meters, {ELEC}, unless_fresh=(models, day)) == []
    saved = datetime.fromisoformat(models.get_version(ELEC, FLEET_MODEL_ID).created_at or "")
    assert global_member_is_fresh(models, day, ELEC, saved + day / 2)
    assert not global_member_is_fresh(models, day, ELEC, saved + 2 * day)  # past the maximum age
    assert not global_member_is_fresh(models, day, MeterType.WATER)  # none trained
