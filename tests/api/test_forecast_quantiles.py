"""Forecast quantiles through the API: /forecast/ points, configured levels, daily sums, the
fallback, /test_model/ scores, and the setting's validation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.forecast_schemas import ForecastPublic
from energy_forecast.errors import ConfigurationError
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.services.test_forecasting import b1_trained_beside_raw

FUTURE = {"meter_id": "b1", "meter_type": "electricity", "start_date": "2024-03-01", "end_date": "2024-03-07"}


def _client(settings: Settings, tmp_path: Path, prebuilt: Callable[..., Path]) -> Iterator[TestClient]:
    prebuilt(b1_trained_beside_raw, tmp_path)
    assert settings.models_dir == tmp_path / "home" / "models"
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


@pytest.fixture
def client(
    settings_factory: Callable[..., Settings], tmp_path: Path, prebuilt: Callable[..., Path]
) -> Iterator[TestClient]:
    yield from _client(settings_factory(), tmp_path, prebuilt)


@pytest.fixture
def wide_client(
    settings_factory: Callable[..., Settings], tmp_path: Path, prebuilt: Callable[..., Path]
) -> Iterator[TestClient]:
    yield from _client(settings_factory(forecast_quantiles="0.975, 0.025,0.5"), tmp_path, prebuilt)


def _ordered(values: list[float]) -> bool:
    return all(a <= b for a, b in pairwise(values))


def test_forecast_points_carry_p10_p50_p90_with_value_the_median_and_bounds_the_band(
    client: TestClient,
) -> None:
    body = client.post("/forecast/", json={**FUTURE, "start_date": "2024-02-29"}).json()

    history = [p for p in body["forecast_data"] if p["type"] == "historical"]
    points = [p for p in body["forecast_data"] if p["type"] == "forecast"]
    assert history and all("quantiles" not in p for p in history)
    assert len(points) == 168
    for p in points:
        q = p["quantiles"]
        assert list(q) == ["p10", "p50", "p90"]
        assert q["p50"] == p["value"] and q["p10"] == p["lower"] and q["p90"] == p["upper"]
        assert _ordered([q["p10"], q["p50"], q["p90"]]) and q["p10"] >= 0
    assert ForecastPublic.model_validate(body).model_dump(mode="json", exclude_none=True) == {
        k: v for k, v in body.items() if v is not None
    }


def test_configured_levels_are_the_keys_and_lower_upper_stay_the_80_percent_band(
    wide_client: TestClient,
) -> None:
    points = wide_client.post("/forecast/", json=FUTURE).json()["forecast_data"]

    assert all(list(p["quantiles"]) == ["p2.5", "p50", "p97.5"] for p in points)
    for p in points:
        q = p["quantiles"]
        assert _ordered([q["p2.5"], p["lower"], q["p50"], p["upper"], q["p97.5"]])
        assert q["p50"] == p["value"]
    assert any(p["quantiles"]["p97.5"] > p["upper"] for p in points)  # wider than the 80 % band


def test_daily_points_sum_the_hourly_quantiles(client: TestClient) -> None:
    hourly = client.post("/forecast/", json=FUTURE).json()["forecast_data"]
    daily = client.post("/forecast/", json={**FUTURE, "frequency": "daily"}).json()["forecast_data"]

    first_day = [p for p in hourly if p["datetime"].startswith("2024-03-01")]
    assert daily[0]["quantiles"]["p90"] == pytest.approx(sum(p["quantiles"]["p90"] for p in first_day))
    assert all(_ordered([d["quantiles"]["p10"], d["quantiles"]["p50"], d["quantiles"]["p90"]]) for d in daily)


def test_the_substituted_forecast_gives_empirical_quantiles(client: TestClient) -> None:
    body = client.post("/forecast/", json={**FUTURE, "meter_id": "raw"}).json()

    assert body["substituted"] is True
    points = body["forecast_data"]
    assert all(
        _ordered([p["quantiles"]["p10"], p["quantiles"]["p50"], p["quantiles"]["p90"]]) for p in points
    )
    assert all(p["quantiles"]["p10"] == p["lower"] for p in points)


def test_test_model_scores_each_quantile(client: TestClient) -> None:
    metrics = client.post(
        "/test_model/", json={"meter_id": "b1", "meter_type": "electricity", "test_size": 0.2}
    ).json()["test_results"]["metrics"]

    for key in ("p10", "p50", "p90"):
        assert metrics[f"pinball_{key}"] >= 0
        assert 0 <= metrics[f"coverage_{key}_percent"] <= 100
    assert metrics["crps"] > 0 and 0 < metrics["rcrps"] < 1
    assert metrics["interval_coverage_percent"] is not None


@pytest.mark.parametrize("value", ["0.1,1.5", "ten", "", "0.5;0.9"])
def test_a_bad_quantile_setting_names_the_variable_the_value_and_an_example(
    settings_factory: Callable[..., Settings], value: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_factory(forecast_quantiles=value)
    message = str(caught.value)
    assert "EF_FORECAST_QUANTILES" in message and repr(value) in message
    assert "e.g. EF_FORECAST_QUANTILES=0.1,0.5,0.9" in message
