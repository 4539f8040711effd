"""The built documentation site in a real headless Chromium with every other host blocked.

The site must work for an operator without internet: no web fonts, no CDN, nothing from another
host. The pages are served as ``energy-forecast docs`` serves them. Chromium missing: skipped
locally, failed in CI, as in ``tests/api/test_dashboard_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from energy_forecast.cli.docs import site_app
from tests.api.live_server import served
from tests.api.test_dashboard_browser import CHROMIUM_FLAGS, chromium_path

pytestmark = pytest.mark.slow

PAGES = [
    ("", "energy-forecast"),
    ("tutorials/own-meters/", "Your own meters from CSV"),
    ("reference/settings/", "Settings"),
]
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=["'](?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def test_no_page_of_the_site_loads_anything_from_another_host(built_site: Path) -> None:
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > 20

    offenders = [str(p.relative_to(built_site)) for p in pages if EXTERNAL.search(p.read_text())]
    styles = [p.read_text() for p in built_site.rglob("*.css")]
    css = [text for text in styles if "fonts.googleapis" in text or "@import url(http" in text]

    assert not offenders and not css


def test_home_a_tutorial_and_the_settings_reference_render_with_the_network_blocked(
    browser: Browser, built_site: Path
) -> None:
    with served(site_app(built_site)) as origin:
        page = browser.new_page(base_url=origin)
        leaving: list[str] = []
        failed: list[str] = []
        errors: list[str] = []

        def block_other_hosts(route: Route) -> None:
            if route.request.url.startswith(origin):
                route.continue_()
            else:
                leaving.append(route.request.url)
                route.abort()

        page.route("**/*", block_other_hosts)
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        for path, heading in PAGES:
            response = page.goto(f"/{path}")
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("networkidle")
            assert page.locator("article h1").first.inner_text().strip().startswith(heading), path
            assert page.locator("nav.md-nav").count() > 0  # the theme's script and styles ran

        settings_table = page.locator("article table").first
        assert "EF_HOME" in settings_table.inner_text()
        # The theme's own search runs locally too (a web worker and an index from this origin).
        page.locator("label.md-search__icon, .md-search__input").first.click()
        page.keyboard.type("retention")
        page.wait_for_selector(".md-search-result__item", timeout=15_000)

    assert leaving == [] and failed == [] and errors == []
