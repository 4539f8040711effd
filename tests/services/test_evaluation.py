"""Chronological model test, fleet table and the rolling-origin backtest (service and CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.services.evaluation import backtest_meter, evaluate_fleet, evaluate_meter, r2_category
from energy_forecast.services.training import train_meter
from energy_forecast.settings import load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series
from tests.services.test_forecasting import seed_meter

ELEC = MeterType.ELECTRICITY
WATER = MeterType.WATER


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBSeriesStore]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    yield store
    store.close()


def test_model_test_trains_on_the_start_and_scores_the_end_against_a_baseline(
    store: DuckDBSeriesStore,
) -> None:
    seed_meter(store)

    result = evaluate_meter(store, meter_id="b1", meter_type=ELEC, test_size=0.25)

    assert result.test_window["test_start"] > "2024-02-1"
    assert result.test_samples > 24 * 10
    assert set(result.metrics) >= {
        "r2_score",
        "rmse",
        "mae",
        "mape_percent",
        "cv_rmse_percent",
        "nmbe_percent",
    }
    assert result.metrics["mape_hours"] == result.test_samples
    assert result.metrics["interval_coverage_percent"] is not None
    assert result.baseline_metrics["baseline"] in {"naive_1d", "naive_7d", "mean_7d"}
    assert result.performance_summary["r2_category"] == r2_category(result.metrics["r2_score"])
    assert result.message is None


def test_an_all_zero_test_window_gives_a_message_not_a_division_by_zero(store: DuckDBSeriesStore) -> None:
    index = pd.date_range("2024-01-01", periods=24 * 40, freq="h", tz="UTC")
    values = hourly_series("2024-01-01", 24 * 40, seed=3).to_numpy().copy()
    values[24 * 36 :] = 0.0  # a water district shut for the last four days
    store.upsert_meters([Meter("w1", WATER, "s1")])
    store.write_readings(WATER, "w1", make_series(index, values, "consumption"))

    result = evaluate_meter(store, meter_id="w1", meter_type=WATER, test_size=0.1)

    assert result.message is not None and "zero" in result.message
    assert result.metrics["mape_percent"] is None and result.metrics["cv_rmse_percent"] is None
    assert result.metrics["r2_score"] is None and result.performance_summary["r2_category"] is None
    assert result.metrics["rmse"] is not None


@pytest.mark.parametrize(
    ("r2", "category"),
    [
        pytest.param(0.95, "excellent", id="excellent"),
        pytest.param(0.9, "excellent", id="excellent-boundary"),
        pytest.param(0.85, "good", id="good"),
        pytest.param(0.6, "fair", id="fair-boundary"),
        pytest.param(0.2, "poor", id="poor"),
        pytest.param(None, None, id="undefined"),
    ],
)
def test_r2_categories_follow_the_seed_thresholds(r2: float | None, category: str | None) -> None:
    assert r2_category(r2) == category


def test_fleet_table_has_a_row_per_active_model_and_medians(store: DuckDBSeriesStore, tmp_path: Path) -> None:
    models = FileModelStore(tmp_path / "models")
    seed_meter(store, "b1")
    seed_meter(store, "b2")
    for meter_id in ("b1", "b2"):
        train_meter(store, models, meter_id=meter_id, meter_type=ELEC)

    table = evaluate_fleet(store, models, meter_type=ELEC)

    assert [row["meter_id"] for row in table["meters"]] == ["b1", "b2"]
    assert table["evaluated"] == 2 and table["failed"] == 0
    assert table["fleet_medians"]["cv_rmse_percent"] is not None


def test_backtest_records_are_iso_utc_hours_from_daily_origins(store: DuckDBSeriesStore) -> None:
    seed_meter(store)

    result = backtest_meter(store, meter_id="b1", meter_type=ELEC, horizon_hours=6, days=3)

    records = result["records"]
    assert len(records) == 18
    assert set(records[0]) == {"origin", "timestamp", "forecast", "lower", "upper", "quantiles"}
    assert set(records[0]["quantiles"]) == {"p10", "p50", "p90"}
    assert all(r["lower"] <= r["forecast"] <= r["upper"] for r in records)
    assert all(r["quantiles"]["p10"] <= r["quantiles"]["p50"] <= r["quantiles"]["p90"] for r in records)
    model = result["summary"]["model"]
    assert {"pinball_p10", "pinball_p50", "pinball_p90", "crps", "rcrps"} <= set(model)
    assert {"coverage_p10_percent", "coverage_p50_percent", "coverage_p90_percent"} <= set(model)
    assert (
        records[0]["origin"] == "2024-02-27T00:00:00Z" and records[-1]["timestamp"] == "2024-02-29T05:00:00Z"
    )
    assert "observed temperature stands in" in result["summary"]["note"]
    assert set(result["summary"]["baselines"]) == {"naive_1d", "naive_7d", "mean_7d"}


# -- through the command line ----------------------------------------------------------------------

runner = CliRunner()


def _cli_backtest(home: Path) -> dict[str, object]:
    result = runner.invoke(
        app,
        [
            "backtest",
            "--meter-id",
            "b1",
            "--meter-type",
            "electricity",
            "--horizon-hours",
            "24",
            "--days",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_cli_backtest_forecasts_at_an_origin_ignore_readings_at_and_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("EF_HOME", str(home))
    settings = load_settings()
    store = DuckDBSeriesStore(settings.duckdb_path)
    seed_meter(store)
    store.close()
    origin = pd.Timestamp("2024-02-28T00:00:00Z")

    before = _cli_backtest(home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    readings = store.read_readings(ELEC, "b1")
    changed = readings[readings.index >= origin] * 3.0 + np.arange((readings.index >= origin).sum())
    store.write_readings(ELEC, "b1", changed)
    store.close()
    after = _cli_backtest(home)

    def at_or_before(run: dict[str, object]) -> list[object]:
        records = run["records"]
        assert isinstance(records, list)
        return [r for r in records if r["origin"] <= "2024-02-28T00:00:00Z"]

    assert len(at_or_before(before)) == 3 * 24
    assert at_or_before(before) == at_or_before(after)  # bit-identical floats through JSON
    later = [r for r in after["records"] if r["origin"] == "2024-02-29T00:00:00Z"]  # type: ignore[index]
    assert later != [r for r in before["records"] if r["origin"] == "2024-02-29T00:00:00Z"]  # type: ignore[index]


def test_cli_backtest_of_an_unknown_meter_fails_on_stderr_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))

    result = runner.invoke(app, ["backtest", "--meter-id", "nope", "--meter-type", "water", "--json"])

    assert result.exit_code == 1
    assert result.stdout == "" and "no water meter 'nope'" in result.stderr
