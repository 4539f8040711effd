"""Shared fixtures: synthetic series, settings rooted in tmp_path, and real-server stores.

Integration tests read the servers started by ``scripts/servers.sh`` from ``EF_TEST_REDIS_URL`` and
``EF_TEST_INFLUX_URL``. Without them a test is skipped locally and fails in CI (``CI=true``), so a
green CI run always means the real servers were exercised.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys

# As energy_forecast.cli.main does for the service: OpenMP spin-waiting makes concurrent fits
# (in-process worker threads) crawl on two cores. Set before any test module loads XGBoost.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import structlog

from energy_forecast.domain.series import make_series
from energy_forecast.logging import COMPONENT_LEVELS
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore


def server_url(variable: str) -> str:
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{variable} is not set: start the servers with `scripts/servers.sh start`"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config files or seed variables by accident."""
    isolate_environment(monkeypatch, tmp_path)


def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What ``_isolated_env`` does for each test, for a module-scoped fixture's own ``MonkeyPatch``."""
    for var in ("REDIS_URL", "DEBUG", "INFLUX_URL", "INFLUX_TOKEN", "INFLUX_ORG", "INFLUX_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    for var in list(os.environ):
        if var.startswith("EF_") and not var.startswith("EF_TEST_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EF_CONFIG_DIR", str(tmp_path / "config"))
    # No app runs the scheduler unless its test asks: it would enqueue trainings on its own.
    monkeypatch.setenv("EF_SCHEDULE__ENABLED", "false")
    # No developer's or host's AWS credentials; S3 tests set the test server's own (s3_endpoint).
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # No test reaches a real weather service: providers are opted into with local URLs.
    monkeypatch.delenv("OPENWEATHER_API_KEY", raising=False)
    monkeypatch.setenv("EF_WEATHER__PROVIDERS", "[]")


_LAZY_PROXY = type(structlog.get_logger("energy_forecast"))  # what get_logger returns, not yet bound


@pytest.fixture(autouse=True)
def _pristine_logging() -> Iterator[None]:
    """Each test starts with the logging of a fresh process, whatever ran before it.

    A CLI command invoked in-process (``CliRunner``) configures logging as the real command does:
    structlog bound to the stdlib, a console handler on that test's captured (later closed) stderr,
    and loggers cached on first use. Left in place, a later test logs into a closed stream, and a
    test that reads what was logged (capsys, ``capture_logs``) sees nothing or something else.
    """
    root = logging.getLogger()
    root_level = root.level
    yield
    structlog.contextvars.clear_contextvars()
    ours = [h for h in root.handlers if getattr(h, "_energy_forecast", False)]
    if not ours and not structlog.is_configured():
        return
    for handler in ours:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(root_level)
    for name in (*COMPONENT_LEVELS, "energy_forecast"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()
    # A module-level ``get_logger`` proxy keeps the logger it assembled under the old configuration.
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(("energy_forecast", "tests")) and module is not None:
            for value in list(vars(module).values()):
                if isinstance(value, _LAZY_PROXY):
                    vars(value).pop("bind", None)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        overrides.setdefault("home", tmp_path / "home")
        return load_settings(**overrides)

    return make


Build = Callable[[Path], None]


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Build, Path], Path]:
    """``prebuilt(build, into)``: what ``build(folder)`` makes, built once per session, copied into ``into``.

    For expensive starting points that tests only read or change in their own copy (a seeded store
    with trained models): each test still gets files of its own, the training runs once. ``build``
    must be a module-level function and write only under the folder it is given (closed stores).
    """
    built: dict[Build, Path] = {}

    def copy(build: Build, into: Path) -> Path:
        if build not in built:
            folder = tmp_path_factory.mktemp(f"prebuilt-{build.__name__}")
            build(folder)
            built[build] = folder
        shutil.copytree(built[build], into, symlinks=True, dirs_exist_ok=True)
        return into

    return copy


def hourly_series(
    start: str = "2024-01-01",
    hours: int = 24 * 28,
    *,
    seed: int = 0,
    base: float = 100.0,
    name: str = "consumption",
) -> pd.Series:
    """A daily- and weekly-seasonal positive load with noise: enough shape for models to learn."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    hour = index.hour.to_numpy()
    weekday = index.day_of_week.to_numpy()
    daily = 1.0 + 0.4 * np.sin((hour - 6) / 24 * 2 * np.pi)
    weekly = np.where(weekday >= 5, 0.7, 1.0)
    values = base * daily * weekly + rng.normal(0, base * 0.03, hours)
    return make_series(index, np.clip(values, 0, None), name)


@pytest.fixture
def series_factory() -> Callable[..., pd.Series]:
    return hourly_series


@pytest.fixture(scope="session")
def influx_url() -> str:
    return server_url("EF_TEST_INFLUX_URL")


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """The SeaweedFS S3 server of ``scripts/servers.sh``, its credentials in the standard AWS variables."""
    endpoint = server_url("EF_TEST_S3_ENDPOINT")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ["EF_TEST_S3_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", os.environ["EF_TEST_S3_SECRET_ACCESS_KEY"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return endpoint


@pytest.fixture
def s3_store_url(s3_endpoint: str) -> str:
    """A model-store URL of its own for each test: one shared bucket, a fresh prefix."""
    return f"s3://ef-test-models/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return server_url("EF_TEST_REDIS_URL")


@pytest.fixture
def influx_database(influx_url: str) -> Iterator[str]:
    """A fresh database name, dropped afterwards."""
    name = f"ef_test_{uuid.uuid4().hex[:12]}"
    yield name
    httpx.post(f"{influx_url}/query", params={"q": f'DROP DATABASE "{name}"'}, timeout=10)


@pytest.fixture(
    params=[
        pytest.param("duckdb", id="duckdb"),
        pytest.param("influxdb", id="influxdb", marks=pytest.mark.integration),
    ]
)
def series_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeriesStore]:
    """Every SeriesStore implementation, for the one contract suite."""
    store: SeriesStore
    if request.param == "duckdb":
        store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    else:
        from energy_forecast.storage.influx_store import InfluxSeriesStore

        database = request.getfixturevalue("influx_database")
        store = InfluxSeriesStore(request.getfixturevalue("influx_url"), database)
    yield store
    store.close()
