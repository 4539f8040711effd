"""Response models of the operations endpoints (task monitor)."""

from __future__ import annotations

from pydantic import BaseModel


class TaskRowPublic(BaseModel):
    """One task as the monitor lists it; ``duration_seconds`` runs until now for running tasks."""

    task_id: str
    actor: str | None
    status: str
    progress: int
    message: str
    meter_id: str | None
    meter_type: str | None
    enqueued_at: str | None
    started_at: str | None
    updated_at: str | None
    duration_seconds: float | None
    error_type: str | None
    dead_lettered: bool


class TaskListPublic(BaseModel):
    count: int
    state: str | None
    tasks: list[TaskRowPublic]


class TaskRetryPublic(BaseModel):
    task_id: str
    retry_of: str
    status: str
    progress: int
