"""``energy-forecast weather site|fetch`` on a temporary EF_HOME against a local provider server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from tests.weather.fake_server import FakeWeatherServer

runner = CliRunner()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeatherServer]:
    started = FakeWeatherServer().start()
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EF_WEATHER__PROVIDERS", json.dumps(["open-meteo"]))
    monkeypatch.setenv("EF_WEATHER__OPEN_METEO_URL", f"{started.url}/v1")
    monkeypatch.setenv("EF_WEATHER__OPEN_METEO_ARCHIVE_URL", f"{started.url}/v1")
    yield started
    started.stop()


def test_fetch_backfills_missing_hours_once_and_then_serves_them_from_the_store(
    server: FakeWeatherServer,
) -> None:
    site = runner.invoke(
        app,
        [
            "weather",
            "site",
            "polito_it",
            "--latitude",
            "45.06",
            "--longitude",
            "7.66",
            "--city",
            "Turin",
            "--country",
            "IT",
        ],
    )
    args = ["weather", "fetch", "--site", "polito_it", "--start", "2024-01-30", "--end", "2024-03-01"]
    first = runner.invoke(app, args)
    calls = server.calls()
    second = runner.invoke(app, args)

    assert site.exit_code == 0, site.output
    assert first.exit_code == 0, first.output
    assert "768 hours (open-meteo 768); 768 written to the store, 0 without a value" in first.output
    assert calls == 2  # two month-sized chunks
    assert "768 hours (observed 768); 0 written" in second.output and server.calls() == calls


def test_fetch_for_an_unregistered_site_fails_with_the_fix(server: FakeWeatherServer) -> None:
    result = runner.invoke(
        app, ["weather", "fetch", "--site", "nowhere", "--start", "2024-01-01", "--end", "2024-01-02"]
    )

    assert result.exit_code == 1 and "POST /location/" in result.output


def test_site_rejects_an_unknown_country(server: FakeWeatherServer) -> None:
    result = runner.invoke(
        app,
        ["weather", "site", "x1", "--latitude", "1", "--longitude", "2", "--city", "X", "--country", "ZZ"],
    )

    assert result.exit_code == 2 and "ISO 3166-1 alpha-2" in result.output
