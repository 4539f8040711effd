"""User documentation says what things are: no development history, no paths outside the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.conftest import REPO

USER_DOCS = [REPO / "README.md", *sorted(p for p in (REPO / "docs").rglob("*.md") if "hooks" not in p.parts)]
# A date and time in prose tells when something was measured; one followed by a comma is a row of
# example CSV data.
HISTORY = {
    "a path outside the project": re.compile(r"\.\./shared|shared/(?:data|blind|seeds)"),
    "an issue number": re.compile(r"\b(?:issues?|stop|pass) #?\d+\b", re.I),
    "a measuring evening": re.compile(
        r"load average|this evening|re-?measured on|\b20\d\d-\d\d-\d\d \d\d:\d\d(?![,:\d])"
    ),
}


@pytest.mark.parametrize("page", USER_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_page_carries_no_development_history(page: Path) -> None:
    text = page.read_text(encoding="utf-8")

    found = {what: pattern.findall(text) for what, pattern in HISTORY.items() if pattern.search(text)}

    assert not found, found


def test_the_readme_stays_short() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 150
