"""The fleet table at fleet size: search, status, sorting with missing values last, paging; the status
that judges a model; totals of hourly values in the right unit."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import SeriesStats
from energy_forecast.domain.unit_totals import hourly_total
from energy_forecast.services.fleet import MeterOverview
from energy_forecast.services.fleet_page import FleetQuery, quality_status, select
from energy_forecast.services.meters import MeterSummary
from energy_forecast.storage.base import ModelVersion


def row(
    meter_id: str, site: str = "s1", cv: float | None = None, ratio: float | None = None
) -> MeterOverview:
    meter = Meter(meter_id, MeterType.ELECTRICITY, site)
    last = pd.Timestamp("2024-03-01T00:00Z")
    stats = SeriesStats(meter_id, 100, last - pd.Timedelta(hours=99), last)
    model = None
    if cv is not None:
        metrics = {"cv_rmse_percent": cv, "cv_rmse_ratio_to_best_baseline": ratio}
        window = {"end": "2024-03-01T00:00:00+00:00"}
        metadata = {"metrics": metrics, "training_window": window, "saved_at": "2024-03-01T00:00:00+00:00"}
        model = ModelVersion(
            meter_id, MeterType.ELECTRICITY, 1, f"electricity/{meter_id}/v0001", metadata, True
        )
    return MeterOverview(MeterSummary(meter, stats), model)


def test_status_flags_poor_models_and_models_no_better_than_their_baseline() -> None:
    assert quality_status(row("a", cv=12.0, ratio=0.7)) == "ok"
    assert quality_status(row("b", cv=105.0, ratio=0.9)) == "poor"
    assert quality_status(row("c", cv=12.0, ratio=1.02)) == "no-skill"
    assert quality_status(row("d")) == "untrained"


def test_search_sort_and_pages() -> None:
    rows = [
        row(f"m{i:03d}", site="north" if i % 2 else "south", cv=float(i) if i % 3 else None)
        for i in range(120)
    ]

    first = select(rows, FleetQuery(per_page=50))
    last = select(rows, FleetQuery(per_page=50, page=99))  # clamped to the last page
    north = select(rows, FleetQuery.parse({"q": "NORTH", "per_page": "25"}))
    worst = select(rows, FleetQuery.parse({"sort": "cv_rmse", "order": "desc"}))
    best = select(rows, FleetQuery.parse({"sort": "cv_rmse"}))

    assert [r.meter_id for r in first.rows[:2]] == ["m000", "m001"] and first.pages == 3
    assert (first.first, first.last, first.matched) == (1, 50, 120)
    assert last.page == 3 and (last.first, last.last) == (101, 120)
    assert north.matched == 60 and all(r.summary.meter.site_id == "north" for r in north.rows)
    assert worst.rows[0].meter_id == "m119"
    assert best.rows[0].meter_id == "m001"  # meters without a model come last either way
    assert best.rows[-1].metric("cv_rmse_percent") is not None


def test_bad_query_values_fall_back_to_defaults() -> None:
    query = FleetQuery.parse({"page": "x", "per_page": "100000", "sort": "drop table", "status": "nope"})

    assert (query.page, query.per_page, query.sort, query.status) == (1, 500, "meter", "")
    assert FleetQuery().link(page=2) == "?page=2"


@pytest.mark.parametrize(
    ("unit", "factor", "total_unit", "quantity"),
    [
        ("kW", 1.0, "kWh", "energy"),
        ("MW", 1.0, "MWh", "energy"),
        ("L/s", 3600.0, "L", "volume"),
        ("m3/h", 1.0, "m³", "volume"),
        ("kWh", 1.0, "kWh", "total"),
        ("m³", 1.0, "m³", "total"),
    ],
)
def test_a_rate_totals_to_energy_or_volume(unit: str, factor: float, total_unit: str, quantity: str) -> None:
    total = hourly_total(unit)

    assert (total.factor, total.unit, total.quantity) == (factor, total_unit, quantity)
    assert total.from_rate == (quantity != "total")
