"""The seed's weather flow on an install with several imported sites: ``POST /location/`` sets the
current location, ``/temperature/series/`` without ``site_id`` answers from it, and a location that
matches an imported site (coordinates within a few km, or its city) updates that site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.current_site import CURRENT_SITE_KEY
from energy_forecast.domain.sites import Site
from energy_forecast.services.ingestion import import_directory
from energy_forecast.services.sites import distance_km, matching_site
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.contract.seed_examples import LOCATION, TEMPERATURE_SERIES
from tests.tasks.conftest import redis_test_url
from tests.weather.fake_server import FakeWeatherServer

pytestmark = pytest.mark.integration

SITES = ("tetouan_ma", "rome_it", "leeds_gb")
METERS = "meter_id,meter_type,site_id,unit\n" + "".join(
    f"m{i},electricity,{s},kWh\n" for i, s in enumerate(SITES)
)
TEMPS = "timestamp,site_id,temperature_c\n" + "".join(
    f"2025-06-01T{h:02d}:00:00Z,{site},{10 + i + h / 4}\n" for i, site in enumerate(SITES) for h in range(24)
)
ONE_DAY = {"start_date": "2025-06-01", "end_date": "2025-06-01"}


@pytest.fixture
def client(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer]]:
    url = redis_test_url()
    redis.Redis.from_url(url).delete(CURRENT_SITE_KEY)
    data = tmp_path / "data"
    data.mkdir()
    (data / "meters.csv").write_text(METERS, encoding="utf-8")
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n" + "".join(f"2025-06-01T00:00:00Z,m{i},1\n" for i in range(3))
    )
    (data / "temperature.csv").write_text(TEMPS, encoding="utf-8")
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    import_directory(store, data)
    store.upsert_site(Site("rome_it", latitude=41.9028, longitude=12.4964, city="Roma"))
    server = FakeWeatherServer().start()
    weather = {"providers": ["open-meteo"], "open_meteo_url": f"{server.url}/v1"}
    weather |= {"open_meteo_archive_url": f"{server.url}/v1", "timeout_s": 2}
    settings = settings_factory(weather=weather, redis_url=url)
    with TestClient(create_app(settings, store=store, run_workers=False)) as test_client:
        yield test_client, store, server
    server.stop()
    store.close()
    redis.Redis.from_url(url).delete(CURRENT_SITE_KEY)


def test_the_seed_bodies_answer_from_the_location_just_set(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, store, server = client

    located = test_client.post(LOCATION.path, json=LOCATION.body)
    series = test_client.post(TEMPERATURE_SERIES.path, json=TEMPERATURE_SERIES.body)

    assert located.status_code == 200 and located.json()["site_id"] == "new_york"
    assert located.json()["created"] is True  # New York matches none of the imported sites
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["site_id"] == "new_york"
    assert body["hours"] == 30 * 24 and body["missing_hours"] == 0
    assert server.calls() > 0  # from the provider, at the coordinates just set
    assert len(store.list_sites()) == 4


def test_coordinates_near_an_imported_site_update_it_and_make_it_current(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, store, server = client

    located = test_client.post("/location/", json={"latitude": 41.89, "longitude": 12.49, "city": "Rome"})
    series = test_client.post("/temperature/series/", json=ONE_DAY)

    assert located.json()["site_id"] == "rome_it" and located.json()["created"] is False
    assert located.json()["meter_ids"] == ["m1"]
    assert store.get_site("rome_it").city == "Rome"
    assert len(store.list_sites()) == 3  # no empty site created
    assert series.json()["site_id"] == "rome_it"
    assert series.json()["source_counts"] == {"observed": 24}
    assert server.calls() == 0


def test_the_last_location_set_is_the_default(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, _, _ = client
    test_client.post("/location/", json={"latitude": 41.9, "longitude": 12.5, "city": "Rome"})
    test_client.post(
        "/location/", json={"latitude": 53.8, "longitude": -1.55, "city": "Leeds", "site_id": "leeds_gb"}
    )

    series = test_client.post("/temperature/series/", json=ONE_DAY)
    named = test_client.post("/temperature/series/", json={**ONE_DAY, "site_id": "tetouan_ma"})

    assert series.json()["site_id"] == "leeds_gb"
    assert named.json()["site_id"] == "tetouan_ma"  # a named site always wins


def test_without_a_location_set_several_sites_still_ask_for_one_and_say_how(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, _, _ = client

    response = test_client.post("/temperature/series/", json=ONE_DAY)

    assert response.status_code == 422
    assert "set the current location with POST /location/" in response.json()["detail"]


def test_matching_prefers_the_nearest_site_then_the_same_city() -> None:
    sites = [
        Site("a", latitude=45.0, longitude=9.0),
        Site("b", latitude=45.03, longitude=9.0),
        Site("c", city="Zürich"),
    ]

    assert matching_site(sites, 45.025, 9.0, "Milano").site_id == "b"
    assert matching_site(sites, 47.37, 8.54, "zürich").site_id == "c"
    assert matching_site(sites, 10.0, 10.0, "Nowhere") is None
    assert distance_km(45.0, 9.0, 45.03, 9.0) == pytest.approx(3.34, abs=0.01)
