"""A forced 500 under a real uvicorn: no API key and no local variable on the console or in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest
import structlog
from fastapi import Request

from energy_forecast.api.app import create_app
from energy_forecast.logging import configure_logging
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings
from tests.api.live_server import served


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_forced_500_shows_no_key_and_no_locals(
    level: str,
    settings_factory: Callable[..., Settings],
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    settings = settings_factory(log_level=level)
    _, secret = ApiKeyStore(settings.api_keys_path).create("reader", ["read"])
    log_file = configure_logging(level=settings.log_level, logs_dir=settings.logs_dir)
    app = create_app(settings, start_tasks=False)

    def boom(request: Request) -> None:
        held_settings = settings  # a local holding Settings, as in the probe's frames
        raise RuntimeError(f"failed for {request.headers['x-api-key']} at {held_settings.port}")

    app.add_api_route("/boom/", boom, methods=["GET"])
    with served(app) as url:
        response = httpx.get(f"{url}/boom/", headers={"X-API-Key": secret}, timeout=30)
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capfd.readouterr().err
    assert log_file is not None
    logged = log_file.read_text(encoding="utf-8")

    assert response.status_code == 500
    secret_part = secret.split("_", 2)[2]
    assert "Exception in ASGI application" in console and "Exception in ASGI application" in logged
    assert "RuntimeError: failed for ef_" in console and "_*** at 8000" in console
    for text in (console, logged):
        assert secret_part not in text
        assert "held_settings" not in text.replace("held_settings.port", "")  # source lines, no locals
        assert "key_text" not in text and "Settings(" not in text
    if level == "INFO":
        assert "DEBUG=true shows the whole traceback" in console
        assert console.count('File "') <= 3
    else:
        assert console.count('File "') > 3
