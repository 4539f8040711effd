"""The web dashboard: server-rendered pages over the same stores the JSON API reads.

Pages render what the server knows at once (fleet table, meter header); the browser then talks to
the public JSON API (``/forecast/``, ``/models/...``, ``/trainmodel/...``) for the chart and live
training, so the dashboard exercises exactly what API clients use. Every asset is served from the
package (``api/static``, uPlot vendored under ``static/vendor``): nothing comes from a CDN, and
the Content-Security-Policy says so to the browser.

When API keys are enforced, a page opened without a key is answered by ``locked_page`` (called by
the access middleware, never routed): the layout and the key form, no data. ``dashboard.js`` keeps
the key the operator enters in the tab's ``sessionStorage`` and sends it as ``X-API-Key`` on every
request, fetching the page itself again to fill it in.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader
from redis import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from energy_forecast import __version__
from energy_forecast.api.deps import ModelStoreDep, SeriesStoreDep
from energy_forecast.api.schemas import TASK_ID_PATTERN
from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.domain.unit_totals import hourly_total
from energy_forecast.errors import MeterNotFoundError
from energy_forecast.services.alerts import list_alerts
from energy_forecast.services.fleet import MeterOverview, fleet_median, fleet_overview, meter_overview
from energy_forecast.services.fleet_page import STATUS_TEXT, FleetQuery, quality_status, select
from energy_forecast.services.groups import list_groups
from energy_forecast.tasks.fleet_health import MeterHealth, meter_health
from energy_forecast.tasks.publications import PublicationIndex

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(
    env=Environment(loader=PackageLoader("energy_forecast.api", "templates"), autoescape=True)
)

_SLUG = re.compile(SLUG_PATTERN)
_TASK_ID = re.compile(TASK_ID_PATTERN)
# The stages a training task passes through, in order, with the seed's percentages.
STAGES = [state for state in TaskState if not state.terminal] + [TaskState.SUCCESS]
CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages carry live data fetched with a key: never kept by the browser or a proxy for later.
    "Cache-Control": "no-store",
}
# Wall screens reload the overview; bounded so a typo cannot hammer the server.
MIN_REFRESH_S, MAX_REFRESH_S = 10, 3600


def static_files() -> StaticFiles:
    """The dashboard's CSS, JavaScript and vendored libraries, served from the installed package."""
    return StaticFiles(packages=[("energy_forecast.api", "static")])


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """``3 h ago``-style age for tables read from across a room; empty when unknown."""
    if moment is None:
        return ""
    delta = (now or datetime.now(UTC)) - moment
    if delta < timedelta(0):
        return "in the future"
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def number(value: float | None, digits: int = 1) -> str:
    """A metric for display; an en dash for a missing one."""
    return "\u2013" if value is None else f"{value:,.{digits}f}"


templates.env.filters["age"] = age
templates.env.filters["number"] = number
templates.env.globals["version"] = __version__


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def refresh_seconds(value: int | str | None) -> int | None:
    """The wall-screen reload period, clamped; None when absent or not a number."""
    try:
        seconds = None if value is None else int(value)
    except ValueError:
        return None
    return None if seconds is None else min(max(seconds, MIN_REFRESH_S), MAX_REFRESH_S)


async def locked_page(scope: Scope, receive: Receive, send: Send) -> None:
    """401 page for a dashboard URL opened without a key: the key form, rendered from no store."""
    request = Request(scope, receive)
    refresh = refresh_seconds(request.query_params.get("refresh")) if scope["path"] == "/" else None
    response = templates.TemplateResponse(request, "locked.html", {"refresh": refresh}, status_code=401)
    response.headers.update(SECURITY_HEADERS)
    response.headers["WWW-Authenticate"] = "Bearer"
    await response(scope, receive, send)


def not_found(request: Request, what: str, hint: str) -> HTMLResponse:
    """A page a person can act on, instead of a JSON 404, for a mistyped or stale link."""
    return _render(request, "not_found.html", {"what": what, "hint": hint}, status_code=404)


def _health(request: Request, rows: list[MeterOverview]) -> dict[Any, MeterHealth]:
    """Each row's publication and training health, when this process has the task queue's Redis."""
    queue = getattr(request.app.state, "tasks", None)
    if queue is None or not rows:
        return {}
    settings = request.app.state.settings
    try:
        return meter_health(
            PublicationIndex(queue.client),
            queue.store,
            [(row.meter_type, row.meter_id) for row in rows],
            drift_factor=settings.schedule.drift_factor,
        )
    except RedisError:
        return {}  # the page still shows the stores' view


