"""Interval, register and local-time uploads over HTTP, and meters.csv rows by ``PUT /meters``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import MeterType
from energy_forecast.settings import Settings
from tests.services import interval_files as files


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as test_client:
        yield test_client


def hourly(client: TestClient, meter_id: str) -> dict[str, float]:
    store = client.app.state.store  # type: ignore[attr-defined]
    series = store.read_readings(MeterType(files.TYPES.get(meter_id, "electricity")), meter_id)
    return {t.isoformat(): float(v) for t, v in series.items()}


@pytest.mark.parametrize("meter_id", list(files.EXPECTED))
def test_each_file_uploads_into_the_hand_computed_hours(client: TestClient, meter_id: str) -> None:
    value_column = "reading" if meter_id == "house_reg" else "consumption"

    response = client.post(
        f"/meters/{files.TYPES[meter_id]}/{meter_id}/readings",
        params=files.QUERY[meter_id],
        content=files.meter_csv(meter_id, value_column=value_column),
        headers={"content-type": "text/csv"},
    )

    assert response.status_code == 201, response.text
    assert hourly(client, meter_id) == pytest.approx(files.EXPECTED[meter_id])
    body = response.json()
    assert body["points_written"] == len(files.EXPECTED[meter_id])
    assert body["interval_minutes"] == {"feeder_10": 10, "rome_ami": 30, "nyc_ami": 30}.get(meter_id, 15)
    listed = {m["meter_id"]: m for m in client.get("/meters/").json()}[meter_id]
    assert listed["interval_minutes"] == body["interval_minutes"]
    assert listed["unit"] == files.QUERY[meter_id]["unit"]


def test_a_register_drop_is_answered_not_stored_as_negative(client: TestClient) -> None:
    response = client.post(
        "/meters/water/house_reg/readings",
        params=files.QUERY["house_reg"],
        content=files.meter_csv("house_reg"),
        headers={"content-type": "text/csv"},
    )

    warnings = {w["code"]: w["message"] for w in response.json()["warnings"]}
    assert (
        "went down once (rollover or meter exchange) at 2024-01-01T01:30:00+00:00"
        in warnings["register_drop"]
    )
    assert min(hourly(client, "house_reg").values()) > 0


def test_stamps_end_is_a_query_parameter(client: TestClient) -> None:
    csv = "timestamp,consumption\n2024-01-01T00:30:00Z,1\n2024-01-01T01:00:00Z,2\n"

    response = client.post(
        "/meters/electricity/e1/readings?unit=kWh&stamps=end",
        content=csv,
        headers={"content-type": "text/csv"},
    )

    assert response.status_code == 201, response.text
    assert hourly(client, "e1") == {"2024-01-01T00:00:00+00:00": 3.0}


def test_a_skipped_spring_hour_is_a_422_naming_the_row_and_nothing_is_written(client: TestClient) -> None:
    csv = "timestamp,consumption\n2024-03-31 01:00,1\n2024-03-31 02:00,2\n"

    response = client.post(
        "/meters/electricity/e1/readings?unit=kWh&timezone=Europe/Rome",
        content=csv,
        headers={"content-type": "text/csv"},
    )

    assert response.status_code == 422
    assert "CSV body, row 3: timestamp 2024-03-31 02:00:00 does not exist in Europe/Rome" in response.text
    assert client.get("/meters/").json() == []


def test_put_meter_creates_then_replaces_a_meters_csv_row(client: TestClient) -> None:
    created = client.put(
        "/meters/water/w1",
        json={
            "site_id": "s1",
            "unit": "m3",
            "reading_kind": "register",
            "interval_minutes": 15,
            "timezone": "Europe/Rome",
        },
    )
    replaced = client.put("/meters/water/w1", json={"site_id": "s1", "unit": "L/s"})

    assert created.status_code == 201, created.text
    assert created.json()["reading_kind"] == "register" and created.json()["interval_minutes"] == 15
    assert replaced.status_code == 200
    listed = client.get("/meters/").json()
    assert [
        (m["meter_id"], m["unit"], m["reading_kind"], m["interval_minutes"], m["timezone"]) for m in listed
    ] == [("w1", "L/s", "interval", None, "UTC")]


def test_an_uploaded_file_follows_the_kind_a_put_declared(client: TestClient) -> None:
    client.put("/meters/water/house_reg", json={"unit": "m3", "reading_kind": "register"})

    response = client.post(
        "/meters/water/house_reg/readings",
        content=files.meter_csv("house_reg"),
        headers={"content-type": "text/csv"},
    )

    assert response.status_code == 201, response.text
    assert hourly(client, "house_reg") == pytest.approx(files.HOUSE_HOURLY)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param({"unit": "furlongs"}, "unknown unit 'furlongs'; use one of energy (Wh, kWh", id="unit"),
        pytest.param({"interval_minutes": 7}, "interval_minutes", id="interval"),
        pytest.param({"reading_kind": "index"}, "reading_kind", id="kind"),
        pytest.param({"timezone": "Mars/Base"}, "timezone", id="zone"),
        pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    ],
)
def test_put_meter_refuses_what_meters_csv_refuses(client: TestClient, body: dict, fragment: str) -> None:
    response = client.put("/meters/electricity/e1", json=body)

    assert response.status_code == 422
    assert fragment in response.text
    assert client.get("/meters/").json() == []


def test_put_meter_of_another_type_is_409(client: TestClient) -> None:
    client.put("/meters/water/w1", json={"unit": "m3"})

    response = client.put("/meters/electricity/w1", json={"unit": "kWh"})

    assert response.status_code == 409
    assert "registered as water" in response.json()["detail"]
