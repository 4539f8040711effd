"""The fleet page's query: search, status filter, sorting and paging rendered by the server."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.test_dashboard_pages import client  # noqa: F401  (the seeded app)


def meter_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-meter-id="([^"]+)"', html)


def test_paging_keeps_the_fleet_tiles_and_links_the_next_page(client: TestClient) -> None:  # noqa: F811
    first = client.get("/?per_page=1").text
    second = client.get("/?per_page=1&page=2").text

    assert meter_ids(first) == ["bldg1"] and meter_ids(second) == ["new.meter"]
    assert '<span class="tile-value" id="meter-count">3</span>' in second  # tiles count the whole fleet
    assert "Meters 2\u20132 of 3" in second
    assert 'href="?page=3&amp;per_page=1" rel="next"' in second


def test_search_and_status_filter_the_rows(client: TestClient) -> None:  # noqa: F811
    searched = client.get("/?q=pump").text
    untrained = client.get("/?status=untrained").text
    nothing = client.get("/?q=zzz").text

    assert meter_ids(searched) == ["pump-7"] and "matching (fleet: 3)" in searched
    assert meter_ids(untrained) == ["pump-7"]
    assert meter_ids(nothing) == [] and "No meter matches" in nothing


def test_sorting_by_cv_rmse_puts_meters_without_a_model_last(client: TestClient) -> None:  # noqa: F811
    html = client.get("/?sort=cv_rmse&order=desc").text

    assert meter_ids(html)[0] == "bldg1"
    assert 'aria-sort="descending"' in html
