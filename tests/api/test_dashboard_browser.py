"""The dashboard in a real headless Chromium against the real app under uvicorn.

Playwright (Python) drives the Debian ``chromium`` binary: its locators wait for the DOM by
themselves, so the test states what must become true and never sleeps. The app runs as ``serve``
does in embedded mode (DuckDB, private Redis, in-process workers) on an ephemeral 127.0.0.1 port.

Chromium missing: skipped locally with the reason, failed in CI (``CI`` set), like the server
fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.api.live_server import served
from tests.conftest import hourly_series

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAGES = [s.value for s in TaskState if not s.terminal] + ["SUCCESS"]
TRAINING_TIMEOUT_MS = 180_000  # two shared cores; a fit alone takes a few seconds


def chromium_path() -> str:
    found = os.environ.get("EF_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed: apt-get install chromium (scripts/test.sh installs it)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


@dataclass(frozen=True)
class Keys:
    read: str
    write: str


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on an ephemeral port, with one meter of five weeks of hourly data."""
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("bldg1", MeterType.ELECTRICITY, "s1", unit="kWh")])
    hours = 24 * 35
    store.write_readings(MeterType.ELECTRICITY, "bldg1", hourly_series("2024-01-01", hours=hours, seed=5))
    temperature = hourly_series("2024-01-01", hours=hours, seed=6, base=10, name="temperature")
    store.write_temperature("s1", temperature)

    try:
        with served(create_app(settings, store=store)) as origin:
            yield origin
    finally:
        store.close()


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def live_server(settings_factory: Callable[..., Settings], home: Path) -> Iterator[str]:
    """The app on loopback with no key: anonymous, as ``serve`` starts by default."""
    with serve(settings_factory(home=home, worker_threads=1)) as origin:
        yield origin


@pytest.fixture
def locked_server(settings_factory: Callable[..., Settings], home: Path) -> Iterator[tuple[str, Keys]]:
    """The app with keys enforced (``EF_AUTH_REQUIRED``), and a read and a write key for it."""
    settings = settings_factory(home=home, worker_threads=1, auth_required=True)
    keys = ApiKeyStore(settings.api_keys_path)
    _, read = keys.create("wall screen", ["read"])
    _, write = keys.create("operator", ["write"])
    with serve(settings) as origin:
        yield origin, Keys(read=read, write=write)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (user-data-dir) and removes it after.
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


