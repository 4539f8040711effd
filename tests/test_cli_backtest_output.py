"""``energy-forecast backtest`` without --json: figures rounded for reading, full precision in JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.settings import load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.services.test_forecasting import seed_meter

runner = CliRunner()
ARGS = ["backtest", "--meter-id", "b1", "--meter-type", "electricity", "--horizon-hours", "24", "--days", "2"]


def test_backtest_prints_rounded_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    store = DuckDBSeriesStore(load_settings().duckdb_path)
    seed_meter(store)
    store.close()

    text = runner.invoke(app, ARGS)
    raw = runner.invoke(app, [*ARGS, "--json"])

    assert text.exit_code == 0, text.output
    figures = re.findall(r"-?\d+\.\d+", text.stdout)
    assert figures, text.stdout
    assert all(len(f.split(".")[1]) <= 2 for f in figures), text.stdout
    assert "CV(RMSE)" in text.stdout and " %" in text.stdout
    model_cv = json.loads(raw.stdout)["summary"]["model"]["cv_rmse_percent"]
    assert f"{model_cv:.1f} %" in text.stdout
