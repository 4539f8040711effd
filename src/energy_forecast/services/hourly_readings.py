"""One readings file on its way in: parsed, stamps put in UTC, values put on hours.

The single path every import takes (the CLI's ``import`` and the HTTP routes): ``csv_formats``
validates rows and reads naive stamps in their meter's zone, ``intervals`` turns each meter's
readings at its native interval (or register reads) into hourly values, ``import_warnings``
words what the user should know. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType, validate_timezone
from energy_forecast.errors import InputDataError
from energy_forecast.services import csv_formats as fmt
from energy_forecast.services import import_warnings as warn
from energy_forecast.services.intervals import STAMPS, to_hourly
from energy_forecast.storage.base import SeriesStore


@dataclass
class IntakeContext:
    """What reading a file needs besides the file: known meters, their zones, the options."""

    registry: dict[str, Meter]
    listed: dict[str, Meter]  # meters.csv of this import
    zones: dict[str, str]  # meter id -> zone of its naive stamps
    default_zone: str | None
    stamps: str

    def meter(self, meter_id: str, meter_type: MeterType) -> Meter:
        """What is known of a meter; its type is the file's (a conflict is refused later)."""
        known = self.listed.get(meter_id) or self.registry.get(meter_id)
        if known is None:
            return Meter(meter_id=meter_id, meter_type=meter_type)
        return known if known.meter_type == meter_type else replace(known, meter_type=meter_type)


def intake_context(
    store: SeriesStore | None,
    listed: dict[str, Meter],
    explicit: dict[str, str],
    timezone: str | None,
    stamps: str,
) -> IntakeContext:
    if stamps not in STAMPS:
        raise InputDataError(f"stamps {stamps!r} must be 'start' or 'end' (what a reading's stamp marks)")
    if timezone is not None:
        try:
            validate_timezone(timezone)
        except ValueError as exc:
            raise InputDataError(str(exc)) from None
    registry = {m.meter_id: m for m in store.list_meters()} if store is not None else {}
    site_zones = {s.site_id: s.timezone for s in store.list_sites()} if store is not None else {}
    zones: dict[str, str] = {}
    # Priority: the zone this import's meters.csv (or request) names, then the file-wide zone,
    # then what the registry or the site already says (a stored "UTC" is the default, not a choice).
    if timezone is None:
        for meter_id, meter in {**registry, **listed}.items():
            stored = meter.timezone if meter.timezone != "UTC" else site_zones.get(meter.site_id, "UTC")
            if stored != "UTC":
                zones[meter_id] = stored
    zones.update(explicit)
    return IntakeContext(registry, listed, zones, timezone, stamps)


def read_readings(
    frame: pd.DataFrame,
    source: str,
    meter_type: MeterType,
    ctx: IntakeContext,
    *,
    meter_id: str | None = None,
    first_row: int = fmt.FIRST_DATA_ROW,
) -> tuple[fmt.ParsedTable, dict[str, Meter], list[warn.ImportWarning]]:
    """One readings file, parsed and put on hours: the hourly table, the meters as now known
    (native interval detected), and what to tell the user."""
    parsed = fmt.parse_long_readings(
        frame, source, meter_id=meter_id, first_row=first_row, zones=ctx.zones, default_zone=ctx.default_zone
    )
    notes = warn.naive_stamps(parsed.naive_as_utc, source)
    meters: dict[str, Meter] = {}
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    rows = parsed.frame
    all_stamps = pd.DatetimeIndex(rows["timestamp"]).asi8
    all_values = rows["value"].to_numpy()
    all_rows = rows["row"].to_numpy()
    for key, start, end in row_groups(rows):
        meter = ctx.meter(key, meter_type)
        hourly = to_hourly(
            meter,
            all_stamps[start:end],
            all_values[start:end],
            all_rows[start:end],
            stamps_mark=ctx.stamps,
            source=source,
        )
        if meter.interval_minutes != hourly.interval_minutes:
            meter = replace(meter, interval_minutes=hourly.interval_minutes)
        meters[key] = meter
        notes += warn.hourly_notes(meter, hourly, source)
        stamps.append(hourly.stamps)
        values.append(hourly.values)
        keys.append(np.full(len(hourly.stamps), key, dtype=object))
    # One frame from arrays: a concat of one small frame per meter is slow at fleet size.
    hourly_frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(
                np.concatenate(stamps) if stamps else np.array([], "int64"), tz="UTC"
            ),
            "key": np.concatenate(keys) if keys else np.array([], dtype=object),
            "value": np.concatenate(values) if values else np.array([], dtype="float64"),
        }
    )
    return fmt.ParsedTable(hourly_frame, source, parsed.empty_rows), meters, notes


def row_groups(frame: pd.DataFrame) -> Iterator[tuple[str, int, int]]:
    """(key, start, end) of each key's rows in a table sorted by key (then time)."""
    if frame.empty:
        return
    keys = frame["key"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for start, end in zip(starts, ends, strict=True):
        yield str(keys[start]), int(start), int(end)
