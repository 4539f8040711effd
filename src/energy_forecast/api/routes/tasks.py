"""Task monitor (what Flower gave the v1 system): recent and running tasks, retry of dead letters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from energy_forecast.api.ops_schemas import TaskListPublic, TaskRetryPublic, TaskRowPublic
from energy_forecast.api.quotas import QueuedWorkDep
from energy_forecast.api.schemas import UUID_PATTERN
from energy_forecast.domain.tasks import TaskState
from energy_forecast.errors import InputDataError, QueueUnavailableError
from energy_forecast.tasks.monitor import TaskMonitor

router = APIRouter(prefix="/tasks", tags=["tasks"])


async def _monitor(request: Request) -> TaskMonitor:
    monitor = getattr(request.app.state, "monitor", None)
    if monitor is None:
        raise QueueUnavailableError("the task queue is not running in this process")
    return monitor  # type: ignore[no-any-return]


MonitorDep = Annotated[TaskMonitor, Depends(_monitor)]
TaskIdPath = Annotated[
    str, Path(pattern=UUID_PATTERN, description="the task id returned when the task was submitted (a UUID)")
]


def _task_id(task_id: str) -> str:
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise InputDataError(
            f"task id {task_id!r} is not a UUID; use the task_id returned by POST /trainmodel/"
        ) from None


@router.get("/", response_model=TaskListPublic)
def list_tasks(
    monitor: MonitorDep,
    state: Annotated[TaskState | None, Query(description="only tasks in this state, e.g. FAILURE")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")] = 100,
) -> TaskListPublic:
    """Recent and running tasks with state, progress, meter, duration and error type."""
    rows = monitor.list_tasks(state, limit)
    return TaskListPublic(
        count=len(rows),
        state=state.value if state else None,
        tasks=[TaskRowPublic(**row) for row in rows],
    )


@router.post("/{task_id}/retry", response_model=TaskRetryPublic, status_code=202)
def retry_task(task_id: TaskIdPath, monitor: MonitorDep, work: QueuedWorkDep) -> TaskRetryPublic:
    """Re-queue a dead-lettered task as a new task with the same arguments."""
    retried = TaskRetryPublic(**monitor.retry(_task_id(task_id)))
    work.add([retried.task_id])
    return retried
