"""Meter registry and reading import."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from energy_forecast.api.deps import SeriesStoreDep, SettingsDep
from energy_forecast.api.json_body import (
    InvalidItemError,
    TooManyItemsError,
    loads_stepwise,
    paused_gc,
    release,
    validate_stepwise,
)
from energy_forecast.api.schemas import MeterIn, MeterPublic, ReadingIn, ReadingsImported, ZoneName
from energy_forecast.domain.meters import (
    INTERVALS_MINUTES,
    SLUG_PATTERN,
    Meter,
    MeterType,
    ReadingKind,
    meter_from_row,
    validate_interval_minutes,
    validate_site_id,
)
from energy_forecast.domain.units import UNIT_PATTERN, validate_unit
from energy_forecast.errors import InputDataError
from energy_forecast.services.ingestion import ingest_meter_readings, read_csv
from energy_forecast.services.meters import MeterSummary, meter_summaries, put_meter
from energy_forecast.tasks.alert_job import evaluate_after_import

router = APIRouter(prefix="/meters", tags=["meters"])
MeterIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="meter id (slug)")]

_READINGS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": ReadingIn.model_json_schema()}},
            "text/csv": {
                "schema": {"type": "string", "example": "timestamp,consumption\n2024-01-01T00:00:00Z,12.5\n"}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.get("/", response_model=list[MeterPublic])
def list_meters(store: SeriesStoreDep, meter_type: MeterType | None = None) -> list[dict[str, Any]]:
    """List registered meters with first/last reading, reading count and gap hours."""
    return [summary.to_dict() for summary in meter_summaries(store, meter_type)]


async def _frame_from_request(
    request: Request, max_bytes: int, max_rows: int
) -> tuple[pd.DataFrame, str, int]:
    """The uploaded readings as text columns, the source name for messages, and the first row number.

    Only receiving stays on the event loop; parsing and validating (seconds for a 16 MB body) run
    in a worker thread, so other requests (``/health/live``) are answered meanwhile.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputDataError("multipart upload needs a 'file' field holding the CSV")
        data = await upload.read()
        name = upload.filename or "upload.csv"
        return await run_in_threadpool(read_csv, data, name), name, 2
    body = await request.body()
    if len(body) > max_bytes:
        raise InputDataError(f"request body of {len(body)} bytes exceeds {max_bytes}; split the upload")
    if content_type in {"text/csv", "text/plain", "application/csv"}:
        return await run_in_threadpool(read_csv, body, "CSV body"), "CSV body", 2
    if content_type not in {"application/json", ""}:
        raise InputDataError(
            f"unsupported content type {content_type!r}; send JSON, text/csv or a file upload"
        )
    return await run_in_threadpool(_frame_from_json, body, max_rows)


def _frame_from_json(body: bytes, max_rows: int) -> tuple[pd.DataFrame, str, int]:
    with paused_gc():
        return _frame_from_json_body(body, max_rows)


