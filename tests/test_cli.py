"""The command line: import and meters on a temporary EF_HOME."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from energy_forecast.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "meters.csv").write_text("meter_id,meter_type,site_id,unit,source\nm1,electricity,s1,kWh,t\n")
    rows = [f"2024-01-01T{h:02d}:00:00Z,m1,{'' if h == 5 else h + 1}" for h in range(24)]
    (data / "electricity.csv").write_text("timestamp,meter_id,consumption\n" + "\n".join(rows) + "\n")
    (data / "temperature.csv").write_text("timestamp,site_id,temperature_c\n2024-01-01T00:00:00Z,s1,4.5\n")
    return data


def test_import_then_meters_json_counts_the_non_empty_rows(home: Path, data_dir: Path) -> None:
    first = runner.invoke(app, ["import", "--data-dir", str(data_dir)])
    second = runner.invoke(app, ["import", "--data-dir", str(data_dir)])
    listed = runner.invoke(app, ["meters", "--json"])

    assert first.exit_code == 0, first.output
    assert "imported 23 readings of 1 meters" in first.output
    assert second.exit_code == 0
    meters = json.loads(listed.stdout)
    assert meters == [
        {
            "meter_id": "m1",
            "meter_type": "electricity",
            "site_id": "s1",
            "unit": "kWh",
            "timezone": "UTC",
            "latitude": None,
            "longitude": None,
            "reading_kind": "interval",
            "interval_minutes": 60,
            "first_timestamp": "2024-01-01T00:00:00+00:00",
            "last_timestamp": "2024-01-01T23:00:00+00:00",
            "reading_count": 23,
            "gap_hours": 1,
        }
    ]
    assert (home / "energy.duckdb").is_file()
    assert list((home / "logs").glob("energy_forecasting_*.log"))


def test_a_bad_file_exits_non_zero_with_row_and_changes_nothing(home: Path, data_dir: Path) -> None:
    runner.invoke(app, ["import", "--data-dir", str(data_dir)])
    with (data_dir / "electricity.csv").open("a") as handle:
        handle.write("2024-01-02T00:00:00Z,m1,oops\n")

    result = runner.invoke(app, ["import", "--data-dir", str(data_dir)])

    assert result.exit_code == 1
    assert "electricity.csv, row 26: consumption 'oops' is not a number" in result.output
    assert json.loads(runner.invoke(app, ["meters", "--json"]).stdout)[0]["reading_count"] == 23


def test_invalid_settings_stop_with_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://wrong")

    result = runner.invoke(app, ["meters"])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "configuration error: setting REDIS_URL: REDIS_URL must start with redis://, rediss:// or unix://, "
        "got 'http://wrong'"
    ]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """The configs ``serve`` hands uvicorn; the server "starts" without binding or running the app."""
    configs: list[uvicorn.Config] = []

    def run(self: uvicorn.Server, *args: Any, **kwargs: Any) -> None:
        self.config.load()  # wraps the app as uvicorn would, ProxyHeadersMiddleware included
        configs.append(self.config)
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    return configs


def test_serve_keeps_uvicorns_proxy_header_defaults(
    home: Path, served: list[uvicorn.Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)

    result = runner.invoke(app, ["serve", "--port", "18999"])

    assert result.exit_code == 0, result.output
    (config,) = served
    assert config.proxy_headers is True and config.forwarded_allow_ips == "127.0.0.1,::1"
    assert isinstance(config.loaded_app, ProxyHeadersMiddleware)
    assert (config.host, config.port) == ("127.0.0.1", 18999)


def test_serve_passes_the_trusted_proxies_to_uvicorn(home: Path, served: list[uvicorn.Config]) -> None:
    result = runner.invoke(app, ["serve", "--forwarded-allow-ips", "10.0.0.5,192.168.1.0/24"])

    assert result.exit_code == 0, result.output
    (config,) = served
    assert config.proxy_headers is True and config.forwarded_allow_ips == "10.0.0.5,192.168.1.0/24"
    assert isinstance(config.loaded_app, ProxyHeadersMiddleware)
    trusted = config.loaded_app.trusted_hosts
    assert "10.0.0.5" in trusted and "192.168.1.77" in trusted and "10.0.0.6" not in trusted


def test_serve_without_proxy_headers_leaves_the_client_address_alone(
    home: Path, served: list[uvicorn.Config]
) -> None:
    result = runner.invoke(app, ["serve", "--no-proxy-headers"])

    assert result.exit_code == 0, result.output
    (config,) = served
    assert config.proxy_headers is False
    assert not isinstance(config.loaded_app, ProxyHeadersMiddleware)


def test_train_names_unknown_meters_and_reports_each_outcome(home: Path, data_dir: Path) -> None:
    runner.invoke(app, ["import", "--data-dir", str(data_dir)])

    unknown = runner.invoke(app, ["train", "--meter-id", "m1", "--meter-id", "ghost"])
    too_short = runner.invoke(app, ["train", "--meter-id", "m1"])

    assert unknown.exit_code == 2 and "unknown meter id(s): ghost" in unknown.output
    assert too_short.exit_code == 1, too_short.output
    assert "FAILURE" in too_short.output and "0 of 1 trained" in too_short.output
