"""Credentials from the environment never reach a log line, a response or an error message.

Each case is a real failing connection whose URL or token carries a secret: the service must
answer with a message that helps (503, "unreachable", "check REDIS_URL") and leak nothing.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import structlog
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.errors import ConfigurationError
from energy_forecast.logging import configure_logging, get_logger
from energy_forecast.settings import Settings, load_settings

SECRET = "Tr0ub4dor-Secret-Pw"
TOKEN = "influx-Token-0f9e8d7c"


@pytest.fixture
def file_log(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Route logs to a JSON file under tmp_path; yields a reader of everything written so far."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log_file = configure_logging(level="DEBUG", logs_dir=tmp_path / "logs")
    assert log_file is not None

    def read() -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return log_file.read_text()

    yield read
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    structlog.reset_defaults()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_test_address() -> str:
    from tests.conftest import server_url

    parts = urlsplit(server_url("EF_TEST_REDIS_URL"))
    return f"{parts.hostname}:{parts.port}"


@pytest.mark.parametrize(
    "make_url",
    [
        pytest.param(lambda: f"redis://:{SECRET}@127.0.0.1:{closed_port()}/0", id="password-closed-port"),
        pytest.param(
            lambda: f"redis://ef_nobody:{SECRET}@{redis_test_address()}/0",
            id="wrong-password-real-redis",
            marks=pytest.mark.integration,
        ),
        pytest.param(lambda: f"rediss://:{SECRET}@127.0.0.1:{closed_port()}/0", id="tls-closed-port"),
    ],
)
def test_a_redis_password_never_reaches_logs_or_responses(
    make_url: Callable[[], str],
    settings_factory: Callable[..., Settings],
    file_log: Callable[[], str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = settings_factory(redis_url=make_url())

    with TestClient(create_app(settings, run_workers=False)) as client:
        response = client.post("/trainmodel/", json={"meter_id": "m1", "meter_type": "electricity"})
        get_logger("energy_forecast.test").error("redis_config", redis_url=settings.redis_url)

    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"] and "REDIS_URL" in response.json()["detail"]
    logged = file_log()
    assert "redis_config" in logged and ":***@" in logged
    captured = capfd.readouterr()
    for text in (response.text, logged, captured.out, captured.err):
        assert SECRET not in text


def test_an_influx_token_and_url_password_never_reach_logs_or_responses(
    monkeypatch: pytest.MonkeyPatch,
    settings_factory: Callable[..., Settings],
    file_log: Callable[[], str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INFLUX_URL", f"http://admin:{SECRET}@127.0.0.1:{closed_port()}")
    monkeypatch.setenv("INFLUX_TOKEN", TOKEN)
    settings = settings_factory()

    with TestClient(create_app(settings, start_tasks=False)) as client:
        health = client.get("/health/")
        meters = client.get("/meters/")

    assert health.status_code == 503 and "unreachable" in health.json()["checks"]["storage"]["error"]
    assert meters.status_code == 503 and "unreachable" in meters.json()["detail"]
    captured = capfd.readouterr()
    for text in (health.text, meters.text, file_log(), captured.out, captured.err, repr(settings)):
        assert SECRET not in text and TOKEN not in text


def test_a_bad_redis_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(redis_url=f"http://:{SECRET}@cache.internal:6379")

    assert "REDIS_URL must start with" in raised.value.message
    assert SECRET not in raised.value.message
