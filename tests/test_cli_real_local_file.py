"""A real utility-style file (30-minute halves in Rome wall-clock time, and a register that rolls
over) imports through the CLI and over HTTP into the published hourly UTC values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from energy_forecast.api.app import create_app
from energy_forecast.cli import app
from energy_forecast.domain.meters import MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

DATA = Path(__file__).parent / "data" / "bwdf_local"
ROLLOVER_HOUR = pd.Timestamp("2021-03-27T15:00Z")  # the register goes 99986.643 -> 12.473


def published() -> pd.Series:
    frame = pd.read_csv(DATA / "expected_hourly_utc.csv")
    return pd.Series(frame["consumption"].to_numpy(), index=pd.to_datetime(frame["timestamp"], utc=True))


def test_the_cli_imports_the_local_time_and_register_files_into_the_published_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))

    result = CliRunner().invoke(app, ["import", "--data-dir", str(DATA)])

    assert result.exit_code == 0, result.output
    store = DuckDBSeriesStore(tmp_path / "home" / "energy.duckdb")
    try:
        ami = store.read_readings(MeterType.WATER, "dma01_ami")
        index = store.read_readings(MeterType.WATER, "dma01_index")
    finally:
        store.close()
    expected = published()
    assert ami.to_dict() == expected.to_dict()  # halves of a float sum back exactly
    first_day = expected[expected.index < "2021-03-28T12:00Z"].drop(ROLLOVER_HOUR)
    assert index.to_dict() == pytest.approx(first_day.to_dict(), abs=1e-6)
    assert "register 'dma01_index' went down once" in result.output
    assert "2021-03-27T16:00:00+00:00 (99986.643 -> 12.473)" in result.output


def test_the_same_file_uploaded_over_http_gives_the_same_hours(
    settings_factory: Callable[..., Settings],
) -> None:
    rows = [line for line in (DATA / "water.csv").read_text().splitlines()[1:] if ",dma01_ami," in line]
    body = (
        "timestamp,consumption\n" + "\n".join(f"{t},{v}" for t, _, v in (r.split(",") for r in rows)) + "\n"
    )

    with TestClient(create_app(settings_factory(), start_tasks=False)) as client:
        response = client.post(
            "/meters/water/dma01_ami/readings?unit=m3&timezone=Europe/Rome",
            content=body,
            headers={"content-type": "text/csv"},
        )
        stored = client.app.state.store.read_readings(MeterType.WATER, "dma01_ami")  # type: ignore[attr-defined]

    assert response.status_code == 201, response.text
    assert response.json()["interval_minutes"] == 30
    assert stored.to_dict() == published().to_dict()
