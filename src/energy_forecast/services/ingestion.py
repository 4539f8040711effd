"""Import readings and temperatures: validate everything first, then write.

Two directory layouts are understood:

- the long format of the development data: ``meters.csv`` (``meter_id,meter_type,site_id,unit``
  [+ ``timezone,latitude,longitude,reading_kind,interval_minutes,groups``]), ``electricity.csv`` /
  ``water.csv`` (``timestamp,meter_id,consumption``), ``temperature.csv``
  (``timestamp,site_id,temperature_c``);
- the seed's ``initial_datasets/`` files (``Electricity_Consumption_data.csv``,
  ``Water_Consumption.csv``, ``Temperature_Data.csv`` with ``DateTime, Consumption, Temperature,
  meter_id``); their temperature belongs to the ``default`` site.

Readings at any interval that divides an hour, and cumulative registers, become hourly values
(``intervals``); naive stamps are read in the meter's time zone (``local_time``). Both the CLI's
``import`` and the HTTP routes come through here. A file that fails validation raises
``InputDataError`` before any write, so the store is unchanged; what the import should say
without stopping ends up in ``ImportReport.warnings`` (``import_warnings``).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import DEFAULT_SITE, Meter, MeterType, meter_from_row
from energy_forecast.domain.series import make_series
from energy_forecast.errors import ConflictError, InputDataError
from energy_forecast.services import csv_formats as fmt
from energy_forecast.services import import_warnings as warn
from energy_forecast.services.groups import meters_csv_groups, plan_import_groups, refuse_group_ids
from energy_forecast.services.hourly_readings import IntakeContext, intake_context, read_readings
from energy_forecast.services.sites import register_sites
from energy_forecast.storage.base import SeriesStore

LONG_READINGS = {MeterType.ELECTRICITY: "electricity.csv", MeterType.WATER: "water.csv"}
SEED_READINGS = {
    MeterType.ELECTRICITY: "Electricity_Consumption_data.csv",
    MeterType.WATER: "Water_Consumption.csv",
}
SEED_TEMPERATURE = "Temperature_Data.csv"


@dataclass
class ImportReport:
    """What an import read and wrote, per meter and per site."""

    files: list[str] = field(default_factory=list)
    readings_written: dict[str, int] = field(default_factory=dict)
    temperature_written: dict[str, int] = field(default_factory=dict)
    empty_rows_skipped: int = 0
    meters_registered: int = 0
    warnings: list[warn.ImportWarning] = field(default_factory=list)

    @property
    def total_readings(self) -> int:
        return sum(self.readings_written.values())


def read_csv(source: Path | bytes | str, name: str, *, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV as text columns so that validation, not pandas, decides what a value means.

    ``numeric`` columns are parsed by the C parser as floats (empty cells become NaN); anything
    it cannot parse, such as "nan" or "12kWh", sends the whole file down the text path, where
    validation names the row.
    """

    def read(**options: object) -> pd.DataFrame:
        if isinstance(source, Path):
            return pd.read_csv(source, keep_default_na=False, encoding="utf-8", **options)  # type: ignore[call-overload]
        buffer = io.BytesIO(source.encode("utf-8") if isinstance(source, str) else source)
        return pd.read_csv(buffer, keep_default_na=False, encoding="utf-8", **options)  # type: ignore[call-overload]

    try:
        if numeric:
            try:
                return read(
                    dtype=defaultdict(lambda: object, {c: "float64" for c in numeric}),
                    na_values={c: [""] for c in numeric},
                )
            except (ValueError, TypeError):
                pass
        # Plain Python strings: pandas 3 converting to its StringDtype cost 0.4 s on the dev data.
        return read(dtype=object)
    except UnicodeDecodeError as exc:
        raise InputDataError(f"not UTF-8 text (byte {exc.start})", source=name) from None
    except pd.errors.EmptyDataError:
        raise InputDataError("file is empty; expected a header row", source=name) from None
    except pd.errors.ParserError as exc:
        raise InputDataError(fmt.parser_problem(exc), source=name) from None


