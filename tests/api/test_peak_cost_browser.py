"""The meter page's peak and cost card in a real headless Chromium against the real app."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_dashboard_browser import browser, home, live_server, page, watch_for_problems

pytestmark = pytest.mark.slow
ANSWER_TIMEOUT_MS = 120_000
__all__ = ["browser", "home", "live_server", "page"]  # fixtures shared with the dashboard test
TARIFF = {
    "currency": "GBP",
    "energy": [{"price": 0.3, "hours": "16-19", "days": ["weekday"]}, {"price": 0.15}],
    "demand_charge_per_kw": 10.0,
    "fixed_per_period": 40.0,
}


def test_meter_page_shows_the_months_peak_and_its_cost_under_the_attached_tariff(
    page: Page, live_server: str
) -> None:
    problems = watch_for_problems(page, live_server)
    assert page.request.put("/tariffs/tou", data=TARIFF).status == 201
    meter = {"meter_id": "bldg1", "meter_type": "electricity"}
    assert page.request.put("/tariffs/tou/attach", data=meter).status == 200

    page.goto("/dashboard/meters/electricity/bldg1")

    summary = page.locator("#peak-summary")
    expect(summary).not_to_contain_text("Loading", timeout=ANSWER_TIMEOUT_MS)  # a forecast on two busy cores
    assert "No peak forecast" not in summary.inner_text(), summary.inner_text()
    expect(page.locator("#peak-p50")).to_contain_text("kWh")
    expect(page.locator("#peak-summary")).to_contain_text("Most likely hour")
    expect(page.locator("#cost-p50")).to_contain_text("GBP", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#cost-table")).to_be_visible()
    expect(page.locator("#cost-table tbody tr")).to_have_count(4)
    expect(page.locator("#cost-summary")).to_contain_text("Tariff tou")
    assert problems == []
