"""Sites that came with an import, through the app: listed, served from observations, chosen by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.services.ingestion import import_directory
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.weather.fake_server import FakeWeatherServer

METERS = "meter_id,meter_type,site_id,unit\nz1,electricity,tetouan_ma,kW\n"
ELEC = "timestamp,meter_id,consumption\n2017-06-01T00:00:00Z,z1,29198.0\n"
TEMPS = "timestamp,site_id,temperature_c\n" + "".join(
    f"2017-06-01T{h:02d}:00:00Z,tetouan_ma,{15 + h / 4}\n" for h in range(24)
)
SEED_WINDOW = {"start_date": "2017-06-01", "end_date": "2017-06-01"}


@pytest.fixture
def client(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer]]:
    data = tmp_path / "data"
    data.mkdir()
    for name, text in {"meters": METERS, "electricity": ELEC, "temperature": TEMPS}.items():
        (data / f"{name}.csv").write_text(text, encoding="utf-8")
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    import_directory(store, data)
    server = FakeWeatherServer().start()
    weather = {"providers": ["open-meteo"], "open_meteo_url": f"{server.url}/v1"}
    weather |= {"open_meteo_archive_url": f"{server.url}/v1", "timeout_s": 2}
    settings = settings_factory(weather=weather)
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client, store, server
    server.stop()
    store.close()


def test_an_imported_site_is_listed_with_its_meters_and_no_coordinates(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, _, _ = client

    listed = test_client.get("/location/").json()

    assert [(s["site_id"], s["meter_ids"], s["latitude"]) for s in listed] == [("tetouan_ma", ["z1"], None)]


def test_the_seed_body_answers_from_the_only_sites_observations_without_asking_a_provider(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, _, server = client

    named = test_client.post("/temperature/series/", json={**SEED_WINDOW, "site_id": "tetouan_ma"})
    seed = test_client.post("/temperature/series/", json=SEED_WINDOW)

    assert named.status_code == 200 and seed.json() == named.json()
    body = named.json()
    assert body["site_id"] == "tetouan_ma" and body["source_counts"] == {"observed": 24}
    assert body["data"][4] == {"datetime": "2017-06-01T04:00:00Z", "temperature": 16.0, "source": "observed"}
    assert server.requests == []


def test_without_site_id_several_sites_answer_422_naming_them(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, _, _ = client
    test_client.post(
        "/location/", json={"latitude": 35.9, "longitude": -5.3, "city": "Ceuta", "site_id": "ceuta"}
    )

    response = test_client.post("/temperature/series/", json=SEED_WINDOW)

    assert response.status_code == 422
    assert response.json()["error"] == "InputDataError" and "error_type" not in response.json()
    assert "ceuta" in response.json()["detail"] and "tetouan_ma" in response.json()["detail"]


def test_the_seed_location_body_on_a_one_site_install_gives_the_imported_site_its_coordinates(
    client: tuple[TestClient, DuckDBSeriesStore, FakeWeatherServer],
) -> None:
    test_client, store, _ = client

    answer = test_client.post("/location/", json={"latitude": 35.57, "longitude": -5.37, "city": "Tetouan"})

    assert answer.status_code == 200
    assert answer.json() | {"timezone": None} == {
        "site_id": "tetouan_ma",
        "latitude": 35.57,
        "longitude": -5.37,
        "city": "Tetouan",
        "timezone": None,
        "country": None,
        "meter_ids": ["z1"],
        "created": False,
    }
    assert [s.site_id for s in store.list_sites()] == ["tetouan_ma"]
