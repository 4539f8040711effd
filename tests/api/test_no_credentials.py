"""No credential in any output: every route's answer, the console and the log, with secrets in
the Redis and InfluxDB URLs; S3 URLs with credentials refused; anonymous /health/ shows statuses."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.errors import ConfigurationError
from energy_forecast.logging import configure_logging
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings, load_settings

SECRET = "S3cretPassw0rd"
PARAMS = {
    "meter_type": "electricity",
    "meter_id": "m1",
    "site_id": "s1",
    "version": "1",
    "task_id": "00000000-0000-4000-8000-000000000000",
    "batch_id": "00000000-0000-4000-8000-000000000000",
}


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


@pytest.mark.parametrize(
    "overrides",
    [
        {"s3_endpoint_url": f"http://AKIAEXAMPLE:{SECRET}@127.0.0.1:9000", "model_store_url": "s3://b/p"},
        {"s3_endpoint_url": f"http://{SECRET}@127.0.0.1:9000", "model_store_url": "s3://b/p"},
        {"model_store_url": f"s3://AKIAEXAMPLE:{SECRET}@bucket/prefix"},
    ],
    ids=["endpoint-user-password", "endpoint-user", "store-url"],
)
def test_s3_urls_with_credentials_are_refused_at_start(
    settings_factory: Callable[..., Settings], overrides: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings_factory(**overrides)

    assert SECRET not in str(refused.value) and "AKIAEXAMPLE:" not in str(refused.value)
    assert "AWS" in str(refused.value)


def every_request(client: TestClient) -> Iterator[tuple[str, str]]:
    """(method, path) for every operation of the schema, its path parameters filled in."""
    for template, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        path = re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "x"), template)
        for method in operations:
            if method in {"get", "post", "put", "delete"}:
                yield method.upper(), path


def test_no_route_console_or_log_shows_a_url_password(
    settings_factory: Callable[..., Settings], capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    # Unreachable on purpose: every route that touches Redis or InfluxDB answers its error.
    settings = settings_factory(
        redis_url=f"redis://ef:{SECRET}@127.0.0.1:1/0",
        influx={"url": f"http://ef:{SECRET}@127.0.0.1:1", "bucket": "b"},
        log_level="DEBUG",
    )
    _, key = ApiKeyStore(settings.api_keys_path).create("operator", ["write"])
    log_file = configure_logging(level=settings.log_level, logs_dir=settings.logs_dir)
    answers: list[str] = []
    statuses: set[int] = set()
    with TestClient(create_app(settings, run_workers=False), raise_server_exceptions=False) as client:
        for method, path in every_request(client):
            for headers in ({"X-API-Key": key}, {}):
                response = client.request(method, path, json={}, headers=headers)
                statuses.add(response.status_code)
                answers.append(f"{method} {path} {response.status_code} {response.headers} {response.text}")
        for path in ("/", "/dashboard/meters/electricity/m1", f"/dashboard/tasks/{PARAMS['task_id']}"):
            answers.append(client.get(path, headers={"X-API-Key": key}).text)
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = "".join(capfd.readouterr())
    assert log_file is not None
    logged = log_file.read_text(encoding="utf-8")

    assert 503 in statuses and 500 not in statuses and len(answers) > 60  # reached for, and failed
    for name, text in {"answers": "\n".join(answers), "console": console, "log": logged}.items():
        assert SECRET not in text, name


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.integration
def test_anonymous_health_shows_statuses_only_and_a_key_sees_the_details(
    home: Path, s3_endpoint: str, s3_store_url: str
) -> None:
    settings = load_settings(
        home=home,
        model_store_url=s3_store_url,
        s3_endpoint_url=s3_endpoint,
        weather={"providers": []},
        schedule={"enabled": False},
    )
    _, key = ApiKeyStore(settings.api_keys_path).create("monitor", ["read"])
    bucket = s3_store_url.split("/")[2]
    with TestClient(create_app(settings, run_workers=False)) as client:
        client.app.state.models.ping()  # type: ignore[attr-defined]  # bucket made: no slow first check
        anonymous = client.get("/health/")
        keyed = client.get("/health/", headers={"X-API-Key": key})
        wrong_key = client.get("/health/", headers={"X-API-Key": "ef_00000000_nope"})

    assert anonymous.status_code == keyed.status_code == 200
    assert anonymous.json()["status"] == keyed.json()["status"]
    for hidden in (bucket, s3_endpoint.split("//")[1], '"pid"', '"count"', "round_trip_ms", "in_use"):
        assert hidden not in anonymous.text and hidden not in wrong_key.text, hidden
    assert set(anonymous.json()["checks"]) == set(keyed.json()["checks"])
    assert keyed.json()["checks"]["model_directory"]["url"] == s3_store_url
    assert "pid" in keyed.json()["checks"]["redis"]
