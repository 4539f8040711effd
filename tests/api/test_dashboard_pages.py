"""Dashboard pages rendered by the app (no browser): content, friendly 404s, escaping, assets, and
the locked page a browser gets without a key while keys are enforced."""

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
from energy_forecast.services.apikeys import ApiKeyStore
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


def seeded_store(settings: Settings) -> DuckDBSeriesStore:
    """Three meters (one trained, one with a hostile unit, one without readings)."""
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
    return store


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_factory()
    store = seeded_store(settings)
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


@pytest.fixture
def locked(settings_factory: Callable[..., Settings]) -> Iterator[tuple[TestClient, str]]:
    """The seeded app with keys enforced (``EF_AUTH_REQUIRED``), and a read key for it."""
    settings = settings_factory(auth_required=True)
    _, read_key = ApiKeyStore(settings.api_keys_path).create("wall screen", ["read"])
    store = seeded_store(settings)
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client, read_key
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


PAGES = [
    pytest.param("/", id="fleet"),
    pytest.param("/dashboard/meters/electricity/bldg1", id="meter"),
    pytest.param("/dashboard/meters/electricity/nosuch", id="unknown-meter"),
    pytest.param("/dashboard/tasks/0f4e2a7c-1b2d-4c3e-9f00-123456789abc", id="task"),
]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_opened_without_a_key_is_the_key_form_and_no_data(
    locked: tuple[TestClient, str], path: str
) -> None:
    client, _ = locked

    response = client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert 'id="locked-page"' in html and 'id="key-form"' in html
    assert 'type="password" id="key-input"' in html
    assert "bldg1" not in html and "pump-7" not in html and "page-data" not in html
    assert "/static/dashboard.js" in html and "/static/vendor/uplot/uPlot.iife.min.js" in html


@pytest.mark.parametrize("path", PAGES)
def test_the_locked_page_keeps_the_policy_and_has_no_inline_script(
    locked: tuple[TestClient, str], path: str
) -> None:
    client, _ = locked

    response = client.get(path)

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "form-action 'self'" in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert scripts and all('src="/static/' in attrs and body == "" for attrs, body in scripts)
    assert not re.search(r"\son\w+=", response.text)  # no inline event handlers either


def test_the_key_input_has_no_name_so_a_native_submit_cannot_carry_it(locked: tuple[TestClient, str]) -> None:
    client, _ = locked

    form = re.search(r'<form id="key-form"(.*?)</form>', client.get("/").text, re.S)

    assert form is not None
    assert 'method="post"' in form.group(1)
    assert "name=" not in form.group(1)


def test_a_page_fetched_with_a_read_key_has_its_data(locked: tuple[TestClient, str]) -> None:
    client, read_key = locked

    fleet = client.get("/", headers={"X-API-Key": read_key})
    meter = client.get("/dashboard/meters/electricity/bldg1", headers={"X-API-Key": read_key})

    assert fleet.status_code == 200 and "v1" in fleet_row(fleet.text, "bldg1")
    assert fleet.headers["cache-control"] == "no-store"
    assert 'id="locked-page"' not in fleet.text
    assert meter.status_code == 200 and page_data(meter.text)["meter_id"] == "bldg1"


def test_a_wall_screen_keeps_reloading_while_locked(locked: tuple[TestClient, str]) -> None:
    client, _ = locked

    html = client.get("/?refresh=60").text

    assert '<meta http-equiv="refresh" content="60">' in html


def test_a_page_with_a_wrong_key_is_refused_like_the_api(locked: tuple[TestClient, str]) -> None:
    client, _ = locked

    response = client.get("/", headers={"X-API-Key": "ef_00000000_guess"})

    assert response.status_code == 401
    assert "invalid or revoked" in response.json()["detail"]


def test_keys_never_reach_the_log(locked: tuple[TestClient, str], capsys: pytest.CaptureFixture[str]) -> None:
    client, read_key = locked
    wrong = "ef_00000000_" + "x" * 43

    client.get("/", headers={"X-API-Key": read_key})
    client.get("/dashboard/meters/electricity/bldg1", headers={"Authorization": f"Bearer {read_key}"})
    client.post("/trainmodel/v2/", json={"meter_id": "bldg1"}, headers={"X-API-Key": read_key})  # 403
    client.get("/", headers={"X-API-Key": wrong})  # 401
    client.get("/")  # locked page
    logged = capsys.readouterr()

    assert "request_denied" in logged.out and "page_locked" in logged.out  # the log was captured
    assert read_key not in logged.out + logged.err
    assert wrong not in logged.out + logged.err


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/meters/", id="api-read"),
        pytest.param("GET", "/models/electricity/bldg1", id="api-model"),
        pytest.param("POST", "/", id="post-to-a-page"),
        pytest.param("POST", "/dashboard/meters/electricity/bldg1", id="post-to-a-meter-page"),
    ],
)
def test_only_page_navigations_get_the_locked_page_everything_else_json(
    locked: tuple[TestClient, str], method: str, path: str
) -> None:
    client, _ = locked

    response = client.request(method, path)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert "missing API key" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/dashboard.js",
        "/static/dashboard.css",
        "/static/favicon.svg",
        "/static/vendor/uplot/uPlot.iife.min.js",
    ],
)
def test_static_assets_need_no_key(locked: tuple[TestClient, str], path: str) -> None:
    client, _ = locked

    assert client.get(path).status_code == 200


async def raw_get(app: Any, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte, as uvicorn hands it over (httpx would collapse ``..``)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.parametrize("path", ["/static/../meters/", "/static/../dashboard/meters/electricity/bldg1"])
def test_a_dot_dot_under_static_reaches_no_route(locked: tuple[TestClient, str], path: str) -> None:
    client, _ = locked
    assert client.portal is not None

    status, body = client.portal.call(raw_get, client.app, path)

    assert status == 404
    assert b"bldg1" not in body


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
