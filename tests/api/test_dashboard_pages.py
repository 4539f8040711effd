"""Dashboard pages rendered by the app (no browser): content, friendly 404s, escaping, assets."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.routes.dashboard import age
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

# The seed's eight stages of a training task, in order.
STAGES = [
    TaskState(name)
    for name in (
        *("PENDING", "STARTED", "CONNECTING", "FETCHING_DATA"),
        *("VALIDATING_DATA", "TRAINING_MODEL", "SAVING_MODEL", "SUCCESS"),
    )
]

HOSTILE_UNIT = "</script><script>alert('unit')</script>"


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_factory()
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters(
        [
            Meter("bldg1", MeterType.ELECTRICITY, "s1", unit="kWh"),
            Meter("pump-7", MeterType.WATER, "s2", unit=HOSTILE_UNIT),
            Meter("new.meter", MeterType.ELECTRICITY, "s1"),
        ]
    )
    readings = hourly_series("2024-01-01", hours=24 * 21, seed=3)
    store.write_readings(MeterType.ELECTRICITY, "bldg1", readings)
    store.write_readings(MeterType.WATER, "pump-7", readings)
    # Only the metadata matters to the pages: the registry is read, the model is never loaded.
    FileModelStore(settings.models_dir).save(
        MeterType.ELECTRICITY,
        "bldg1",
        {"model.ubj": b"not read by the pages"},
        {
            "metrics": {"cv_rmse_percent": 7.25, "r2": 0.913},
            "training_window": {"start": "2024-01-01T00:00:00+00:00", "end": "2024-01-21T23:00:00+00:00"},
        },
    )
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


def page_data(html: str) -> dict[str, Any]:
    """The JSON the page hands its script, parsed as the browser would."""
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, "no page-data block"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def fleet_row(html: str, meter_id: str) -> str:
    match = re.search(rf'<tr data-meter-id="{re.escape(meter_id)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {meter_id}"
    return match.group(1)


def test_fleet_overview_lists_every_meter_with_model_age_and_accuracy(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    trained = fleet_row(html, "bldg1")
    assert 'href="/dashboard/meters/electricity/bldg1"' in trained
    assert "2024-01-21 23:00 UTC" in trained  # last reading
    assert "v1" in trained and "just now" in trained  # model version and age
    assert "7.2" in trained and "0.91" in trained  # CV(RMSE) % and R² from the active model
    assert "up to date" in trained
    assert "no model" in fleet_row(html, "pump-7")
    assert "no readings" in fleet_row(html, "new.meter")
    assert '<span class="tile-value" id="meter-count">3</span>' in html


def test_fleet_overview_without_meters_says_how_to_import(
    settings_factory: Callable[..., Settings],
) -> None:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as empty:
        html = empty.get("/").text

    assert "No meters yet" in html
    assert "energy-forecast import" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", None, id="no-refresh-by-default"),
        pytest.param("?refresh=60", "60", id="wall-screen"),
        pytest.param("?refresh=1", "10", id="clamped-to-ten-seconds"),
    ],
)
def test_fleet_overview_reloads_only_when_asked(client: TestClient, query: str, expected: str | None) -> None:
    html = client.get(f"/{query}").text

    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)">', html)
    assert (refresh.group(1) if refresh else None) == expected


def test_meter_page_carries_the_chart_the_train_button_and_eight_stages(client: TestClient) -> None:
    response = client.get("/dashboard/meters/electricity/bldg1")

    assert response.status_code == 200
    html = response.text
    data = page_data(html)
    assert data["meter_id"] == "bldg1" and data["meter_type"] == "electricity"
    assert data["last_reading"] == "2024-01-21T23:00:00+00:00"
    stages = re.findall(r'<li data-state="(\w+)">.*?<span class="stage-pct">(\d+) %', html)
    assert stages == [(s.value, str(s.progress)) for s in STAGES]
    assert 'id="chart"' in html and 'id="train-button"' in html
    assert 'value="2024-01-01"' in html and 'value="2024-01-21"' in html  # training window defaults
    assert "/static/vendor/uplot/uPlot.iife.min.js" in html


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/dashboard/meters/electricity/nosuch", id="unregistered-meter"),
        pytest.param("/dashboard/meters/water/bldg1", id="meter-of-another-type"),
        pytest.param("/dashboard/meters/gas/bldg1", id="unknown-meter-type"),
        pytest.param("/dashboard/meters/electricity/.env%20x", id="not-a-slug"),
        pytest.param("/dashboard/tasks/not-a-task-id!", id="malformed-task-id"),
    ],
)
def test_unknown_pages_answer_a_friendly_404_page(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert 'href="/"' in response.text  # a way back


def test_meter_id_in_a_link_is_escaped_on_the_404_page(client: TestClient) -> None:
    response = client.get("/dashboard/meters/electricity/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")

    assert response.status_code == 404
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_free_text_meter_fields_are_escaped_in_html_and_in_the_page_data(client: TestClient) -> None:
    html = client.get("/dashboard/meters/water/pump-7").text

    assert HOSTILE_UNIT not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(&#39;unit&#39;)&lt;/script&gt;" in html
    assert page_data(html)["unit"] == HOSTILE_UNIT  # intact for the script, inert for the parser


def test_task_page_renders_the_stages_for_a_task_id(client: TestClient) -> None:
    task_id = "0f4e2a7c-1b2d-4c3e-9f00-123456789abc"

    html = client.get(f"/dashboard/tasks/{task_id}").text

    assert f'<code class="task-id">{task_id}</code>' in html
    assert html.count('<li data-state="') == 8


def test_pages_load_nothing_from_other_origins_and_say_so_in_their_policy(client: TestClient) -> None:
    for path in ("/", "/dashboard/meters/electricity/bldg1", "/dashboard/meters/electricity/nosuch"):
        response = client.get(path)

        assert not re.search(r'(src|href)="(https?:)?//', response.text), path
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param("/static/vendor/uplot/uPlot.iife.min.js", "javascript", id="uplot"),
        pytest.param("/static/vendor/uplot/uPlot.min.css", "text/css", id="uplot-css"),
        pytest.param("/static/dashboard.js", "javascript", id="dashboard-js"),
        pytest.param("/static/dashboard.css", "text/css", id="dashboard-css"),
    ],
)
def test_assets_are_served_from_the_package(client: TestClient, path: str, content_type: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert content_type in response.headers["content-type"]
    assert len(response.content) > 1000


def test_every_template_and_asset_is_declared_as_package_data() -> None:
    # An installed wheel serves only what setuptools copied; its globs do not cross directories.
    root = Path(__file__).parents[2]
    package = root / "src/energy_forecast"
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    declared = {path for pattern in patterns["energy_forecast"] for path in package.glob(pattern)}
    shipped = {p for folder in ("api/static", "api/templates") for p in (package / folder).rglob("*")}

    assert {p for p in shipped if p.is_file()} <= declared


def test_vendored_library_ships_with_its_licence() -> None:
    vendor = Path(__file__).parents[2] / "src/energy_forecast/api/static/vendor/uplot"

    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert "uPlot" in (vendor / "uPlot.iife.min.js").read_text()[:2000]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(None, "", id="unknown"),
        pytest.param("2024-03-01T11:59:30+00:00", "just now", id="seconds"),
        pytest.param("2024-03-01T11:15:00+00:00", "45 min ago", id="minutes"),
        pytest.param("2024-03-01T02:00:00+00:00", "10 h ago", id="hours"),
        pytest.param("2024-02-01T12:00:00+00:00", "29 d ago", id="days"),
        pytest.param("2024-03-02T12:00:00+00:00", "in the future", id="clock-skew"),
    ],
)
def test_ages_read_in_the_largest_whole_unit(moment: str | None, expected: str) -> None:
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)

    assert age(None if moment is None else datetime.fromisoformat(moment), now) == expected
