"""Stored readings read back: ``GET /meters/{type}/{id}/readings`` as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from energy_forecast.api.deps import SeriesStoreDep
from energy_forecast.api.schemas import IsoDateTime, WindowStart
from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.services.readings_export import parse_bound, readings_csv, stored_readings

router = APIRouter(prefix="/meters", tags=["meters"])
MeterIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="meter id (slug)")]


class StoredReadingPublic(BaseModel):
    timestamp: str  # ISO-8601 UTC, the start of the hour
    consumption: float


@router.get(
    "/{meter_type}/{meter_id}/readings",
    response_model=list[StoredReadingPublic],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_readings(
    meter_type: MeterType,
    meter_id: MeterIdPath,
    store: SeriesStoreDep,
    start: Annotated[WindowStart | None, Query(description="first hour (ISO-8601; UTC if no offset)")] = None,
    end: Annotated[IsoDateTime | None, Query(description="end, exclusive (ISO-8601)")] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="csv: the same as Accept: text/csv")
    ] = None,
    accept: Annotated[str, Header()] = "",
) -> Response:
    """The meter's hourly values as stored (UTC, hour start), ``start <= t < end``; gaps are absent."""
    first, last = (
        None if t is None else parse_bound(t.isoformat(), name)
        for t, name in ((start, "start"), (end, "end"))
    )
    rows = await run_in_threadpool(stored_readings, store, meter_type, meter_id, first, last)
    wants_csv = format == "csv" or (format is None and "text/csv" in accept.lower())
    if wants_csv:
        body = await run_in_threadpool(readings_csv, rows)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{meter_type.value}_{meter_id}.csv"'},
        )
    return Response(to_json(rows), media_type="application/json")
