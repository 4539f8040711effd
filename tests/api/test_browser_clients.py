"""Clients of the seed design in a real headless Chromium: an ``EventSource`` page, and the docs offline.

The app runs under uvicorn as ``serve`` does in embedded mode. Chromium missing: skipped locally,
failed in CI, as in ``test_dashboard_browser``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.api.live_server import served
from tests.api.test_dashboard_browser import CHROMIUM_FLAGS, chromium_path
from tests.conftest import hourly_series

pytestmark = pytest.mark.slow

STAGES = [s.value for s in TaskState if not s.terminal] + ["SUCCESS"]
TRAINING_TIMEOUT_MS = 180_000
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class DropFirstStream:
    """Cuts the first training stream after its first data event, as a proxy timing out would.

    The connection ends without the final chunk, so the browser sees a network error and
    reconnects by itself; every later stream passes untouched. The ``Last-Event-ID`` of each
    stream request is recorded.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cut = False
        self.last_event_ids: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/trainmodel/stream/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.last_event_ids.append(headers.get("last-event-id"))
        if self.cut:
            await self.app(scope, receive, send)
            return
        self.cut = True

        async def send_until_first_event(message: Message) -> None:
            body = message.get("body", b"")
            if message["type"] == "http.response.body" and b"data:" in body:
                first = body[: body.index(b"\n\n", body.index(b"data:")) + 2]
                await send({"type": "http.response.body", "body": first, "more_body": True})
                # A proxy cuts a connection it finds idle, some time after the last bytes it
                # passed. Cut in the same instant, Chromium reconnected without Last-Event-ID in
                # about 1 run in 4 (once the training's STARTED went with its first stage): it had
                # not dispatched the event it had been sent.
                await asyncio.sleep(0.5)
                raise ConnectionAbortedError("test proxy: stream cut after its first event")
            await send(message)

        try:
            await self.app(scope, receive, send_until_first_event)
        except ConnectionAbortedError:
            return  # uvicorn closes a response left incomplete


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Iterator[Settings]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield settings_factory(home=home, worker_threads=1)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def test_event_source_onmessage_sees_every_state_once_across_a_forced_reconnect(
    browser: Browser, settings: Settings
) -> None:
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("bldg1", MeterType.ELECTRICITY, "s1")])
    store.write_readings(MeterType.ELECTRICITY, "bldg1", hourly_series("2024-01-01", hours=24 * 30, seed=3))
    proxy = DropFirstStream(create_app(settings, store=store))
    with served(proxy) as origin:
        page = browser.new_page(base_url=origin)
        page.goto("/openapi.json")  # any page of the origin: EventSource is same-origin here
        task_id = httpx.post(
            f"{origin}/trainmodel/", json={"meter_id": "bldg1", "meter_type": "electricity"}
        ).json()["task_id"]

        # Act: the seed's browser client, as written: EventSource and onmessage only.
        page.evaluate(
            """taskId => {
                window.seen = [];
                window.opened = 0;
                const source = new EventSource(`/trainmodel/stream/${taskId}`);
                source.onopen = () => { window.opened += 1; };
                source.onmessage = (event) => {
                    const record = JSON.parse(event.data);
                    window.seen.push({ id: event.lastEventId, status: record.status, record });
                    if (["SUCCESS", "FAILURE", "CANCELLED"].includes(record.status)) source.close();
                };
            }""",
            task_id,
        )
        page.wait_for_function(
            "window.seen.length && window.seen.at(-1).status === 'SUCCESS'", timeout=TRAINING_TIMEOUT_MS
        )
        seen = page.evaluate("window.seen")
        opened = page.evaluate("window.opened")
        page.close()
    store.close()

    # Assert: each state once, in order, over two connections, resumed after the first event.
    assert [event["status"] for event in seen] == STAGES
    assert all(event["id"] for event in seen)
    assert opened == 2
    assert proxy.last_event_ids == [None, seen[0]["id"]]
    assert seen[-1]["record"]["result"]["details"]["data_points"] == 24 * 30


def test_docs_and_redoc_render_with_the_network_blocked(browser: Browser, settings: Settings) -> None:
    with served(create_app(settings, store=None, start_tasks=False)) as origin:
        page = browser.new_page(base_url=origin)
        leaving: list[str] = []

        def block_other_hosts(route: Route) -> None:
            if route.request.url.startswith(origin):
                route.continue_()
            else:
                leaving.append(route.request.url)
                route.abort()

        page.route("**/*", block_other_hosts)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        check_docs(page)
        page.close()

    assert leaving == []
    # A Content-Security-Policy refusal would be reported here. The one expected: ReDoc's bundle
    # always renders its footer logo from cdn.redoc.ly; the CSP refuses it before any request
    # leaves (``leaving`` is empty) and ReDoc drops the image, keeping its text link.
    assert [p for p in problems if REDOC_LOGO not in p] == []


def check_docs(page: Page) -> None:
    page.goto("/docs")
    page.locator(".opblock-summary-path", has_text="/trainmodel/").first.wait_for(timeout=30_000)
    assert page.locator(".opblock").count() > 20
    page.goto("/redoc")
    page.get_by_text("/trainmodel/stream/{task_id}").first.wait_for(timeout=30_000)