def _groups(table: fmt.ParsedTable) -> Iterator[tuple[str, pd.Series]]:
    """Per-key contract series from a sorted long table, without a pandas groupby per row."""
    frame = table.frame
    if frame.empty:
        return
    keys = frame["key"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    ts = pd.DatetimeIndex(frame["timestamp"])
    values = frame["value"].to_numpy()
    for start, end in zip(starts, ends, strict=True):
        yield str(keys[start]), make_series(ts[start:end], values[start:end], "value")


def _parse_meters_csv(path: Path) -> list[Meter]:
    frame = read_csv(path, path.name)
    fmt.require_columns(frame, ["meter_id", "meter_type"], path.name)
    fmt.parse_ids(frame["meter_id"], path.name, column="meter_id")
    fmt.parse_meter_types(frame["meter_type"], path.name)
    if "site_id" in frame.columns:
        fmt.parse_ids(frame["site_id"].replace("", DEFAULT_SITE), path.name, column="site_id")
    meters: list[Meter] = []
    for pos, row in enumerate(frame.to_dict("records")):
        try:
            meters.append(meter_from_row(row))
        except ValueError as exc:
            raise InputDataError(str(exc), source=path.name, row=pos + 2) from None
    dup = pd.Series([m.meter_id for m in meters]).duplicated()
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputDataError(f"meter_id {meters[pos].meter_id!r} listed twice", source=path.name, row=pos + 2)
    return meters


def _explicit_zones(path: Path, meters: list[Meter]) -> dict[str, str]:
    """Meters whose ``meters.csv`` row names a time zone (an empty cell names none)."""
    frame = read_csv(path, path.name)
    if "timezone" not in frame.columns:
        return {}
    given = frame["timezone"].astype(str).str.strip().to_numpy() != ""
    return {m.meter_id: m.timezone for m, named in zip(meters, given, strict=True) if named}


def _seed_to_long(frame: pd.DataFrame, name: str, value_column: str) -> pd.DataFrame:
    fmt.require_columns(frame, ["DateTime", value_column], name)
    out = pd.DataFrame({"timestamp": frame["DateTime"], value_column: frame[value_column]})
    if "meter_id" in frame.columns:
        out["meter_id"] = frame["meter_id"]
    return out


@dataclass
class _Plan:
    """Everything validated, nothing written yet."""

    meters: dict[str, Meter] = field(default_factory=dict)
    readings: list[tuple[MeterType, fmt.ParsedTable]] = field(default_factory=list)
    temperatures: list[fmt.ParsedTable] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[warn.ImportWarning] = field(default_factory=list)
    group_rows: list[tuple[Meter, tuple[str, ...]]] = field(default_factory=list)  # meters.csv: groups


def _site_zones(ctx: IntakeContext) -> dict[str, str]:
    """Zone of each site's naive temperature stamps: the one zone its meters' readings use (a site
    whose meters name different zones gets none, and its naive stamps are read as UTC with a warning)."""
    found: dict[str, set[str]] = {}
    for meter_id, meter in {**ctx.registry, **ctx.listed}.items():
        zone = ctx.zones.get(meter_id)
        if zone is not None:
            found.setdefault(meter.site_id, set()).add(zone)
    return {site: next(iter(zones)) for site, zones in found.items() if len(zones) == 1}


def plan_directory_import(
    data_dir: Path,
    *,
    store: SeriesStore | None = None,
    stamps: str = "start",
    timezone: str | None = None,
) -> _Plan:
    """Read and validate every known file of ``data_dir``, readings put on hours.

    ``store`` supplies the meters already registered (their kind, unit and zone); ``stamps``
    says whether a reading's stamp marks its interval's start or end; ``timezone`` is the zone
    of naive stamps for meters that name none.

    Raises:
        InputDataError: a file is malformed (names file, row and problem) or none is found.
    """
    plan = _Plan()
    if not data_dir.is_dir():
        raise InputDataError(f"{data_dir} is not a directory")
    meters_csv = data_dir / "meters.csv"
    explicit: dict[str, str] = {}
    if meters_csv.is_file():
        plan.meters = {m.meter_id: m for m in _parse_meters_csv(meters_csv)}
        explicit = _explicit_zones(meters_csv, list(plan.meters.values()))
        plan.group_rows = meters_csv_groups(read_csv(meters_csv, meters_csv.name), plan.meters)
        plan.files.append(meters_csv.name)
    ctx = intake_context(store, dict(plan.meters), explicit, timezone, stamps)
    for meter_type, name in LONG_READINGS.items():
        path = data_dir / name
        if path.is_file():
            frame = read_csv(path, name, numeric=("consumption", "reading"))
            _add_readings(plan, ctx, meter_type, frame, name)
            plan.files.append(name)
    temperature_csv = data_dir / "temperature.csv"
    if temperature_csv.is_file():
        plan.temperatures.append(
            fmt.parse_long_temperature(
                read_csv(temperature_csv, temperature_csv.name, numeric=("temperature_c",)),
                temperature_csv.name,
                zones=_site_zones(ctx),
                default_zone=ctx.default_zone,
            )
        )
        plan.files.append(temperature_csv.name)

    seed_dir = data_dir / "initial_datasets" if (data_dir / "initial_datasets").is_dir() else data_dir
    for meter_type, name in SEED_READINGS.items():
        path = seed_dir / name
        if path.is_file():
            long = _seed_to_long(read_csv(path, name), name, "Consumption").rename(
                columns={"Consumption": "consumption"}
            )
            if "meter_id" not in long.columns:
                long["meter_id"] = f"{meter_type.value}_meter"
            _add_readings(plan, ctx, meter_type, long, name)
            plan.files.append(name)
    seed_temp = seed_dir / SEED_TEMPERATURE
    if seed_temp.is_file():
        long = _seed_to_long(read_csv(seed_temp, SEED_TEMPERATURE), SEED_TEMPERATURE, "Temperature")
        long = long.rename(columns={"Temperature": "temperature_c"}).assign(site_id=DEFAULT_SITE)
        plan.temperatures.append(fmt.parse_long_temperature(long, SEED_TEMPERATURE))
        plan.files.append(SEED_TEMPERATURE)

    if timezone is not None:
        # The file-wide zone is the zone of the meters that name none: their calendar uses it too.
        plan.meters = {
            k: m if k in explicit else replace(m, timezone=timezone) for k, m in plan.meters.items()
        }
    if not plan.files:
        raise InputDataError(
            f"no known files in {data_dir}: expected meters.csv, electricity.csv, water.csv, "
            "temperature.csv or the seed's initial_datasets/*.csv"
        )
    return plan


def _add_readings(
    plan: _Plan, ctx: IntakeContext, meter_type: MeterType, frame: pd.DataFrame, name: str
) -> None:
    table, meters, notes = read_readings(frame, name, meter_type, ctx)
    for meter_id in meters:
        listed = plan.meters.get(meter_id)
        if listed is not None and listed.meter_type != meter_type:
            raise InputDataError(
                f"meter {meter_id!r} appears in {name} but meters.csv lists it as {listed.meter_type.value}",
                source=name,
            )
    unknown = [m for m in meters if m not in ctx.listed and m not in ctx.registry]
    if ctx.listed or ctx.registry:
        plan.warnings += warn.unknown_meters(unknown, [*ctx.listed, *ctx.registry], name)
    plan.meters.update(meters)
    plan.readings.append((meter_type, table))
    plan.warnings += notes


def _check_registry_conflicts(store: SeriesStore, meters: list[Meter]) -> None:
    existing = {m.meter_id: m for m in store.list_meters()}
    refuse_group_ids(store, [m.meter_id for m in meters if m.meter_id not in existing])
    for meter in meters:
        old = existing.get(meter.meter_id)
        if old is not None and old.meter_type != meter.meter_type:
            raise ConflictError(
                f"meter {meter.meter_id!r} is registered as {old.meter_type.value}, "
                f"not {meter.meter_type.value}; use another meter id"
            )


def import_directory(
    store: SeriesStore, data_dir: Path, *, stamps: str = "start", timezone: str | None = None
) -> ImportReport:
    """Validate every file of ``data_dir``, then write registry, readings and temperatures.

    ``stamps`` (``start``/``end``) and ``timezone`` (zone of naive stamps for meters that name
    none) apply to every readings file; see ``plan_directory_import``.
    """
    plan = plan_directory_import(data_dir, store=store, stamps=stamps, timezone=timezone)
    meters = list(plan.meters.values())
    _check_registry_conflicts(store, meters)
    groups = plan_import_groups(store, plan.group_rows)  # checked before anything is written
    report = ImportReport(files=plan.files)
    with store.batch():
        _write_plan(store, plan, meters, report)
    store.put_groups(groups)
    for table in plan.temperatures:
        plan.warnings += warn.naive_stamps(table.naive_as_utc, table.source, site=True)
    with_temperature = [*store.temperature_stats()]
    report.warnings = plan.warnings + warn.sites_without_temperature(
        [m for m in meters if m.meter_id in report.readings_written], with_temperature
    )
    return report


def _write_plan(store: SeriesStore, plan: _Plan, meters: list[Meter], report: ImportReport) -> None:
    store.upsert_meters(meters)
    report.meters_registered = len(meters)
    for meter_type, table in plan.readings:
        report.empty_rows_skipped += table.empty_rows
        for meter_id, series in _groups(table):
            written = store.write_readings(meter_type, meter_id, series.rename("consumption"))
            report.readings_written[meter_id] = report.readings_written.get(meter_id, 0) + written
    for table in plan.temperatures:
        report.empty_rows_skipped += table.empty_rows
        for site_id, series in _groups(table):
            written = store.write_temperature(site_id, series.rename("temperature"))
            report.temperature_written[site_id] = report.temperature_written.get(site_id, 0) + written
    # Sites come with the data: listed by GET /location/ and served by /temperature/series/. Last,
    # so the readings' batches go first (a registry read would flush the batch writer early).
    temperature_sites = [str(k) for table in plan.temperatures for k in pd.unique(table.frame["key"])]
    register_sites(store, [m.site_id for m in meters] + temperature_sites)


def import_meter_readings(
    store: SeriesStore,
    meter: Meter,
    frame: pd.DataFrame,
    source: str,
    *,
    max_rows: int | None = None,
    first_row: int = fmt.FIRST_DATA_ROW,
) -> int:
    """Validate one meter's readings (``timestamp,consumption``) and write them; returns points written."""
    return ingest_meter_readings(
        store, meter, frame, source, max_rows=max_rows, first_row=first_row
    ).total_readings


def ingest_meter_readings(
    store: SeriesStore,
    meter: Meter,
    frame: pd.DataFrame,
    source: str,
    *,
    max_rows: int | None = None,
    first_row: int = fmt.FIRST_DATA_ROW,
    stamps: str = "start",
    timezone: str | None = None,
) -> ImportReport:
    """One meter's readings at any interval (or register reads), put on hours and written.

    ``meter`` is the registry entry as it should stand (kind, unit, declared interval): it is
    registered, or updated with its detected native interval. ``timezone`` is the zone of naive
    stamps when the request names one (else the meter's, its site's, or UTC with a warning).
    A meter registered with another type is a ``ConflictError``; nothing is written on error.
    """
    if max_rows is not None and len(frame) > max_rows:
        raise InputDataError(
            f"{len(frame)} rows exceed the limit of {max_rows} per request; split the upload",
            source=source,
        )
    existing = store.get_meter(meter.meter_id)
    if existing is not None and existing.meter_type != meter.meter_type:
        raise ConflictError(
            f"meter {meter.meter_id!r} is registered as {existing.meter_type.value}, "
            f"not {meter.meter_type.value}"
        )
    if existing is None:
        refuse_group_ids(store, [meter.meter_id])
    explicit = {meter.meter_id: timezone} if timezone is not None else {}
    ctx = intake_context(store, {meter.meter_id: meter}, explicit, None, stamps)
    table, meters, notes = read_readings(
        frame, source, meter.meter_type, ctx, meter_id=meter.meter_id, first_row=first_row
    )
    final = meters.get(meter.meter_id, meter)
    report = ImportReport(files=[source], empty_rows_skipped=table.empty_rows, warnings=notes)
    with store.batch():
        if final != existing:
            store.upsert_meters([final])
            report.meters_registered = 1
        written = 0
        if not table.frame.empty:
            series = make_series(
                pd.DatetimeIndex(table.frame["timestamp"]), table.frame["value"].to_numpy(), "consumption"
            )
            written = store.write_readings(meter.meter_type, meter.meter_id, series)
        report.readings_written[meter.meter_id] = written
        if existing is None:
            register_sites(store, [meter.site_id])
    report.warnings += warn.sites_without_temperature([final], [*store.temperature_stats()])
    return report
