"""Locations, temperature series/validation and provider temperatures in /forecast/, through the app,
with a local server standing in for Open-Meteo and OpenWeatherMap (never the network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.services.training import train_meter
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.services.test_forecasting import seed_meter
from tests.weather.fake_server import FakeWeatherServer, default_temperature

S1 = Site("s1", 45.0625, 7.6625, "Turin", "Europe/Rome", "IT")
NEW_PERIOD = {"start_date": "2024-03-01", "end_date": "2024-03-02", "site_id": "s1"}


@pytest.fixture
def server() -> Iterator[FakeWeatherServer]:
    started = FakeWeatherServer().start()
    yield started
    started.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBSeriesStore]:
    opened = DuckDBSeriesStore(tmp_path / "s.duckdb")
    seed_meter(opened, "b1")  # readings and temperature 2024-01-01 .. 2024-02-29, site s1
    yield opened
    opened.close()


@pytest.fixture
def app_client(settings_factory: Callable[..., Settings], store: DuckDBSeriesStore) -> Callable[..., Any]:
    @contextmanager
    def make(**weather: Any) -> Iterator[TestClient]:
        settings = settings_factory(weather={"timeout_s": 2, **weather})
        with TestClient(create_app(settings, store=store, start_tasks=False)) as client:
            yield client

    return make


def open_meteo(server: FakeWeatherServer) -> dict[str, Any]:
    return {
        "providers": ["open-meteo"],
        "open_meteo_url": f"{server.url}/v1",
        "open_meteo_archive_url": f"{server.url}/v1",
    }


def test_a_location_is_created_updated_and_listed_with_its_meters(app_client: Callable[..., Any]) -> None:
    with app_client() as client:
        created = client.post(
            "/location/",
            json={
                "latitude": 45.06,
                "longitude": 7.66,
                "city": "Turin",
                "site_id": "s1",
                "timezone": "Europe/Rome",
                "country": "it",
            },
        )
        updated = client.post(
            "/location/", json={"latitude": 45.07, "longitude": 7.68, "city": "Torino", "site_id": "s1"}
        )
        # The seed's body names no site: on a one-site install it means that site.
        seed_body = {"latitude": 45.08, "longitude": 7.69, "city": "Torino centro"}
        only_site = client.post("/location/", json=seed_body)
        genova = {"latitude": 44.4, "longitude": 8.9, "city": "Genova", "site_id": "s2"}
        client.post("/location/", json=genova)
        derived = client.post(
            "/location/", json={"latitude": 40.7128, "longitude": -74.006, "city": "New York"}
        )
        listed = client.get("/location/").json()

    assert (
        created.status_code == 200 and created.json()["created"] is True and created.json()["country"] == "IT"
    )
    assert updated.json() | {"created": None} == {
        "site_id": "s1",
        "latitude": 45.07,
        "longitude": 7.68,
        "city": "Torino",
        "timezone": "Europe/Rome",
        "country": "IT",
        "meter_ids": ["b1"],
        "created": None,
    }
    assert only_site.json() | {"created": None} == updated.json() | {
        "latitude": 45.08,
        "longitude": 7.69,
        "city": "Torino centro",
        "created": None,
    }
    assert only_site.json()["created"] is False
    assert derived.json()["site_id"] == "new_york" and derived.json()["created"] is True
    assert derived.json()["timezone"] == "UTC"
    assert [s["site_id"] for s in listed] == ["new_york", "s1", "s2"]


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param({"latitude": 91, "longitude": 7, "city": "X"}, "latitude", id="latitude-above-90"),
        pytest.param(
            {"latitude": 45, "longitude": -180.5, "city": "X"}, "longitude", id="longitude-below-180"
        ),
        pytest.param(
            {"latitude": 45, "longitude": 7, "city": "X", "country": "XX"}, "country", id="unknown-country"
        ),
        pytest.param(
            {"latitude": 45, "longitude": 7, "city": "X", "timezone": "Mars/Base"}, "timezone", id="bad-tz"
        ),
        pytest.param({"latitude": 45, "longitude": 7}, "city", id="missing-city"),
    ],
)
def test_bad_locations_answer_422_naming_the_field(
    app_client: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    with app_client() as client:
        response = client.post("/location/", json=body)

    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == [field]


def test_a_stored_period_is_served_from_the_store_without_a_provider_call(
    app_client: Callable[..., Any], server: FakeWeatherServer, store: DuckDBSeriesStore
) -> None:
    store.upsert_site(S1)
    with app_client(**open_meteo(server)) as client:
        body = client.post(
            "/temperature/series/",
            json={"start_date": "2024-02-01", "end_date": "2024-02-02", "site_id": "s1"},
        ).json()

    assert body["hours"] == 48 and body["source_counts"] == {"observed": 48} and body["written_to_store"] == 0
    assert server.calls() == 0


def test_a_new_period_calls_the_provider_once_and_the_second_call_not_at_all(
    app_client: Callable[..., Any], server: FakeWeatherServer, store: DuckDBSeriesStore
) -> None:
    store.upsert_site(S1)
    with app_client(**open_meteo(server)) as client:
        first = client.post("/temperature/series/", json=NEW_PERIOD).json()
        calls_after_first = server.calls()
        second = client.post("/temperature/series/", json=NEW_PERIOD).json()

    assert first["source_counts"] == {"open-meteo": 48} and first["written_to_store"] == 48
    assert calls_after_first == 1 and server.calls() == 1
    assert second["source_counts"] == {"observed": 48}
    point = second["data"][13]
    assert point["datetime"] == "2024-03-01T13:00:00Z"
    assert point["temperature"] == default_temperature(pd.Timestamp("2024-03-01T13:00Z"))


def test_a_refused_key_answers_502_naming_the_provider_and_the_fix(
    app_client: Callable[..., Any], server: FakeWeatherServer, store: DuckDBSeriesStore
) -> None:
    store.upsert_site(S1)
    settings = {
        "providers": ["openweathermap"],
        "api_key": "bad-key",
        "base_url": f"{server.url}/data/2.5",
        "history_url": server.url,
    }
    with app_client(**settings) as client:
        response = client.post("/temperature/series/", json=NEW_PERIOD)

    assert response.status_code == 502
    body = response.json()
    assert body["provider"] == "openweathermap" and body["error_type"] == "CONNECTION_ERROR"
    assert (
        "HTTP 401" in body["detail"]
        and "check the API key" in body["detail"]
        and "bad-key" not in body["detail"]
    )
    assert "Traceback" not in response.text


def test_series_needs_a_known_site(app_client: Callable[..., Any], store: DuckDBSeriesStore) -> None:
    with app_client() as client:
        unknown = client.post("/temperature/series/", json={**NEW_PERIOD, "site_id": "nowhere"})
        store.upsert_site(S1)
        store.upsert_site(Site("s2", 1.0, 2.0))
        ambiguous = client.post(
            "/temperature/series/", json={"start_date": "2024-03-01", "end_date": "2024-03-01"}
        )

    assert unknown.status_code == 404 and "POST /location/" in unknown.json()["detail"]
    assert ambiguous.status_code == 422 and "name one with site_id" in ambiguous.json()["detail"]


def test_validate_reports_full_coverage_then_a_deleted_day_exactly(
    app_client: Callable[..., Any], server: FakeWeatherServer, store: DuckDBSeriesStore
) -> None:
    store.upsert_site(S1)
    with app_client(**open_meteo(server)) as client:
        full = client.get("/temperature/validate/", params={"days": 30, "site_id": "s1"}).json()["reports"][0]
        store.delete_temperature("s1", pd.Timestamp("2024-02-10T00:00Z"), pd.Timestamp("2024-02-11T00:00Z"))
        holed = client.get("/temperature/validate/", params={"days": 30}).json()["reports"][0]

    assert full["window_start"] == "2024-01-31T00:00:00Z" and full["window_end"] == "2024-03-01T00:00:00Z"
    assert (full["coverage_percent"], full["gap_hours"], full["gap_count"], full["longest_gap"]) == (
        100.0,
        0,
        0,
        None,
    )
    assert full["out_of_bounds"] == [] and full["flatlines"] == []
    comparison = full["provider_comparison"]
    assert comparison["available"] is True and comparison["compared_hours"] == 720
    assert comparison["providers"] == ["open-meteo"] and comparison["mean_absolute_difference_c"] > 0
    assert holed["gap_hours"] == 24 and holed["gap_count"] == 1
    assert holed["longest_gap"] == {
        "start": "2024-02-10T00:00:00Z",
        "end": "2024-02-11T00:00:00Z",
        "hours": 24,
        "value": None,
    }
    assert holed["coverage_percent"] == pytest.approx(100 * 696 / 720, abs=1e-3)


def test_validate_rejects_a_bad_days_value(app_client: Callable[..., Any]) -> None:
    with app_client() as client:
        response = client.get("/temperature/validate/", params={"days": 0})

    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "days"]


@pytest.mark.parametrize(
    "end_date", ["0.5", "1700000000", "-3", "1e9"], ids=["fraction", "epoch", "negative", "exponent"]
)
def test_validate_refuses_an_end_date_that_is_not_iso_8601(
    app_client: Callable[..., Any], end_date: str
) -> None:
    # Query values arrive as text, so a number-only string must be refused as text, not read as epoch.
    with app_client() as client:
        response = client.get("/temperature/validate/", params={"end_date": end_date})

    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["query", "end_date"] and "ISO-8601" in error["msg"]


def test_validate_accepts_an_iso_end_date(app_client: Callable[..., Any], store: DuckDBSeriesStore) -> None:
    store.upsert_site(S1)
    with app_client() as client:
        response = client.get("/temperature/validate/", params={"end_date": "2024-02-01", "days": 7})

    assert response.status_code == 200
    assert response.json()["reports"][0]["window_end"] == "2024-02-01T00:00:00Z"


@pytest.mark.parametrize(
    "dates",
    [
        {"start_date": "2262-05-01", "end_date": "2262-05-02"},
        {"start_date": "2024-03-01", "end_date": "9999-12-31"},
        {"start_date": "2024-03-01T00:00:00Z", "end_date": "2300-01-01T00:00:00Z"},
    ],
    ids=["past-pandas-range", "date-only-end", "timestamp-end"],
)
def test_series_refuses_years_the_store_cannot_hold(
    app_client: Callable[..., Any], store: DuckDBSeriesStore, dates: dict[str, str]
) -> None:
    store.upsert_site(S1)
    with app_client() as client:
        response = client.post("/temperature/series/", json={**dates, "site_id": "s1"})

    assert response.status_code == 422
    assert "check the year" in response.json()["detail"][0]["msg"]


@pytest.fixture
def trained(store: DuckDBSeriesStore, settings_factory: Callable[..., Settings]) -> None:
    store.upsert_site(S1)
    train_meter(
        store, FileModelStore(settings_factory().models_dir), meter_id="b1", meter_type=MeterType.ELECTRICITY
    )


FORECAST = {
    "meter_id": "b1",
    "meter_type": "electricity",
    "start_date": "2024-03-01",
    "end_date": "2024-03-07",
}


@pytest.mark.usefixtures("trained")
def test_forecast_temperatures_come_from_the_provider_and_say_so(
    app_client: Callable[..., Any], server: FakeWeatherServer
) -> None:
    with app_client(**open_meteo(server)) as client:
        body = client.post("/forecast/", json=FORECAST).json()

    points = body["forecast_data"]
    assert len(points) == 168 and body["temperature_source"] == "open-meteo"
    assert {p["temperature_source"] for p in points} == {"open-meteo"}
    assert points[5]["temperature"] == default_temperature(pd.Timestamp("2024-03-01T05:00Z"))


@pytest.mark.usefixtures("trained")
def test_forecast_without_network_or_key_falls_back_to_climatology(app_client: Callable[..., Any]) -> None:
    unreachable = {
        "providers": ["open-meteo"],
        "open_meteo_url": "http://127.0.0.1:9/v1",
        "open_meteo_archive_url": "http://127.0.0.1:9/v1",
    }
    with app_client(**unreachable) as client:
        body = client.post("/forecast/", json=FORECAST).json()

    points = body["forecast_data"]
    assert len(points) == 168 and body["temperature_source"] == "climatology"
    assert all(p["temperature"] is not None and p["temperature_source"] == "climatology" for p in points)
