"""The scheduler's jobs: interval, last and next run, last outcome, and which process leads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from energy_forecast.api.deps import SettingsDep, TaskQueueDep
from energy_forecast.tasks.schedule_jobs import describe_schedule, read_history

router = APIRouter(tags=["schedule"])


@router.get("/schedule/")
def schedule(request: Request, settings: SettingsDep, queue: TaskQueueDep) -> dict[str, Any]:
    """Each scheduled job with its last run and outcome, the leader's host and pid, fleet counts."""
    body = describe_schedule(queue.client, settings.schedule, settings.alerts)
    scheduler = getattr(request.app.state, "scheduler", None)
    body["this_process"] = {
        "runs_scheduler": scheduler is not None,
        "leading": bool(scheduler is not None and scheduler.leading),
    }
    return body


@router.get("/schedule/live_accuracy")
def live_accuracy(queue: TaskQueueDep, limit: int = 500) -> list[dict[str, Any]]:
    """Fleet median live and hold-out CV(RMSE), one point per scheduled publication, oldest first."""
    return read_history(queue.client, max(1, min(limit, 2000)))
