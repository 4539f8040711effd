"""Alerts: meters whose readings left their forecast band, water districts whose night flow climbs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from energy_forecast.api.deps import TaskQueueDep
from energy_forecast.services.alerts import ACTIVE, list_alerts

router = APIRouter(tags=["alerts"])


@router.get("/alerts/")
def alerts(
    queue: TaskQueueDep,
    meter_id: str | None = Query(default=None, max_length=200, description="Only this meter's alerts."),
    meter_type: Literal["electricity", "water"] | None = Query(default=None, description="Only this type."),
    rule: Literal["band", "night_flow", "night_trend"] | None = Query(
        default=None, description="Only this rule."
    ),
    state: Literal["active", "cleared"] | None = Query(
        default=None, description="Active or recently cleared."
    ),
) -> dict[str, Any]:
    """Active alerts and those cleared recently (kept EF_ALERTS__KEEP_CLEARED), active first."""
    found = list_alerts(queue.client, meter_type=meter_type, meter_id=meter_id, rule=rule, state=state)
    return {"count": len(found), "active": sum(a["state"] == ACTIVE for a in found), "alerts": found}
