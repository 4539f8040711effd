"""Settings: seed variables and JSON files, environment wins, bad values stop start-up in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from energy_forecast.errors import ConfigurationError
from energy_forecast.settings import load_settings


def test_defaults_use_the_embedded_store_under_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)

    assert settings.storage_backend == "duckdb"
    assert settings.duckdb_path == tmp_path / "energy.duckdb"
    assert settings.redis_url is None


def test_seed_variables_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("INFLUX_URL", "http://localhost:8086/")
    monkeypatch.setenv("INFLUX_TOKEN", "s3cret")
    monkeypatch.setenv("INFLUX_BUCKET", "energy_data")
    monkeypatch.setenv("DEBUG", "true")

    settings = load_settings()

    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.influx.url == "http://localhost:8086"
    assert settings.influx.bucket == "energy_data"
    assert settings.storage_backend == "influxdb"
    assert settings.log_level == "DEBUG"
    assert "s3cret" not in repr(settings)


def test_json_files_are_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "influxdb_config.json").write_text(
        json.dumps({"url": "http://file:8086", "token": "t", "org": "o", "bucket": "from_file"})
    )
    (config / "weather_config.json").write_text(json.dumps({"api_key": "k", "base_url": "http://owm.local"}))
    monkeypatch.setenv("EF_CONFIG_DIR", str(config))
    monkeypatch.setenv("INFLUX_BUCKET", "from_env")

    settings = load_settings()

    assert settings.influx.url == "http://file:8086"
    assert settings.influx.bucket == "from_env"
    assert settings.weather.base_url == "http://owm.local"
    assert settings.weather.api_key is not None and settings.weather.api_key.get_secret_value() == "k"


@pytest.mark.parametrize(
    ("env", "value", "fragment"),
    [
        pytest.param("REDIS_URL", "http://x", "REDIS_URL must start with redis://", id="redis-scheme"),
        pytest.param("INFLUX_URL", "localhost:8086", "INFLUX_URL must be an http(s) URL", id="influx-url"),
        pytest.param("EF_PORT", "70000", "EF_PORT", id="port"),
        pytest.param("EF_TASK_RETENTION", "PT1M", "at least 10 minutes", id="retention"),
        pytest.param("INFLUX_USERNAME", "u", "without INFLUX_PASSWORD", id="user-without-password"),
    ],
)
def test_invalid_settings_raise_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(env, value)

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_json_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "influxdb_config.json").write_text("{not json")
    monkeypatch.setenv("EF_CONFIG_DIR", str(tmp_path))

    with pytest.raises(ConfigurationError, match=r"influxdb_config\.json"):
        load_settings()
