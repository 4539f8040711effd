"""Hostile input gets a 4xx with a message: traversal, NUL, huge numbers, NaN/Inf, bad bytes, odd dates."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings

WINDOW = {"start_date": "2024-01-01", "end_date": "2024-01-02"}
STAMP = b'"2024-01-01T00:00:00Z"'


def reading(timestamp: bytes = STAMP, consumption: bytes = b"1") -> bytes:
    """One JSON reading from raw tokens, so that non-JSON-standard literals (NaN) can be sent."""
    return b'[{"timestamp": ' + timestamp + b', "consumption": ' + consumption + b"}]"


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as test_client:
        yield test_client


def message_of(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    detail = body["detail"]
    return detail if isinstance(detail, str) else " ".join(str(e["msg"]) for e in detail)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/meters/electricity/..%2F..%2Fetc%2Fpasswd/readings", id="encoded-slashes"),
        pytest.param("/meters/electricity/..%252F..%252Fetc/readings", id="double-encoded"),
        pytest.param("/meters/electricity/.hidden/readings", id="leading-dot"),
        pytest.param("/meters/electricity/a%00b/readings", id="nul-byte"),
        pytest.param("/models/electricity/..%2Fwater%2Fm1", id="model-traversal"),
        pytest.param("/models/electricity/m1/activate/..%2F..%2F1", id="version-traversal"),
        pytest.param("/trainmodel/status/..%2F..%2Fetc", id="task-id-traversal"),
    ],
)
def test_unsafe_ids_in_paths_are_refused(client: TestClient, path: str) -> None:
    method = client.get if "/readings" not in path and "/activate/" not in path else client.post
    response = method(path)

    assert response.status_code in {404, 422}, response.text
    if response.status_code == 422:
        assert "pattern" in message_of(response) or "integer" in message_of(response)


@pytest.mark.parametrize(
    "meter_id",
    [
        pytest.param("../../etc/passwd", id="traversal"),
        pytest.param("m1\x00.json", id="nul"),
        pytest.param("m1'; DROP TABLE readings; --", id="sql"),
        pytest.param('m1" OR 1=1', id="influxql-quote"),
        pytest.param("x" * 65, id="too-long"),
    ],
)
def test_unsafe_ids_in_bodies_are_refused(client: TestClient, meter_id: str) -> None:
    body = {"meter_id": meter_id, "meter_type": "electricity", **WINDOW}

    response = client.post("/forecast/", json=body)

    assert response.status_code == 422
    assert "meter_id" in message_of(response)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(reading(consumption=b"1e400"), "finite", id="overflow-inf"),
        pytest.param(reading(consumption=b"NaN"), "finite", id="nan"),
        pytest.param(reading(consumption=b"-Infinity"), "finite", id="-inf"),
        pytest.param(reading(consumption=b"-1"), "greater than", id="negative"),
        pytest.param(reading(b"1e300"), "ISO-8601", id="huge-epoch"),
        pytest.param(reading(b'"0001-01-01T00:00:00Z"'), "year", id="year-1"),
        pytest.param(reading(b'"9999-12-31T23:00:00Z"'), "year", id="year-9999"),
        pytest.param(reading(b'"99999-01-01T00:00:00Z"'), "datetime", id="year-99999"),
        pytest.param(reading(b'"2024-01-01T00:00:00\\u0000Z"'), "", id="nul-in-stamp"),
        pytest.param(b'{"readings": "' + b"A" * 1000 + b'"}', "list", id="not-a-list"),
        pytest.param(b"[" * 1000 + b"]" * 1000, "", id="1000-deep-array"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "too deep", id="100000-deep-object"),
        pytest.param(reading(consumption=b"9" * 100_000), "JSON", id="100000-digit-number"),
        pytest.param(reading(b'"' + b"2" * 4_000_000 + b'"'), "ISO-8601", id="4-mb-timestamp"),
        pytest.param(b'[{"timestamp": "' + b"x" * 100, "JSON", id="unterminated"),
    ],
)
def test_hostile_json_readings_are_refused_with_a_message(
    client: TestClient, raw: bytes, expected: str
) -> None:
    response = client.post(
        "/meters/electricity/m1/readings", content=raw, headers={"content-type": "application/json"}
    )

    assert 400 <= response.status_code < 500, response.text
    assert expected in message_of(response)
    assert client.get("/meters/").json() == []


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        pytest.param("timestamp,consumption\n2024-01-01T00:00:00Z,caf\xe9\n".encode("latin-1"), "UTF-8"),
        pytest.param(b"\xff\xfe\x00t\x00s", "UTF-8", id="utf-16-bom"),
        pytest.param(b"timestamp,consumption\n2024-01-01T00:00:00Z,1\x00\n", "", id="nul-byte"),
        pytest.param(b"timestamp,consumption\n2024-01-01T00:00:00Z,1e999\n", "", id="inf-text"),
        pytest.param(b"timestamp,consumption\n2024-01-01T00:00:00Z,nan\n", "", id="nan-text"),
        pytest.param(b"timestamp,consumption\n-99999-01-01T00:00:00Z,1\n", "", id="far-past"),
        pytest.param(b"", "empty", id="empty"),
    ],
)
def test_hostile_csv_is_refused_with_a_message(client: TestClient, csv: bytes, expected: str) -> None:
    response = client.post("/meters/water/w1/readings", content=csv, headers={"content-type": "text/csv"})

    assert 400 <= response.status_code < 500, response.text
    assert message_of(response) and expected in message_of(response)
    assert client.get("/meters/").json() == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", id="year-1"),
        pytest.param("9999-12-30T00:00:00Z", "9999-12-31T23:00:00Z", id="year-9999"),
        pytest.param("2024-01-01T00:00:00Z", "2124-01-01T00:00:00Z", id="century-window"),
        pytest.param("2024-01-01T00:00:00-12:00", "2024-01-01T06:00:00+00:00", id="inverted-by-offset"),
    ],
)
def test_far_past_and_future_forecast_windows_are_refused(client: TestClient, start: str, end: str) -> None:
    client.post(
        "/meters/electricity/m1/readings",
        json=[{"timestamp": "2024-01-01T00:00:00Z", "consumption": 1.0}],
    )
    body = {"meter_id": "m1", "meter_type": "electricity", "start_date": start, "end_date": end}

    response = client.post("/forecast/", json=body)

    assert 400 <= response.status_code < 500, response.text
    assert message_of(response)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"meter_id": "m1", "meter_type": "electricity", "horizon_hours": 10**30}, id="huge-int"),
        pytest.param({"meter_id": "m1", "meter_type": "electricity", "days": -1}, id="negative"),
        pytest.param({"meter_id": "m1", "meter_type": "gas"}, id="unknown-type"),
        pytest.param({"meter_id": "m1", "meter_type": "electricity", "extra": 1}, id="extra-field"),
    ],
)
def test_out_of_range_numbers_are_refused(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/backtest/", json=body)

    assert response.status_code == 422
    assert message_of(response)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 1000 + b"]" * 1000, id="1000-deep-array"),
        pytest.param(b'{"meter_id": ' + b"[" * 1000 + b"]" * 1000 + b"}", id="1000-deep-field"),
        pytest.param(
            b'{"meter_id": "m1", "meter_type": "electricity", "days": ' + b"9" * 100_000 + b"}", id="digits"
        ),
        pytest.param(
            b'{"meter_id": "' + b"m" * 60_000 + b'", "meter_type": "electricity"}', id="huge-string"
        ),
        pytest.param(b'{"meter_id": "m1", "meter_type": ', id="truncated"),
    ],
)
# Without a task queue (this client) /trainmodel/ answers 503 before it reads the body.
@pytest.mark.parametrize("path", ["/forecast/", "/backtest/", "/test_model/", "/location/"])
def test_malformed_json_requests_answer_4xx_with_a_message(client: TestClient, path: str, raw: bytes) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})

    assert response.status_code in {400, 413, 422}, response.text
    assert message_of(response)
    assert len(response.content) < 4000


def test_a_huge_number_in_a_location_is_refused(client: TestClient) -> None:
    body = {
        "meter_id": "m1",
        "meter_type": "electricity",
        "start_date": "2024-01-01",
        "end_date": "2024-01-02",
        "latitude": 1e308,
    }

    response = client.post("/forecast/", json=body)

    assert response.status_code == 422 and "latitude" in response.text