def _frame_from_json_body(body: bytes, max_rows: int) -> tuple[pd.DataFrame, str, int]:
    try:
        payload = loads_stepwise(body, max_items=max_rows)
    except TooManyItemsError:
        raise InputDataError(
            f"more than {max_rows} rows: over the limit per request (EF_MAX_IMPORT_ROWS); split the upload"
        ) from None
    except RecursionError:
        raise InputDataError("body is not usable JSON: nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        # JSONDecodeError, and ValueError for a number past Python's 4,300-digit limit.
        raise InputDataError(f"body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(payload, dict) and "readings" in payload:
        payload = payload["readings"]
    try:
        readings = validate_stepwise(ReadingIn, payload)
    except InvalidItemError as exc:
        loc = ".".join(str(p) for p in exc.loc)
        raise InputDataError(f"JSON body at [{loc}]: {exc.message[:300]}") from None
    frame = pd.DataFrame(
        {
            "timestamp": [r.timestamp.isoformat() for r in readings],
            "consumption": [r.consumption for r in readings],
        },
        dtype=object,
    )
    release(readings, payload)
    # JSON rows are named by list index, not by a spreadsheet row.
    return frame.astype({"consumption": "float64"}), "JSON body (row = list index)", 0


def _meter_for_upload(
    existing: Meter | None,
    meter_type: MeterType,
    meter_id: str,
    fields: dict[str, Any],
) -> Meter:
    """The registry entry as the upload's query parameters leave it: the stored one (or a new
    one) with the fields the request gives replaced."""
    base = existing if existing is not None and existing.meter_type == meter_type else None
    meter = base or Meter(meter_id=meter_id, meter_type=meter_type)
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        if "site_id" in given:
            validate_site_id(given["site_id"])
        if "unit" in given:
            validate_unit(given["unit"])
        validate_interval_minutes(given.get("interval_minutes"))
        return replace(meter, **given)
    except ValueError as exc:
        raise InputDataError(str(exc)) from None


@router.post(
    "/{meter_type}/{meter_id}/readings",
    response_model=ReadingsImported,
    openapi_extra=_READINGS_BODY,
    status_code=201,
)
async def post_readings(
    request: Request,
    background: BackgroundTasks,
    meter_type: MeterType,
    meter_id: MeterIdPath,
    store: SeriesStoreDep,
    settings: SettingsDep,
    site_id: Annotated[str | None, Query(pattern=SLUG_PATTERN)] = None,
    unit: Annotated[
        str | None,
        Query(
            max_length=64, json_schema_extra={"pattern": UNIT_PATTERN}, description="kWh, kW, m3, L/s, ..."
        ),
    ] = None,
    timezone: Annotated[ZoneName | None, Query(description="zone of stamps without offset")] = None,
    reading_kind: Annotated[ReadingKind | None, Query(description="interval (default) or register")] = None,
    interval_minutes: Annotated[
        int | None,
        Query(
            description="native interval (minutes, divides an hour); detected when absent",
            json_schema_extra={"enum": list(INTERVALS_MINUTES)},
        ),
    ] = None,
    stamps: Annotated[
        Literal["start", "end"], Query(description="whether a stamp marks its interval's start or end")
    ] = "start",
) -> ReadingsImported:
    """Import readings of one meter (JSON list, CSV body or CSV file) at any interval that divides
    an hour, or register reads; stored hourly, all or nothing.

    Query parameters given update the meter's registry entry (as a ``meters.csv`` row would);
    absent ones keep what is stored.
    """
    fields = {
        "site_id": site_id,
        "unit": unit,
        "timezone": timezone,
        "reading_kind": reading_kind,
        "interval_minutes": interval_minutes,
    }
    existing = await run_in_threadpool(store.get_meter, meter_id)
    meter = _meter_for_upload(existing, meter_type, meter_id, fields)
    frame, source, first_row = await _frame_from_request(
        request, max_bytes=64 * 1024 * 1024, max_rows=settings.max_import_rows
    )
    report = await run_in_threadpool(
        ingest_meter_readings,
        store,
        meter,
        frame,
        source,
        max_rows=settings.max_import_rows,
        first_row=first_row,
        stamps=stamps,
        timezone=timezone,
    )
    stats = (await run_in_threadpool(store.readings_stats, meter_type, [meter_id])).get(meter_id)
    stored = await run_in_threadpool(store.get_meter, meter_id)
    queue = getattr(request.app.state, "tasks", None)
    if queue is not None and report.total_readings:  # alerts follow the readings, after the answer
        background.add_task(evaluate_after_import, store, queue.client, settings.alerts, meter_type, meter_id)
    return ReadingsImported(
        meter_id=meter_id,
        meter_type=meter_type,
        rows_received=len(frame),
        points_written=report.total_readings,
        reading_count=stats.count if stats else 0,
        interval_minutes=stored.interval_minutes if stored else None,
        reading_kind=stored.reading_kind if stored else ReadingKind.INTERVAL,
        warnings=[w.to_dict() for w in report.warnings],  # type: ignore[misc]
    )


@router.put(
    "/{meter_type}/{meter_id}",
    response_model=MeterPublic,
    responses={200: {"description": "replaced"}, 201: {"description": "created", "model": MeterPublic}},
)
def put_meter_entry(
    meter_type: MeterType, meter_id: MeterIdPath, body: MeterIn, store: SeriesStoreDep, response: Response
) -> dict[str, Any]:
    """Create (201) or replace (200) one meter's registry entry: the fields of a ``meters.csv``
    row, validated the same way; absent fields take their defaults."""
    try:
        meter = meter_from_row({"meter_id": meter_id, "meter_type": meter_type.value, **body.model_dump()})
    except ValueError as exc:
        raise InputDataError(str(exc)) from None
    created = put_meter(store, meter)
    response.status_code = 201 if created else 200
    stats = store.readings_stats(meter_type, [meter_id]).get(meter_id)
    return MeterSummary(meter, stats).to_dict()
