"""Meter registry and reading import."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
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
from energy_forecast.api.schemas import MeterPublic, ReadingIn, ReadingsImported, ZoneName
from energy_forecast.domain.meters import (
    DEFAULT_SITE,
    SLUG_PATTERN,
    Meter,
    MeterType,
    validate_site_id,
)
from energy_forecast.errors import InputDataError
from energy_forecast.services.ingestion import import_meter_readings, read_csv
from energy_forecast.services.meters import meter_summaries

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


@router.post(
    "/{meter_type}/{meter_id}/readings",
    response_model=ReadingsImported,
    openapi_extra=_READINGS_BODY,
    status_code=201,
)
async def post_readings(
    request: Request,
    meter_type: MeterType,
    meter_id: MeterIdPath,
    store: SeriesStoreDep,
    settings: SettingsDep,
    site_id: Annotated[str, Query(pattern=SLUG_PATTERN)] = DEFAULT_SITE,
    unit: Annotated[str, Query(max_length=64)] = "",
    timezone: Annotated[ZoneName, Query()] = "UTC",
) -> ReadingsImported:
    """Import hourly readings of one meter (JSON list, CSV body or CSV file); all or nothing."""
    meter = Meter(
        meter_id=meter_id,
        meter_type=meter_type,
        site_id=validate_site_id(site_id),
        unit=unit,
        timezone=timezone,
    )
    frame, source, first_row = await _frame_from_request(
        request, max_bytes=64 * 1024 * 1024, max_rows=settings.max_import_rows
    )
    written = await run_in_threadpool(
        import_meter_readings,
        store,
        meter,
        frame,
        source,
        max_rows=settings.max_import_rows,
        first_row=first_row,
    )
    stats = (await run_in_threadpool(store.readings_stats, meter_type)).get(meter_id)
    return ReadingsImported(
        meter_id=meter_id,
        meter_type=meter_type,
        rows_received=len(frame),
        points_written=written,
        reading_count=stats.count if stats else 0,
    )
