"""Group forecasts on a small site built here: 3 meters, 2 trained tiny, 1 on its fallback."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.ml.scenarios import RESIDUAL_DAYS
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.group_forecast import group_points, group_scenarios
from energy_forecast.services.group_publication import publish_groups
from energy_forecast.services.groups import put_group
from energy_forecast.services.training import train_meter
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
START, END = pd.Timestamp("2024-03-01T00:00Z"), pd.Timestamp("2024-03-02T23:00Z")


def build_site(store: DuckDBSeriesStore, models: FileModelStore) -> None:
    """Three buildings sharing one weather-driven swing (so their errors move together)."""
    store.upsert_meters([Meter(m, ELEC, "s1", unit="kWh") for m in ("b1", "b2", "b3")])
    temperature = hourly_series("2024-01-01", 24 * 60, seed=2, base=10, name="temperature")
    store.write_temperature("s1", temperature)
    shared = np.random.default_rng(9).normal(0, 8, 60).repeat(24)  # one day-level swing for all
    for k, meter_id in enumerate(("b1", "b2", "b3")):
        base = hourly_series("2024-01-01", 24 * 60, seed=10 + k, base=100 + 20 * k)
        store.write_readings(ELEC, meter_id, make_series(base.index, base.to_numpy() + shared, "consumption"))
    for meter_id in ("b1", "b2"):
        train_meter(store, models, meter_id=meter_id, meter_type=ELEC)
    put_group(store, "site", ELEC, ["b1", "b2", "b3"])


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, DuckDBSeriesStore, FileModelStore]]:
    root = tmp_path_factory.mktemp("site")
    store = DuckDBSeriesStore(root / "s.duckdb")
    models = FileModelStore(root / "models")
    build_site(store, models)
    yield root, store, models
    store.close()


def test_the_group_point_is_the_sum_of_its_members_forecasts_and_the_band_comes_from_joint_paths(
    site: tuple[Path, DuckDBSeriesStore, FileModelStore],
) -> None:
    _, store, models = site
    answer = group_scenarios(store, models, group_id="site", start=START, end=END, size=400)

    members = [
        forecast_meter(store, models, meter_id=m, meter_type=ELEC, start=START, end=END)
        for m in ("b1", "b2", "b3")
    ]
    summed = np.sum([[p.value for p in r.points if p.kind == "forecast"] for r in members], axis=0)
    scenarios = answer.scenarios
    assert np.allclose(scenarios.point, summed)
    assert (scenarios.members, scenarios.fallbacks, scenarios.model) == (3, 1, "group")
    assert scenarios.dependence == RESIDUAL_DAYS and answer.member_models == {"ensemble": 2, "fallback": 1}
    points = group_points(answer, (0.1, 0.5, 0.9))
    ahead = [p for p in points if p.kind == "forecast"]
    assert len(ahead) == 48 and all(p.lower <= p.quantiles["p50"] <= p.upper for p in ahead)  # type: ignore[operator]
    summed_bands = np.sum(
        [
            [p.quantiles["p90"] - p.quantiles["p10"] for p in r.points if p.kind == "forecast"]
            for r in members
        ],
        axis=0,
    )
    ours = np.array([p.upper - p.lower for p in ahead])  # type: ignore[operator]
    assert 0.3 < ours.mean() / summed_bands.mean() < 1.05  # the sum's band is no wider than the summed bands
    daily = group_points(answer, (0.1, 0.5, 0.9), "daily")
    assert [p.hours for p in daily] == [24, 24]
    assert daily[0].value == pytest.approx(sum(p.value for p in ahead[:24]))


@pytest.fixture
def client(
    site: tuple[Path, DuckDBSeriesStore, FileModelStore], settings_factory: Callable[..., Settings]
) -> Iterator[TestClient]:
    root, store, _ = site
    settings = settings_factory()
    shutil.copytree(root / "models", settings.models_dir, dirs_exist_ok=True)  # the trained site
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client


def test_post_forecast_with_a_group_id_answers_the_total_with_the_meters_quantile_keys(
    client: TestClient,
) -> None:
    window = {"meter_type": "electricity", "start_date": "2024-02-29", "end_date": "2024-03-02"}
    group = client.post("/forecast/", json={**window, "group_id": "site"})
    meter = client.post("/forecast/", json={**window, "meter_id": "b1"})
    assert group.status_code == 200, group.text
    body = group.json()
    assert body["model"] == "group" and body["group_id"] == "site" and body["meter_id"] is None
    assert (body["members"], body["fallbacks"]) == (3, 1) and body["substituted"] is True
    ahead = [p for p in body["forecast_data"] if p["type"] == "forecast"]
    history = [p for p in body["forecast_data"] if p["type"] == "historical"]
    assert len(ahead) == 48 and len(history) == 24
    meter_keys = {k for p in meter.json()["forecast_data"] if p["type"] == "forecast" for k in p["quantiles"]}
    assert all(set(p["quantiles"]) == meter_keys for p in ahead)
    assert all(p["lower"] <= p["quantiles"]["p50"] <= p["upper"] for p in ahead)


def test_a_repeated_group_request_is_answered_from_memory_until_a_member_changes(
    client: TestClient,
) -> None:
    body = {
        "group_id": "site",
        "meter_type": "electricity",
        "start_date": "2024-02-29",
        "end_date": "2024-03-02",
    }
    first = client.post("/forecast/", json=body).json()
    again = client.post("/forecast/", json=body).json()
    posted = client.post(
        "/meters/electricity/b1/readings",
        content="timestamp,consumption\n2024-02-29T00:00:00Z,7.5\n",
        headers={"Content-Type": "text/csv"},
    )
    after = client.post("/forecast/", json=body).json()

    assert again == first  # generated_at included: the same answer, not a recomputation
    assert posted.status_code == 201, posted.text
    assert after["generated_at"] != first["generated_at"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"group_id": "nowhere", "meter_type": "electricity"}, 404, "does not exist"),
        ({"group_id": "site", "meter_type": "water"}, 404, "is electricity, not water"),
        ({"group_id": "site", "meter_id": "b1", "meter_type": "electricity"}, 422, "exactly one"),
        ({"meter_type": "electricity"}, 422, "exactly one"),
    ],
)
def test_bad_group_forecast_requests_say_what_to_fix(
    client: TestClient, body: dict[str, str], status: int, says: str
) -> None:
    response = client.post("/forecast/", json={**body, "start_date": "2024-03-01", "end_date": "2024-03-02"})
    assert response.status_code == status and says in response.text


def test_publication_writes_each_groups_total_with_its_quantiles(
    site: tuple[Path, DuckDBSeriesStore, FileModelStore],
) -> None:
    _, store, models = site
    results = publish_groups(store, models, days=2)
    assert [(r.meter_id, r.model_version, r.points_written, r.error) for r in results] == [
        ("site", "group", 48, None)
    ]
    written = store.read_forecast(ELEC, "site")
    assert len(written) == 48 and set(written["model_version"]) == {"group"}
    assert (written["lower"] <= written["p50"]).all() and (written["p50"] <= written["upper"]).all()
    assert written.index[0] == pd.Timestamp("2024-03-01T00:00Z")
