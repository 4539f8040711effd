"""A documentation site built once per session by ``energy-forecast docs --build-only`` itself."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import isolate_environment

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "docs" / "hooks"


@dataclass(frozen=True)
class BuiltDocs:
    """The home the command built into, and what its first run (the build) printed and returned."""

    home: Path
    exit_code: int
    output: str

    @property
    def site(self) -> Path:
        return self.home / "docs-site"


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> BuiltDocs:
    """The one documentation build of the session (a few seconds), by the command a user runs."""
    from typer.testing import CliRunner

    from energy_forecast.cli.app import app

    folder = tmp_path_factory.mktemp("docs")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, folder)
        result = CliRunner().invoke(app, ["docs", "--build-only"], env={"EF_HOME": str(folder / "home")})
    return BuiltDocs(folder / "home", result.exit_code, result.output)


@pytest.fixture(scope="session")
def built_site(built_docs: BuiltDocs) -> Path:
    assert built_docs.exit_code == 0, built_docs.output
    return built_docs.site


@pytest.fixture
def hooks() -> Iterator[None]:
    """The build hook's generator modules importable by name, as MkDocs loads them."""
    sys.path.insert(0, str(HOOKS))
    try:
        yield
    finally:
        sys.path.remove(str(HOOKS))
