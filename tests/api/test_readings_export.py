"""``GET /meters/{type}/{id}/readings``: the hourly values as stored, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings

READINGS = [
    {"timestamp": "2024-03-30T22:00:00Z", "consumption": 1.25},
    {"timestamp": "2024-03-31T01:00:00+02:00", "consumption": 2.5},  # stored as 23:00 UTC
    {"timestamp": "2024-03-31T00:00:00Z", "consumption": None},  # a gap stays absent
    {"timestamp": "2024-03-31T01:00:00Z", "consumption": 0.1},
]


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as test_client:
        assert test_client.post("/meters/water/w1/readings", json=READINGS).status_code == 201
        yield test_client


def test_json_lists_each_stored_hour_in_utc(client: TestClient) -> None:
    response = client.get("/meters/water/w1/readings")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {"timestamp": "2024-03-30T22:00:00Z", "consumption": 1.25},
        {"timestamp": "2024-03-30T23:00:00Z", "consumption": 2.5},
        {"timestamp": "2024-03-31T01:00:00Z", "consumption": 0.1},
    ]


def test_start_is_inclusive_end_exclusive_and_offsets_are_honoured(client: TestClient) -> None:
    window = client.get(
        "/meters/water/w1/readings", params={"start": "2024-03-31T01:00:00+02:00", "end": "2024-03-31T01:00"}
    )

    assert [r["timestamp"] for r in window.json()] == ["2024-03-30T23:00:00Z"]


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"format": "csv"}, {}), ({}, {"accept": "text/csv"}), ({}, {"accept": "text/csv;q=1"})],
)
def test_csv_when_asked_reads_back_into_the_import(
    client: TestClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = client.get("/meters/water/w1/readings", params=params, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="water_w1.csv"' in response.headers["content-disposition"]
    assert response.text == (
        "timestamp,consumption\n2024-03-30T22:00:00Z,1.25\n2024-03-30T23:00:00Z,2.5\n2024-03-31T01:00:00Z,0.1\n"
    )
    again = client.post(
        "/meters/water/w2/readings", content=response.text, headers={"content-type": "text/csv"}
    )
    assert again.status_code == 201 and again.json()["points_written"] == 3
    assert client.get("/meters/water/w2/readings").json() == client.get("/meters/water/w1/readings").json()


@pytest.mark.parametrize(
    ("path", "params", "status", "fragment"),
    [
        ("/meters/water/nobody/readings", {}, 404, "no water meter 'nobody'"),
        ("/meters/electricity/w1/readings", {}, 404, "no electricity meter 'w1'"),
        ("/meters/water/w1/readings", {"start": "yesterday-ish"}, 422, "datetime"),
        ("/meters/water/w1/readings", {"start": "2024-04-01", "end": "2024-03-01"}, 422, "must be after"),
        ("/meters/water/w1/readings", {"format": "xml"}, 422, ""),
    ],
)
def test_unknown_meters_and_bad_windows_are_refused_with_a_reason(
    client: TestClient, path: str, params: dict[str, str], status: int, fragment: str
) -> None:
    response = client.get(path, params=params)

    assert response.status_code == status, response.text
    assert fragment in str(response.json()["detail"])


def test_an_empty_window_is_an_empty_list(client: TestClient) -> None:
    response = client.get("/meters/water/w1/readings", params={"start": "2025-01-01"})

    assert response.status_code == 200 and response.json() == []
    assert (
        client.get("/meters/water/w1/readings?start=2025-01-01&format=csv").text == "timestamp,consumption\n"
    )
