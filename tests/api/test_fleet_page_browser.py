"""The fleet page at fleet size in a real headless Chromium: pages, search, sorting, a status that
judges models, and a table that fits a 1,280 px screen without horizontal scrolling."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.api.live_server import served
from tests.api.test_dashboard_browser import CHROMIUM_FLAGS, chromium_path, watch_for_problems
from tests.conftest import hourly_series

# ruff: noqa: RUF001  (the page's own en dashes and angle quotes are what the user reads)

pytestmark = pytest.mark.slow
METERS = 120


@pytest.fixture
def fleet_server(settings_factory: Callable[..., Settings]) -> Iterator[str]:
    """120 meters with realistic ids at two sites; two trained, one of them poorly."""
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    settings = settings_factory(home=home, worker_threads=1, schedule={"enabled": False})
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters(
        [
            Meter(
                f"bldg-{i:04d}-main-incomer",
                MeterType.ELECTRICITY,
                "campus-north" if i % 2 else "campus-south",
                unit="kW",
            )
            for i in range(METERS)
        ]
    )
    readings = hourly_series("2024-01-01", hours=24 * 14, seed=3)
    for i in range(0, METERS, 10):
        store.write_readings(MeterType.ELECTRICITY, f"bldg-{i:04d}-main-incomer", readings)
    models = FileModelStore(settings.models_dir)
    window = {"start": "2024-01-01T00:00:00+00:00", "end": "2024-01-14T23:00:00+00:00"}
    for meter_id, cv, ratio in (
        ("bldg-0000-main-incomer", 8.4, 0.62),
        ("bldg-0010-main-incomer", 105.0, 1.3),
    ):
        metrics = {"cv_rmse_percent": cv, "r2": 0.5, "cv_rmse_ratio_to_best_baseline": ratio}
        models.save(
            MeterType.ELECTRICITY,
            meter_id,
            {"model.ubj": b"x"},
            {"metrics": metrics, "training_window": window},
        )
    try:
        with served(create_app(settings, store=store)) as origin:
            yield origin
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def narrow_page(fleet_server: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(base_url=fleet_server, viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def overflow(page: Page) -> dict[str, int]:
    return page.evaluate(
        """() => {
            const wrap = document.querySelector('.table-wrap');
            const table = document.querySelector('table.fleet');
            return {page: document.documentElement.scrollWidth, viewport: window.innerWidth,
                    table: table.scrollWidth, wrap: wrap.clientWidth};
        }"""
    )


def test_the_fleet_page_pages_searches_and_fits_1280_px(narrow_page: Page, fleet_server: str) -> None:
    page = narrow_page
    problems = watch_for_problems(page, fleet_server)

    page.goto("/")
    summary = page.locator("#fleet-summary")
    expect(summary).to_have_text("Meters 1–50 of 120")
    expect(page.locator("table.fleet tbody tr")).to_have_count(50)
    widths = overflow(page)
    assert widths["page"] <= widths["viewport"], widths  # no horizontal scrollbar on the page
    assert widths["table"] <= widths["wrap"], widths  # and no column hidden behind the table's own

    page.get_by_role("link", name="next ›").click()
    expect(summary).to_have_text("Meters 51–100 of 120")
    expect(page.locator("table.fleet tbody tr").first).to_have_attribute(
        "data-meter-id", "bldg-0050-main-incomer"
    )
    page.get_by_role("link", name="last »").click()
    expect(summary).to_have_text("Meters 101–120 of 120")

    page.get_by_label("Meter or site").fill("bldg-011")
    page.get_by_role("button", name="Show").click()
    expect(summary).to_have_text("Meters 1–10 of 10 matching (fleet: 120)")

    page.goto("/?sort=cv_rmse&order=desc")
    worst = page.locator("table.fleet tbody tr").first
    expect(worst).to_have_attribute("data-meter-id", "bldg-0010-main-incomer")
    expect(worst.locator(".badge-no-skill")).to_have_text("no better than baseline")
    expect(page.locator("tr[data-meter-id='bldg-0000-main-incomer'] .badge-ok")).to_have_text("up to date")
    assert problems == []


def test_a_kw_meter_page_totals_its_forecast_as_energy(narrow_page: Page, fleet_server: str) -> None:
    page = narrow_page

    page.goto("/dashboard/meters/electricity/bldg-0020-main-incomer")

    summary = page.locator("#chart-summary")
    expect(summary).to_contain_text("Forecast energy")
    expect(summary).to_contain_text("kWh (kW over each hour)")
    expect(summary).not_to_contain_text("Forecast total")