def _published(request: Request, meter_type: MeterType, meter_id: str) -> bool:
    """Whether the meter has a published forecast (so the page asks for it only then)."""
    index = getattr(request.app.state, "publications", None)
    if index is None:
        return False
    try:
        return index.latest(meter_type, meter_id) is not None
    except RedisError:
        return False


@router.get("/", response_class=HTMLResponse)
async def fleet(
    request: Request, store: SeriesStoreDep, models: ModelStoreDep, refresh: int | None = None
) -> HTMLResponse:
    """Fleet overview: one page of meters (searched, sorted) with model age, status that judges the
    model, hold-out vs live accuracy and last publication; tiles and medians over the whole fleet."""
    query = FleetQuery.parse(dict(request.query_params))
    rows: list[MeterOverview] = await run_in_threadpool(fleet_overview, store, models)
    shown = select(rows, query)
    # Health of the whole fleet (a few Redis round trips whatever its size): the tiles count it all.
    health = await run_in_threadpool(_health, request, rows)
    statuses = [quality_status(row) for row in rows]
    context = {
        "health": health,
        "drifted": sum(1 for h in health.values() if h.drifted),
        "failing": sum(1 for h in health.values() if h.failed_trainings),
        "rows": shown.rows,
        "fleet_page": shown,
        "query": query,
        "status_text": STATUS_TEXT,
        "status_of": quality_status,
        "meter_count": len(rows),
        "poor_count": sum(1 for s in statuses if s in ("poor", "no-skill")),
        "now": datetime.now(UTC),
        "trained": sum(1 for row in rows if row.model is not None),
        "median_cv_rmse": fleet_median(rows, "cv_rmse_percent"),
        "median_r2": fleet_median(rows, "r2"),
        "refresh": refresh_seconds(refresh),
        "groups": await run_in_threadpool(list_groups, store),
    }
    return _render(request, "fleet.html", context)


@router.get("/dashboard/meters/{meter_type}/{meter_id}", response_class=HTMLResponse)
async def meter_page(
    request: Request, meter_type: str, meter_id: str, store: SeriesStoreDep, models: ModelStoreDep
) -> HTMLResponse:
    """One meter: readings, active model, forecast chart with its 80 % interval, and a Train button."""
    # Path values are checked here rather than by FastAPI so a bad link gets a page, not JSON.
    if meter_type not in {t.value for t in MeterType} or not _SLUG.fullmatch(meter_id):
        return not_found(request, f"meter {meter_type}/{meter_id}", "Check the link or pick a meter below.")
    try:
        row = await run_in_threadpool(meter_overview, store, models, MeterType(meter_type), meter_id)
    except MeterNotFoundError:
        return not_found(
            request, f"{meter_type} meter {meter_id}", "It is not registered: import its readings first."
        )
    stats = row.summary.stats
    page = {
        "meter_id": row.meter_id,
        "meter_type": row.meter_type.value,
        "first_reading": stats.first.isoformat() if stats and stats.first is not None else None,
        "last_reading": stats.last.isoformat() if stats and stats.last is not None else None,
        "unit": row.summary.meter.unit,
        "total": asdict(hourly_total(row.summary.meter.unit)),
        "timezone": row.summary.meter.timezone,
        "has_model": row.model is not None,
        "has_publication": await run_in_threadpool(_published, request, row.meter_type, row.meter_id),
    }
    return _render(
        request, "meter.html", {"row": row, "page": page, "now": datetime.now(UTC), "stages": STAGES}
    )


@router.get("/dashboard/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: str) -> HTMLResponse:
    """Live view of one training task's eight stages, fed by its Server-Sent Events stream."""
    if not _TASK_ID.fullmatch(task_id):
        hint = "Task ids are the hexadecimal ids returned when training is queued."
        return not_found(request, f"task {task_id}", hint)
    page = {"task_id": task_id}
    return _render(request, "task.html", {"page": page, "stages": STAGES})


ALERT_RULES = {
    "band": "outside forecast",
    "night_flow": "night flow above limit",
    "night_trend": "night flow rising",
}


@router.get("/dashboard/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request) -> HTMLResponse:
    """Active and recently cleared alerts (the same list as ``GET /alerts/``)."""
    queue = getattr(request.app.state, "tasks", None)
    found: list[dict[str, Any]] = []
    unavailable = queue is None
    if queue is not None:
        try:
            found = await run_in_threadpool(list_alerts, queue.client)
        except RedisError:
            unavailable = True
    context = {
        "alerts": found,
        "active": sum(a["state"] == "active" for a in found),
        "unavailable": unavailable,
        "rule_names": ALERT_RULES,
    }
    return _render(request, "alerts.html", context)
