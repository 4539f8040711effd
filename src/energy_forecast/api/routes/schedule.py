"""The scheduler's jobs: interval, last and next run, last outcome, and which process leads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from energy_forecast.api.deps import SettingsDep, TaskQueueDep
from energy_forecast.tasks.schedule_jobs import describe_schedule

router = APIRouter(tags=["schedule"])


@router.get("/schedule/")
def schedule(request: Request, settings: SettingsDep, queue: TaskQueueDep) -> dict[str, Any]:
    """Each scheduled job with its last run and outcome, the leader's host and pid, fleet counts."""
    body = describe_schedule(queue.client, settings.schedule)
    scheduler = getattr(request.app.state, "scheduler", None)
    body["this_process"] = {
        "runs_scheduler": scheduler is not None,
        "leading": bool(scheduler is not None and scheduler.leading),
    }
    return body
