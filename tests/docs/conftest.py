"""A documentation site built once per session, the way ``energy-forecast docs`` builds it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "docs" / "hooks"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from energy_forecast.cli.docs import build_site

    site = tmp_path_factory.mktemp("docs") / "site"
    assert build_site(REPO / "mkdocs.yml", site)
    return site


@pytest.fixture
def hooks() -> Iterator[None]:
    """The build hook's generator modules importable by name, as MkDocs loads them."""
    sys.path.insert(0, str(HOOKS))
    try:
        yield
    finally:
        sys.path.remove(str(HOOKS))
