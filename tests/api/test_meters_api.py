"""Reading import and registry over HTTP, against the embedded store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as test_client:
        yield test_client


def test_json_readings_are_stored_and_listed(client: TestClient) -> None:
    body = [
        {"timestamp": "2024-01-01T00:00:00Z", "consumption": 1.5},
        {"timestamp": "2024-01-01T01:00:00Z", "consumption": None},
        {"timestamp": "2024-01-01T02:00:00+01:00", "consumption": 2.5},
        {"timestamp": "2024-01-01T03:00:00", "consumption": 3.0},
    ]

    response = client.post("/meters/electricity/m1/readings?site_id=s1&unit=kWh", json=body)

    assert response.status_code == 201, response.text
    warnings = response.json().pop("warnings")
    assert {k: v for k, v in response.json().items() if k != "warnings"} == {
        "meter_id": "m1",
        "meter_type": "electricity",
        "rows_received": 4,
        "points_written": 3,
        "reading_count": 3,
        "interval_minutes": 60,
        "reading_kind": "interval",
    }
    # The naive stamp was read as UTC (no zone given) and site s1 has no temperatures: both said.
    assert [(w["code"], w["subject"]) for w in warnings] == [("naive_utc", "m1"), ("no_temperature", "s1")]
    meters = client.get("/meters/").json()
    assert len(meters) == 1
    assert meters[0]["first_timestamp"].startswith("2024-01-01T00:00:00")
    assert meters[0]["last_timestamp"].startswith("2024-01-01T03:00:00")
    assert meters[0]["reading_count"] == 3 and meters[0]["gap_hours"] == 1
    assert meters[0]["site_id"] == "s1" and meters[0]["unit"] == "kWh"


def test_csv_body_and_file_upload_are_accepted(client: TestClient) -> None:
    csv = "timestamp,consumption\n2024-01-01T00:00:00Z,4\n2024-01-01T01:00:00Z,5\n"

    as_body = client.post("/meters/water/w1/readings", content=csv, headers={"content-type": "text/csv"})
    as_file = client.post("/meters/water/w2/readings", files={"file": ("w2.csv", csv, "text/csv")})

    assert as_body.status_code == 201 and as_body.json()["points_written"] == 2
    assert as_file.status_code == 201 and as_file.json()["reading_count"] == 2


def test_a_bad_csv_row_is_named_and_nothing_is_written(client: TestClient) -> None:
    csv = "timestamp,consumption\n2024-01-01T00:00:00Z,4\n2024-01-01T01:00:00Z,-5\n"

    response = client.post("/meters/water/w1/readings", content=csv, headers={"content-type": "text/csv"})

    assert response.status_code == 422
    assert response.json()["row"] == 3
    assert "negative" in response.json()["detail"]
    assert client.get("/meters/").json() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param([{"timestamp": "nope", "consumption": 1}], "[0.timestamp]", id="bad-timestamp"),
        pytest.param(
            [{"timestamp": "2024-01-01T00:00:00Z", "consumption": -1}], "[0.consumption]", id="negative"
        ),
        pytest.param({"foo": 1}, "valid list", id="not-a-list"),
    ],
)
def test_bad_json_gets_422_naming_the_element(client: TestClient, body: object, fragment: str) -> None:
    response = client.post("/meters/electricity/m1/readings", json=body)

    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_nan_in_json_is_refused(client: TestClient) -> None:
    response = client.post(
        "/meters/electricity/m1/readings",
        content='[{"timestamp": "2024-01-01T00:00:00Z", "consumption": NaN}]',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422


@pytest.mark.parametrize("meter_id", ["..%2F..%2Fetc", "a'b", "-leading"])
def test_unsafe_meter_ids_are_refused(client: TestClient, meter_id: str) -> None:
    response = client.post(f"/meters/electricity/{meter_id}/readings", json=[])

    assert response.status_code in {404, 422}
    assert client.get("/meters/").json() == []


def test_unknown_meter_type_is_422(client: TestClient) -> None:
    response = client.post("/meters/gas/m1/readings", json=[])

    assert response.status_code == 422
    assert "electricity" in response.text


def test_type_conflict_is_409(client: TestClient) -> None:
    client.post("/meters/water/m1/readings", json=[{"timestamp": "2024-01-01T00:00:00Z", "consumption": 1}])

    response = client.post(
        "/meters/electricity/m1/readings", json=[{"timestamp": "2024-01-01T01:00:00Z", "consumption": 1}]
    )

    assert response.status_code == 409
    assert "registered as water" in response.json()["detail"]


def test_health_reports_the_store(client: TestClient) -> None:
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["checks"]["storage"]["status"] == "ok"
    assert response.headers["x-request-id"]


def test_liveness_answers_without_checking_dependencies(client: TestClient) -> None:
    response = client.get("/health/live")

    assert response.status_code == 200 and response.json()["status"] == "alive"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("proxy-7f3a.b_2", True), ("x" * 65, False), ("a b", False), ('id" level=error', False)],
)
def test_a_callers_request_id_is_echoed_only_when_it_is_a_short_token(
    client: TestClient, given: str, kept: bool
) -> None:
    echoed = client.get("/health/live", headers={"x-request-id": given}).headers["x-request-id"]

    assert (echoed == given) is kept
    assert len(echoed) <= 64
