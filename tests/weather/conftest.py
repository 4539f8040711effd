from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.weather.fake_server import FakeWeatherServer


@pytest.fixture
def weather_server() -> Iterator[FakeWeatherServer]:
    server = FakeWeatherServer().start()
    yield server
    server.stop()


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(0.5)) as client:
        yield client
