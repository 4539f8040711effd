"""``energy-forecast demo`` and the bundled sample data: real, licensed, small, and enough to forecast."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.services.ingestion import plan_directory_import

runner = CliRunner()
SAMPLE = Path(str(files("energy_forecast.sample_data")))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_sample_data_is_small_attributed_and_imports_cleanly() -> None:
    size = sum(p.stat().st_size for p in SAMPLE.iterdir() if p.is_file())
    readme = (SAMPLE / "README.md").read_text()
    plan = plan_directory_import(SAMPLE)
    meters = pd.read_csv(SAMPLE / "meters.csv")

    assert size < 4 * 1024 * 1024
    assert readme.count("Licence: CC BY 4.0") == 2 and "creativecommons.org/licenses/by/4.0" in readme
    assert "Salam" in readme and "Alvisi" in readme and "Changes:" in readme
    assert sorted(meters["meter_type"].value_counts().items()) == [("electricity", 3), ("water", 3)]
    assert set(meters["meter_id"]) == set(plan.meters)
    assert {str(k) for t in plan.temperatures for k in t.frame["key"].unique()} == set(meters["site_id"])


def test_demo_fills_a_fresh_home_trains_publishes_and_says_where_to_look(home: Path) -> None:
    result = runner.invoke(app, ["demo", "--days", "1"])

    assert result.exit_code == 0, result.output
    assert "imported 52381 readings of 6 meters and 17494 temperatures of 2 sites" in result.stdout
    assert "6 of 6 trained" in result.stdout
    assert "published 1-day forecasts of 6 of 6 meters" in result.stdout
    assert "start the service with `energy-forecast serve`" in result.stdout
    assert "http://127.0.0.1:8000/" in result.stdout
    meters = json.loads(runner.invoke(app, ["meters", "--json"]).stdout)
    assert len(meters) == 6
    from energy_forecast.domain.meters import MeterType
    from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

    store = DuckDBSeriesStore(home / "energy.duckdb")
    try:
        forecast = store.read_forecast(MeterType.WATER, "bwdf_dma01")
    finally:
        store.close()
    assert len(forecast) == 24


def test_demo_leaves_a_home_with_meters_alone_unless_forced(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "water.csv").write_text("timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,mine,1\n")
    assert runner.invoke(app, ["import", "--data-dir", str(data)]).exit_code == 0

    refused = runner.invoke(app, ["demo"])
    forced = runner.invoke(app, ["demo", "--force", "--no-train"])

    assert refused.exit_code == 1
    assert f"this home ({home}) already holds 1 meters" in refused.stderr and "--force" in refused.stderr
    assert forced.exit_code == 0, forced.output
    ids = [m["meter_id"] for m in json.loads(runner.invoke(app, ["meters", "--json"]).stdout)]
    assert "mine" in ids and len(ids) == 7
