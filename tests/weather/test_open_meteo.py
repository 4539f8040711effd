"""The Open-Meteo client against a local server answering in Open-Meteo's documented shape."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from energy_forecast.domain.sites import Site
from energy_forecast.errors import WeatherProviderError, WeatherUnavailableError
from energy_forecast.weather.http import JsonFetcher
from energy_forecast.weather.open_meteo import OpenMeteoProvider
from tests.weather.fake_server import FakeWeatherServer, default_temperature

TURIN = Site("polito_it", 45.0625, 7.6625, "Turin", "Europe/Rome", "IT")
NOW = pd.Timestamp("2026-11-23T10:20Z")


def provider(server: FakeWeatherServer, client: httpx.Client) -> OpenMeteoProvider:
    fetcher = JsonFetcher("open-meteo", client, sleep=lambda s: None)
    return OpenMeteoProvider(fetcher, f"{server.url}/v1", f"{server.url}/v1", clock=lambda: NOW)


def test_forecast_hours_come_from_the_forecast_api_in_utc(
    weather_server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    start, end = pd.Timestamp("2026-11-24T00:00Z"), pd.Timestamp("2026-11-27T00:00Z")

    series = provider(weather_server, http_client).hourly_temperature(TURIN, start, end)

    assert len(series) == 72 and series.index[0] == start and series.index[-1] == end - pd.Timedelta(hours=1)
    assert series.iloc[13] == default_temperature(start + pd.Timedelta(hours=13))
    assert [p for p, _ in weather_server.requests] == ["/v1/forecast"]
    params = weather_server.requests[0][1]
    assert params["hourly"] == "temperature_2m" and params["timezone"] == "GMT"
    assert (params["start_date"], params["end_date"]) == ("2026-11-24", "2026-11-26")


def test_old_hours_go_to_the_archive_and_recent_ones_to_the_forecast_api(
    weather_server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    start, end = pd.Timestamp("2026-11-10T00:00Z"), pd.Timestamp("2026-11-22T00:00Z")

    series = provider(weather_server, http_client).hourly_temperature(TURIN, start, end)

    assert len(series) == 12 * 24 and series.index.is_monotonic_increasing
    by_path = {p: q for p, q in weather_server.requests}
    assert by_path["/v1/archive"]["end_date"] == "2026-11-17"  # five days behind today
    assert by_path["/v1/forecast"]["start_date"] == "2026-11-18"


def test_local_times_are_shifted_by_utc_offset_seconds_and_nulls_are_left_out(
    http_client: httpx.Client,
) -> None:
    server = FakeWeatherServer(utc_offset_seconds=3600).start()
    server.null_hours = {pd.Timestamp("2026-11-24T05:00Z")}
    try:
        series = provider(server, http_client).hourly_temperature(
            TURIN, pd.Timestamp("2026-11-24T00:00Z"), pd.Timestamp("2026-11-24T12:00Z")
        )
    finally:
        server.stop()

    assert pd.Timestamp("2026-11-24T05:00Z") not in series.index and len(series) == 11
    stamp = pd.Timestamp("2026-11-24T07:00Z")
    assert series[stamp] == default_temperature(stamp)


def test_hours_beyond_sixteen_days_are_absent_without_a_request(
    weather_server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    far = pd.Timestamp("2026-12-20T00:00Z")

    series = provider(weather_server, http_client).hourly_temperature(TURIN, far, far + pd.Timedelta(days=1))

    assert series.empty and weather_server.calls() == 0


def test_a_slow_answer_past_the_timeout_is_unavailable_and_names_the_provider(
    weather_server: FakeWeatherServer,
) -> None:
    weather_server.queue("/v1/forecast", 200, {}, delay_s=1.0)
    with httpx.Client(timeout=httpx.Timeout(0.2)) as client, pytest.raises(WeatherUnavailableError) as caught:
        provider(weather_server, client).hourly_temperature(
            TURIN, pd.Timestamp("2026-11-24T00:00Z"), pd.Timestamp("2026-11-25T00:00Z")
        )

    assert "open-meteo" in caught.value.message and "in time" in caught.value.message


def test_an_error_body_surfaces_its_reason(
    weather_server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    weather_server.queue(
        "/v1/forecast", 400, {"error": True, "reason": "Latitude must be in range of -90 to 90°"}
    )

    with pytest.raises(WeatherProviderError, match="Latitude must be in range"):
        provider(weather_server, http_client).hourly_temperature(
            TURIN, pd.Timestamp("2026-11-24T00:00Z"), pd.Timestamp("2026-11-25T00:00Z")
        )


def test_a_repeated_request_is_served_from_the_response_cache(
    weather_server: FakeWeatherServer, http_client: httpx.Client
) -> None:
    client = provider(weather_server, http_client)
    window = (pd.Timestamp("2026-11-24T00:00Z"), pd.Timestamp("2026-11-25T00:00Z"))

    first = client.hourly_temperature(TURIN, *window)
    second = client.hourly_temperature(TURIN, *window)

    pd.testing.assert_series_equal(first, second)
    assert weather_server.calls() == 1
