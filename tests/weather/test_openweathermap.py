"""The OpenWeatherMap 2.5 client against a local server answering in OWM's documented shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.sites import Site
from energy_forecast.errors import WeatherAuthError, WeatherUnavailableError
from energy_forecast.weather.http import JsonFetcher
from energy_forecast.weather.openweathermap import OpenWeatherMapProvider
from tests.weather.fake_server import OWM_429, FakeWeatherServer, default_temperature

TETOUAN = Site("tetouan_ma", 35.5785, -5.3684, "Tetouan", "Africa/Casablanca", "MA")
NOW = pd.Timestamp("2026-11-23T10:20Z")


@pytest.fixture
def server() -> Iterator[FakeWeatherServer]:
    started = FakeWeatherServer(now=NOW).start()
    yield started
    started.stop()


def owm(
    server: FakeWeatherServer, client: httpx.Client, key: str = "good-key"
) -> tuple[OpenWeatherMapProvider, list[float]]:
    slept: list[float] = []
    fetcher = JsonFetcher(
        "openweathermap", client, secrets=[key], sleep=slept.append, auth_hint="check the API key"
    )
    base = f"{server.url}/data/2.5"
    return OpenWeatherMapProvider(fetcher, key, base, server.url, clock=lambda: NOW), slept


def test_three_hourly_forecast_is_interpolated_to_whole_hours_in_celsius(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    client, _ = owm(server, http_client)
    start = NOW.floor("h")

    series = client.hourly_temperature(TETOUAN, start, start + pd.Timedelta(days=2))

    assert len(series) == 47  # the current observation (10:20) anchors 11:00 onwards
    assert series.index[0] == pd.Timestamp("2026-11-23T11:00Z")
    at_points = pd.Timestamp("2026-11-23T12:00Z"), pd.Timestamp("2026-11-23T15:00Z")
    assert [series[t] for t in at_points] == pytest.approx([default_temperature(t) for t in at_points])
    between = series[pd.Timestamp("2026-11-23T13:00Z")]
    assert between == pytest.approx(np.interp(1, [0, 3], [default_temperature(t) for t in at_points]))
    assert {q["units"] for _, q in server.requests} == {"metric"}


def test_past_hours_come_from_the_history_api_in_week_windows(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    client, _ = owm(server, http_client)
    start = pd.Timestamp("2026-11-01T00:00Z")

    series = client.hourly_temperature(TETOUAN, start, start + pd.Timedelta(days=10))

    assert len(series) == 240 and series.iloc[5] == pytest.approx(
        default_temperature(start + pd.Timedelta(hours=5))
    )
    assert server.calls("/history/city") == 2


def test_a_bad_key_is_an_auth_error_naming_the_provider_and_the_fix_without_the_key(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    client, _ = owm(server, http_client, key="wrong-secret-key")

    with pytest.raises(WeatherAuthError) as caught:
        client.hourly_temperature(TETOUAN, NOW.floor("h"), NOW.floor("h") + pd.Timedelta(days=1))

    message = caught.value.message
    assert "openweathermap" in message and "HTTP 401" in message and "Invalid API key" in message
    assert "check the API key" in message and "wrong-secret-key" not in message


def test_history_refused_by_the_plan_still_serves_the_forecast_hours(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    server.queue("/history/city", 401, {"cod": 401, "message": "Invalid API key."})
    client, _ = owm(server, http_client)

    series = client.hourly_temperature(
        TETOUAN, NOW.floor("h") - pd.Timedelta(hours=5), NOW.floor("h") + pd.Timedelta(hours=5)
    )

    assert series.index[0] == pd.Timestamp("2026-11-23T11:00Z") and len(series) == 4


def test_rate_limit_waits_retry_after_then_succeeds(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    server.queue("/data/2.5/weather", 429, OWM_429, headers={"Retry-After": "2"})
    client, slept = owm(server, http_client)

    series = client.hourly_temperature(TETOUAN, NOW.floor("h"), NOW.floor("h") + pd.Timedelta(hours=6))

    assert slept == [2.0] and len(series) == 5
    assert server.calls("/data/2.5/weather") == 2


def test_rate_limit_past_the_retries_is_unavailable(
    server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    for _ in range(4):
        server.queue("/data/2.5/weather", 429, OWM_429)
    client, slept = owm(server, http_client)

    with pytest.raises(WeatherUnavailableError, match=r"rate limited \(HTTP 429\).*after 4 attempts"):
        client.hourly_temperature(TETOUAN, NOW.floor("h"), NOW.floor("h") + pd.Timedelta(hours=6))

    assert slept == [0.5, 1.0, 2.0]  # exponential backoff without Retry-After
