"""Dashboard page of one group: its members and the chart of its total with the P10-P90 band.

The chart asks ``POST /forecast/`` with the group's id, as the meter page asks with a meter's.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from energy_forecast.api.deps import SeriesStoreDep
from energy_forecast.api.routes.dashboard import _render, not_found
from energy_forecast.domain.meters import SLUG_PATTERN
from energy_forecast.domain.unit_totals import hourly_total
from energy_forecast.errors import NotFoundError
from energy_forecast.services.groups import GroupView, get_group
from energy_forecast.storage.base import SeriesStore

router = APIRouter(include_in_schema=False)
_SLUG = re.compile(SLUG_PATTERN)


def _page(store: SeriesStore, view: GroupView) -> dict[str, object]:
    group = view.group
    stats = store.readings_stats(group.meter_type, list(view.members))
    lasts = [s.last for s in stats.values() if s.last is not None]
    units = {m.unit for m in store.list_meters() if m.meter_id in set(view.members)}
    unit = units.pop() if len(units) == 1 else ""
    return {
        "group_id": group.group_id,
        "meter_type": group.meter_type.value,
        "members": list(view.members),
        "with_readings": len(stats),
        # The group's forecast starts after the earliest member's last reading.
        "last_reading": min(lasts).isoformat() if lasts else None,
        "unit": unit,
        "total": asdict(hourly_total(unit)),
        "has_publication": False,
    }


@router.get("/dashboard/groups/{group_id}", response_class=HTMLResponse)
async def group_page(request: Request, group_id: str, store: SeriesStoreDep) -> HTMLResponse:
    """One group: its members and the forecast of its total with its P10-P90 band."""
    if not _SLUG.fullmatch(group_id):
        return not_found(request, f"group {group_id}", "Check the link or pick a group on the fleet page.")
    try:
        view = await run_in_threadpool(get_group, store, group_id)
    except NotFoundError:
        return not_found(request, f"group {group_id}", "Define it with PUT /groups/{id} or a groups column.")
    page = await run_in_threadpool(_page, store, view)
    return _render(request, "group.html", {"view": view, "page": page, "now": datetime.now(UTC)})
