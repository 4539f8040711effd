"""``energy-forecast backtest`` and ``POST /backtest/`` answer from the same forecaster: same figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from energy_forecast.api.app import create_app
from energy_forecast.cli import app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.services.training import train_meter
from energy_forecast.settings import load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.ml.conftest import synthetic_meter

ELEC = MeterType.ELECTRICITY


def test_cli_and_http_backtests_of_a_meter_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    store = DuckDBSeriesStore(settings.duckdb_path)
    for i, scale in enumerate((1.0, 30.0, 400.0)):
        consumption, temperature = synthetic_meter(24 * 49, seed=i)
        store.upsert_meters([Meter(f"m{i}", ELEC, "s1")])
        store.write_readings(ELEC, f"m{i}", consumption * scale)
        store.write_temperature("s1", temperature)
    models = FileModelStore(settings.models_dir)
    train_meter(store, models, meter_id=FLEET_MODEL_ID, meter_type=ELEC)
    train_meter(store, models, meter_id="m1", meter_type=ELEC)
    store.close()

    cli = CliRunner().invoke(
        app, ["backtest", "--meter-id", "m1", "--meter-type", "electricity", "--days", "14", "--json"]
    )
    assert cli.exit_code == 0, cli.output
    from_cli = json.loads(cli.stdout)

    store = DuckDBSeriesStore(settings.duckdb_path)
    with TestClient(create_app(settings, store=store, start_tasks=False)) as client:
        response = client.post("/backtest/", json={"meter_id": "m1", "meter_type": "electricity", "days": 14})
    store.close()
    assert response.status_code == 200, response.text
    from_http = response.json()

    assert from_cli["summary"]["model_kind"] == "ensemble" and from_cli["summary"]["blend"]["fleet"] > 0
    assert from_http["summary"] == from_cli["summary"]
    assert from_http["records"] == from_cli["records"]
