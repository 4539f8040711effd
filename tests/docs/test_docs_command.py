"""``energy-forecast docs`` builds this version's site into EF_HOME once, and serves it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from energy_forecast.cli.app import app
from energy_forecast.cli.docs import FINGERPRINT, site_app
from tests.api.live_server import served
from tests.docs.conftest import BuiltDocs

runner = CliRunner()


@pytest.mark.slow
def test_build_only_builds_into_the_home_then_reports_it_up_to_date(built_docs: BuiltDocs) -> None:
    # The first run is the session's one build (built_docs); the second finds it up to date.
    second = runner.invoke(app, ["docs", "--build-only"], env={"EF_HOME": str(built_docs.home)})

    site = built_docs.site
    assert built_docs.exit_code == 0, built_docs.output
    assert f"documentation built in {site}" in built_docs.output
    assert second.exit_code == 0 and "up to date" in second.output
    assert (site / "index.html").is_file() and (site / FINGERPRINT).is_file()
    assert (site / "reference" / "settings" / "index.html").is_file()


def test_missing_sources_say_where_they_come_from(tmp_path: Path) -> None:
    missing = str(tmp_path / "mkdocs.yml")
    result = runner.invoke(app, ["docs", "--build-only", "--config", missing], env={"EF_HOME": str(tmp_path)})

    assert result.exit_code == 2
    assert "no documentation sources" in result.output and "--config" in result.output


def test_the_site_app_serves_pages_directories_and_a_404(tmp_path: Path) -> None:
    (tmp_path / "guide").mkdir()
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "guide" / "index.html").write_text("<h1>guide</h1>")
    (tmp_path / "404.html").write_text("<h1>not here</h1>")

    with served(site_app(tmp_path)) as origin:
        home = httpx.get(f"{origin}/")
        guide = httpx.get(f"{origin}/guide/")
        missing = httpx.get(f"{origin}/nowhere/")

    assert "home" in home.text and "guide" in guide.text
    assert missing.status_code == 404 and "not here" in missing.text
