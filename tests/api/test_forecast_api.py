"""POST /forecast/, /test_model/ and /backtest/ through the app (the fleet test: test_training_api)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.forecast_schemas import ForecastPublic
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.services.test_forecasting import b1_trained_beside_raw

FUTURE = {"meter_id": "b1", "meter_type": "electricity", "start_date": "2024-03-01", "end_date": "2024-03-07"}


@pytest.fixture
def client(
    settings_factory: Callable[..., Settings], tmp_path: Path, prebuilt: Callable[..., Path]
) -> Iterator[TestClient]:
    prebuilt(b1_trained_beside_raw, tmp_path)
    settings = settings_factory()
    assert settings.models_dir == tmp_path / "home" / "models"
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


def test_forecast_for_a_seven_day_future_window_returns_168_hours_with_bounds(client: TestClient) -> None:
    response = client.post("/forecast/", json=FUTURE)

    assert response.status_code == 200, response.text
    body = response.json()
    points = body["forecast_data"]
    assert len(points) == 168 and {p["type"] for p in points} == {"forecast"}
    assert all(p["lower"] <= p["value"] <= p["upper"] and "temperature" in p for p in points)
    assert (
        points[0]["datetime"] == "2024-03-01T00:00:00Z" and points[-1]["datetime"] == "2024-03-07T23:00:00Z"
    )
    assert body["model_version"] == 1 and body["substituted"] is False
    assert body["temperature_source"] == "climatology" and body["generated_at"]
    # Serialised by hand for speed: it must still be exactly the documented model.
    assert ForecastPublic.model_validate(body).model_dump(mode="json", exclude_none=True) == {
        k: v for k, v in body.items() if v is not None
    }


def test_forecast_lists_readings_inside_the_window_as_historical(client: TestClient) -> None:
    body = client.post(
        "/forecast/", json={**FUTURE, "start_date": "2024-02-29", "end_date": "2024-03-01"}
    ).json()

    kinds = [p["type"] for p in body["forecast_data"]]
    assert kinds == ["historical"] * 24 + ["forecast"] * 24
    assert "temperature" not in body["forecast_data"][0]


def test_daily_forecast_and_location_are_echoed_with_their_notes(client: TestClient) -> None:
    body = client.post(
        "/forecast/",
        json={**FUTURE, "frequency": "daily", "latitude": 45.07, "longitude": 7.69, "city": "Turin"},
    ).json()

    assert [p["datetime"] for p in body["forecast_data"]][:2] == ["2024-03-01", "2024-03-02"]
    assert body["location"]["city"] == "Turin" and "do not change the result" in body["location"]["note"]
    assert any("per local day" in note for note in body["notes"])


def test_a_repeat_is_answered_from_memory_until_readings_or_the_model_change(client: TestClient) -> None:
    first = client.post("/forecast/", json=FUTURE).json()
    repeat = client.post("/forecast/", json=FUTURE).json()
    reading = [{"timestamp": "2024-03-01T00:00:00Z", "consumption": 9999.0}]
    assert client.post("/meters/electricity/b1/readings", json=reading).status_code == 201
    after_import = client.post("/forecast/", json=FUTURE).json()

    assert repeat == first  # the same bytes, generated_at included
    assert after_import["generated_at"] != first["generated_at"]
    assert after_import["last_reading"] == "2024-03-01T00:00:00Z"
    assert after_import["forecast_data"][0] == {**after_import["forecast_data"][0], "type": "historical"}


def test_a_meter_with_history_but_no_model_gets_a_substituted_forecast(client: TestClient) -> None:
    body = client.post("/forecast/", json={**FUTURE, "meter_id": "raw"}).json()

    assert body["substituted"] is True and "train" in body["substitution_reason"]
    assert len(body["forecast_data"]) == 168 and body["model_version"] is None


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        pytest.param({"meter_id": "ghost"}, 404, "no readings and no trained model", id="unknown-meter"),
        pytest.param({"start_date": "2024-03-07", "end_date": "2024-03-01"}, 422, "swap", id="inverted"),
        pytest.param({"end_date": "2024-05-01"}, 422, "at most 31 days", id="too-far-ahead"),
        pytest.param({"latitude": 91}, 422, "latitude", id="latitude-out-of-range"),
        pytest.param({"meter_id": "../etc"}, 422, "meter_id", id="unsafe-id"),
        pytest.param({"frequency": "weekly"}, 422, "frequency", id="unknown-frequency"),
    ],
)
def test_bad_forecast_requests_get_a_clear_4xx(
    client: TestClient, change: dict[str, object], status: int, fragment: str
) -> None:
    response = client.post("/forecast/", json={**FUTURE, **change})

    assert response.status_code == status
    assert fragment in response.text


def test_test_model_returns_the_seed_shape_with_baseline_and_extra_metrics(client: TestClient) -> None:
    response = client.post(
        "/test_model/", json={"meter_id": "b1", "meter_type": "electricity", "test_size": 0.2}
    )

    assert response.status_code == 200, response.text
    results = response.json()["test_results"]
    assert results["meter_type"] == "electricity" and results["test_samples"] > 0
    assert {
        "r2_score",
        "rmse",
        "mae",
        "mean_accuracy_percent",
        "mape_percent",
        "cv_rmse_percent",
        "nmbe_percent",
        "wape_percent",
        "mape_hours",
        "interval_coverage_percent",
    } <= set(results["metrics"])
    assert results["baseline_metrics"]["baseline"] in {"naive_1d", "naive_7d", "mean_7d"}
    assert results["performance_summary"]["r2_category"] in {"excellent", "good", "fair", "poor"}


@pytest.mark.parametrize("path", ["/test_model/", "/backtest/"])
@pytest.mark.parametrize(
    ("meter_id", "meter_type"),
    [("ghost", "electricity"), ("b1", "water")],
    ids=["unknown-meter", "other-type"],
)
def test_a_meter_without_readings_is_404_saying_what_to_do(
    client: TestClient, path: str, meter_id: str, meter_type: str
) -> None:
    response = client.post(path, json={"meter_id": meter_id, "meter_type": meter_type})

    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "NoDataFoundError" and body["error_type"] == "NO_DATA_FOUND"
    assert body["meter_id"] == meter_id
    assert f"no {meter_type} meter {meter_id!r}" in body["detail"]
    # Either how to import the meter, or the type it is registered under.
    assert "import it first" in body["detail"] or "ask for meter_type" in body["detail"]


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.1])
def test_test_size_outside_zero_one_is_422(client: TestClient, test_size: float) -> None:
    response = client.post(
        "/test_model/", json={"meter_id": "b1", "meter_type": "electricity", "test_size": test_size}
    )

    assert response.status_code == 422


def test_all_models_without_a_task_queue_is_a_503(client: TestClient) -> None:
    response = client.post("/test_model/all_models/", json={"meter_type": "electricity"})

    assert response.status_code == 503  # the fleet test runs on workers, never inside the request


def test_backtest_endpoint_returns_records_and_summary(client: TestClient) -> None:
    body = client.post(
        "/backtest/", json={"meter_id": "b1", "meter_type": "electricity", "horizon_hours": 12, "days": 2}
    ).json()

    assert len(body["records"]) == 24
    assert body["summary"]["best_baseline"] in {"naive_1d", "naive_7d", "mean_7d"}


@pytest.mark.parametrize("change", [{"horizon_hours": 0}, {"horizon_hours": 169}, {"days": 366}])
def test_backtest_limits_are_validated(client: TestClient, change: dict[str, int]) -> None:
    response = client.post("/backtest/", json={"meter_id": "b1", "meter_type": "electricity", **change})

    assert response.status_code == 422
