"""The fleet table at fleet size: search, sort and one page of rows, and a status that judges models.

The overview of 10,000 meters is built once per request (``services.fleet``); only the page shown
gets the per-meter health lookups and the HTML. Sorting is stable and puts missing values last in
either direction, so "worst CV(RMSE) first" never starts with meters that have no model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from energy_forecast.services.fleet import MeterOverview

# ASHRAE Guideline 14's limit for an hourly model (CV(RMSE) 30 %): above it the model is poor.
POOR_CV_RMSE_PERCENT = 30.0
PER_PAGE_DEFAULT, PER_PAGE_MAX = 50, 500
STATUS_TEXT = {
    "ok": "up to date",
    "poor": "poor model",
    "no-skill": "no better than baseline",
    "stale": "retrain due",
    "untrained": "no model",
    "no-data": "no readings",
}
# Worst first when sorting by status.
STATUS_RANK = {"no-skill": 0, "poor": 1, "stale": 2, "untrained": 3, "no-data": 4, "ok": 5}


def quality_status(row: MeterOverview, poor_above: float = POOR_CV_RMSE_PERCENT) -> str:
    """``row.status``, with a trained model judged by its hold-out figures: ``no-skill`` when it is
    no better than its best seasonal-naive baseline (ratio >= 1), ``poor`` when its CV(RMSE) is
    above ``poor_above``."""
    status = row.status
    if status not in ("ok", "stale"):
        return status
    ratio = row.metric("cv_rmse_ratio_to_best_baseline")
    if ratio is not None and ratio >= 1.0:
        return "no-skill"
    cv = row.metric("cv_rmse_percent")
    if cv is not None and cv > poor_above:
        return "poor"
    return status


def _text(value: str | None) -> str:
    return (value or "").lower()


SORT_KEYS: dict[str, Callable[[MeterOverview], Any]] = {
    "meter": lambda r: r.meter_id.lower(),
    "type": lambda r: r.meter_type.value,
    "site": lambda r: _text(r.summary.meter.site_id),
    "last_reading": lambda r: r.last_reading,
    "readings": lambda r: r.summary.stats.count if r.summary.stats else None,
    "model_age": lambda r: r.model_saved_at,
    "cv_rmse": lambda r: r.metric("cv_rmse_percent"),
    "r2": lambda r: r.metric("r2"),
    "status": lambda r: STATUS_RANK.get(quality_status(r), 9),
}


@dataclass(frozen=True, slots=True)
class FleetQuery:
    """What the fleet page was asked for, clamped to what it can answer."""

    search: str = ""
    status: str = ""
    sort: str = "meter"
    descending: bool = False
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT

    @classmethod
    def parse(cls, params: dict[str, str]) -> FleetQuery:
        """From query parameters (``q``, ``status``, ``sort``, ``order``, ``page``, ``per_page``);
        unknown or out-of-range values fall back to the defaults instead of an error page."""
        sort = params.get("sort", "meter")
        status = params.get("status", "")
        return cls(
            search=params.get("q", "").strip()[:100],
            status=status if status in STATUS_TEXT else "",
            sort=sort if sort in SORT_KEYS else "meter",
            descending=params.get("order") == "desc",
            page=max(1, _int(params.get("page"), 1)),
            per_page=min(max(1, _int(params.get("per_page"), PER_PAGE_DEFAULT)), PER_PAGE_MAX),
        )

    def link(self, **changes: Any) -> str:
        """This query with ``changes``, as a query string (defaults left out)."""
        values = {
            "q": self.search,
            "status": self.status,
            "sort": self.sort,
            "order": "desc" if self.descending else "",
            "page": self.page,
            "per_page": self.per_page,
        } | changes
        defaults = {
            "q": "",
            "status": "",
            "sort": "meter",
            "order": "",
            "page": 1,
            "per_page": PER_PAGE_DEFAULT,
        }
        return "?" + urlencode({k: v for k, v in values.items() if v != defaults[k]})

    def sort_link(self, key: str) -> str:
        """The header link for ``key``: ascending first, the other direction when already sorted by it."""
        descending = not self.descending if key == self.sort else key in ("cv_rmse", "last_reading")
        return self.link(sort=key, order="desc" if descending else "", page=1)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class FleetPage:
    rows: list[MeterOverview]
    matched: int
    page: int
    pages: int
    first: int  # 1-based number of the first row shown (0 when none)
    last: int


def select(rows: list[MeterOverview], query: FleetQuery) -> FleetPage:
    """The rows that match the search and status, sorted, cut to the asked page (clamped)."""
    needle = query.search.lower()
    chosen = [
        row
        for row in rows
        if (
            not needle
            or needle in row.meter_id.lower()
            or needle in _text(row.summary.meter.site_id)
            or needle == row.meter_type.value
        )
        and (not query.status or quality_status(row) == query.status)
    ]
    key = SORT_KEYS[query.sort]
    present = [(key(row), row) for row in chosen]
    known = sorted((p for p in present if not _missing(p[0])), key=lambda p: p[0], reverse=query.descending)
    rows_sorted = [row for _, row in known] + [row for value, row in present if _missing(value)]
    pages = max(1, math.ceil(len(rows_sorted) / query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    shown = rows_sorted[start : start + query.per_page]
    return FleetPage(shown, len(rows_sorted), page, pages, start + 1 if shown else 0, start + len(shown))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
