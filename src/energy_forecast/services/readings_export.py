"""Stored readings read back as they are: hourly, UTC, one ``{timestamp, consumption}`` per hour.

``GET /meters/{type}/{id}/readings`` and ``energy-forecast export`` both answer through here, so the
JSON and CSV a user gets are the same whichever way they ask.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InputDataError
from energy_forecast.services.meters import registered_meter
from energy_forecast.storage.base import SeriesStore

CSV_HEADER = ("timestamp", "consumption")


def parse_bound(value: str | None, name: str) -> pd.Timestamp | None:
    """An ISO-8601 date or time as UTC (a stamp without an offset is read as UTC)."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise InputDataError(
            f"{name} {value!r} is not an ISO-8601 date or time; use e.g. 2024-01-01 or 2024-01-01T00:00:00Z"
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def stored_readings(
    store: SeriesStore,
    meter_type: MeterType,
    meter_id: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> list[dict[str, object]]:
    """The meter's stored hourly values with ``start <= t < end`` as JSON-ready rows.

    Raises:
        NoDataFoundError: no such meter of this type.
        InputDataError: ``end`` is not after ``start``.
    """
    registered_meter(store, meter_id, meter_type)
    if start is not None and end is not None and end <= start:
        raise InputDataError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    series = store.read_readings(MeterType(meter_type), meter_id, start, end)
    stamps = series.index.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"timestamp": stamp, "consumption": float(value)}
        for stamp, value in zip(stamps, series.to_numpy(), strict=True)
    ]


def readings_csv(rows: Iterable[dict[str, object]]) -> str:
    """``timestamp,consumption`` lines, the same layout ``energy-forecast import`` reads per meter."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((row["timestamp"], repr(row["consumption"])) for row in rows)
    return out.getvalue()