def watch_for_problems(page: Page, origin: str) -> list[str]:
    """Console errors, uncaught exceptions, failed responses and requests leaving the app's origin."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", on_response)

    def on_request(request: Request) -> None:
        if not request.url.startswith(origin):
            problems.append(f"request to another origin: {request.url}")

    page.on("request", on_request)
    return problems


def painted_pixels(page: Page) -> int:
    """Non-transparent pixels on the chart canvas: zero means uPlot drew nothing."""
    return int(
        page.eval_on_selector(
            "#chart canvas",
            """canvas => {
                const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
                return painted;
            }""",
        )
    )


def test_training_from_the_meter_page_shows_every_stage_and_then_the_forecast_chart(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    problems = watch_for_problems(page, live_server)

    # Arrange: from the fleet overview to the meter page, whose chart first shows the no-model fallback.
    page.goto("/")
    page.get_by_role("link", name="bldg1").click()
    expect(page).to_have_url(f"{live_server}/dashboard/meters/electricity/bldg1")
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(page.locator("#chart-notice")).to_contain_text("No usable model")
    # Record every status the training card passes through, as the user would have seen it.
    page.evaluate(
        """() => {
            window.seenStatuses = [];
            const card = document.getElementById("train-card");
            new MutationObserver(() => {
                const status = card.dataset.taskStatus;
                if (status && window.seenStatuses.at(-1) !== status) window.seenStatuses.push(status);
            }).observe(card, { attributes: true, attributeFilter: ["data-task-status"] });
        }"""
    )

    # Act
    page.get_by_role("button", name="Train model").click()

    # Assert: progress reaches 100 % through the eight stages, in order.
    progress = page.get_by_role("progressbar", name="Training progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=TRAINING_TIMEOUT_MS)
    expect(page.locator("#train-card")).to_have_attribute("data-task-status", "SUCCESS")
    assert page.evaluate("window.seenStatuses") == STAGES
    expect(page.locator("#train-card .stages li.done")).to_have_count(8)
    expect(page.locator("#task-message")).to_contain_text("success")

    # Assert: the chart is redrawn from the new model, with readings, forecast and both bounds.
    expect(chart).to_have_attribute("data-model-version", "1")
    expect(chart.locator("canvas")).to_have_count(1)
    legend = chart.locator(".u-legend .u-series .u-label")
    expect(legend).to_have_text(["time (UTC)", "readings", "forecast (P50)", "P10", "P90"])
    expect(page.locator("#chart-summary")).to_contain_text("from P10 to P90")
    assert int(chart.get_attribute("data-history-points") or 0) == 7 * 24
    assert int(chart.get_attribute("data-forecast-points") or 0) == 3 * 24
    assert painted_pixels(page) > 10_000
    expect(page.locator("#chart-notice")).to_be_hidden()
    expect(page.locator("#chart-summary")).to_contain_text("from model v1")
    expect(page.locator("#model-version")).to_have_text("v1")
    expect(page.locator("#versions tbody tr")).to_have_count(1)
    expect(page.locator("#versions tbody tr").first).to_contain_text("active")

    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 20_000
    print(f"screenshot: {screenshot}")

    # Assert: the fleet overview now shows the model and its accuracy.
    page.get_by_role("link", name="Fleet").first.click()
    row = page.locator('tr[data-meter-id="bldg1"]')
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("up to date")
    page.screenshot(path=tmp_path / "fleet.png", full_page=True)
    assert problems == []


def test_task_view_follows_a_finished_task_to_success(page: Page, live_server: str) -> None:
    page.goto("/dashboard/meters/electricity/bldg1")
    page.get_by_role("button", name="Train model").click()
    progress = page.get_by_role("progressbar", name="Training progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=TRAINING_TIMEOUT_MS)

    page.get_by_role("link", name="open the task view").click()

    expect(page.locator("#task-card")).to_have_attribute("data-task-status", "SUCCESS")
    task_progress = page.get_by_role("progressbar", name="Training progress")
    expect(task_progress).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#task-meter a")).to_have_text("electricity meter bldg1")


def expected_under_keys(problem: str, origin: str) -> bool:
    """The refusals the key flow itself causes: locked pages (401) and Train with a read key (403)."""
    pages = (f"401 GET {origin}/", f"401 GET {origin}/dashboard/meters/electricity/bldg1")
    return (
        problem in pages
        or problem == f"403 POST {origin}/trainmodel/v2/"
        or (
            problem.startswith("console error: Failed to load resource")
            and ("401" in problem or "403" in problem)
        )
    )


def test_with_keys_enforced_the_dashboard_asks_for_a_key_and_a_write_key_to_train(
    browser: Browser, locked_server: tuple[str, Keys]
) -> None:
    origin, keys = locked_server
    context = browser.new_context(base_url=origin, viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    problems = watch_for_problems(page, origin)
    sent: list[tuple[str, str, str | None]] = []
    page.on("request", lambda r: sent.append((r.resource_type, r.url, r.headers.get("x-api-key"))))
    panel = page.locator("#key-panel")
    key_input = page.get_by_label("API key", exact=True)
    use_key = page.get_by_role("button", name="Use this key")

    # Arrange: the overview opened without a key shows the key form and no data.
    page.goto("/")
    expect(panel).to_be_visible()
    expect(page.get_by_role("heading", name="Dashboard locked")).to_be_visible()
    expect(page.locator('tr[data-meter-id="bldg1"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Forget key")).to_be_hidden()

    # Act: enter the read key.
    key_input.fill(keys.read)
    use_key.click()

    # Assert: the overview's data, kept for this tab only.
    expect(page.locator('tr[data-meter-id="bldg1"]')).to_contain_text("no model")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Forget key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('energy-forecast.api-key')") == keys.read
    assert page.evaluate("localStorage.length") == 0
    assert context.cookies() == []

    # Act: follow the meter link (a navigation sends no header: the page unlocks itself).
    page.get_by_role("link", name="bldg1").click()

    # Assert: the chart and the versions come from the API with the key.
    expect(page).to_have_url(f"{origin}/dashboard/meters/electricity/bldg1")
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(page.locator("#chart-notice")).to_contain_text("No usable model")
    expect(page.locator("#versions tbody")).to_contain_text("No model trained yet")
    expect(panel).to_be_hidden()

    # Act: Train with the read key.
    page.get_by_role("button", name="Train model").click()

    # Assert: a clear message that a write key is needed, and the key form to enter one.
    expect(page.locator("#task-message")).to_contain_text("needs an API key with write scope")
    expect(page.locator("#task-message")).to_have_class(re.compile(r"\berror\b"))
    expect(panel).to_be_visible()
    expect(page.locator("#key-reason")).to_contain_text("write scope")
    expect(page.get_by_role("button", name="Train model")).to_be_enabled()

    # Act: enter the write key and train again.
    key_input.fill(keys.write)
    use_key.click()
    expect(chart).to_have_attribute("data-state", "ready")
    page.get_by_role("button", name="Train model").click()

    # Assert: training runs through to a model, followed over the key-carrying stream.
    progress = page.get_by_role("progressbar", name="Training progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=TRAINING_TIMEOUT_MS)
    expect(page.locator("#train-card")).to_have_attribute("data-task-status", "SUCCESS")
    expect(chart).to_have_attribute("data-model-version", "1")
    expect(page.locator("#model-version")).to_have_text("v1")

    # Act: forget the key.
    page.get_by_role("button", name="Forget key").click()

    # Assert: back to the key form, nothing of the meter left on the page.
    expect(panel).to_be_visible()
    expect(page.get_by_role("heading", name="Dashboard locked")).to_be_visible()
    expect(page.locator("#chart")).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0

    # Assert: every data request carried the key in its header, and no URL ever held a key.
    data_requests = [(url, key) for kind, url, key in sent if kind in {"fetch", "xhr", "eventsource"}]
    assert any("/trainmodel/stream/" in url for url, _ in data_requests)
    assert all(key in {keys.read, keys.write} for _, key in data_requests), data_requests
    assert not any(keys.read in url or keys.write in url for _, url, _ in sent)
    unexpected = [problem for problem in problems if not expected_under_keys(problem, origin)]
    assert unexpected == []
    assert problems.count(f"403 POST {origin}/trainmodel/v2/") == 1
    context.close()
