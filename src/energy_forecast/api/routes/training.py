"""Training: enqueue (v2 and v1 shapes), status, live stream, active tasks, cancel, batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from energy_forecast.api import sse, streams
from energy_forecast.api.deps import ModelStoreDep, SeriesStoreDep, SettingsDep, TaskQueueDep
from energy_forecast.api.guards import caller_identity
from energy_forecast.api.quotas import QueuedWorkDep
from energy_forecast.api.schemas import (
    TASK_ID_PATTERN,
    BatchAccepted,
    BatchTrainRequest,
    CancelPublic,
    TaskAccepted,
    TaskStatusPublic,
    TrainRequest,
    TrainWindowRequest,
)
from energy_forecast.errors import NotFoundError
from energy_forecast.services.fleet_model import global_member_jobs

router = APIRouter(prefix="/trainmodel", tags=["training"])
TaskIdPath = Annotated[str, Path(pattern=TASK_ID_PATTERN, description="task id returned on enqueue")]
TERMINAL = sse.TERMINAL


class TaskNotFoundError(NotFoundError):
    """Raised when a task id is unknown or its records expired."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} is unknown or its records expired")


# 200, not 202: the seed shows these exchanges without a code, so FastAPI's default is what every
# client of the seed design checks for. Routes the seeds do not show keep 202.
@router.post("/", response_model=TaskAccepted)
def train(body: TrainRequest, queue: TaskQueueDep, work: QueuedWorkDep) -> TaskAccepted:
    """Queue training of one meter on all its readings (its queued or running task if there is one)."""
    task_id = queue.enqueue_training(body.meter_id, body.meter_type, force=body.force)
    work.add([task_id])
    return TaskAccepted(task_id=task_id)


@router.post("/v2/", response_model=TaskAccepted)
def train_window(body: TrainWindowRequest, queue: TaskQueueDep, work: QueuedWorkDep) -> TaskAccepted:
    """Queue training of one meter on the readings of ``[start_date, end_date]`` only."""
    task_id = queue.enqueue_training(
        body.meter_id, body.meter_type, body.start_date, body.end_date, force=body.force
    )
    work.add([task_id])
    return TaskAccepted(task_id=task_id)


@router.get("/status/{task_id}", response_model=TaskStatusPublic, response_model_exclude_none=True)
def status(task_id: TaskIdPath, queue: TaskQueueDep) -> dict[str, Any]:
    """State, progress and, when finished, the result or the error record."""
    record = queue.read_status(task_id)
    if record is None:
        raise TaskNotFoundError(task_id)
    return record


@router.get("/active_task", response_model=list[TaskStatusPublic], response_model_exclude_none=True)
def active_tasks(queue: TaskQueueDep) -> list[dict[str, Any]]:
    """Tasks queued or running now."""
    return queue.list_active()


@router.post("/cancel/{task_id}", response_model=CancelPublic)
def cancel(task_id: TaskIdPath, queue: TaskQueueDep) -> CancelPublic:
    """Cancel a task: a queued one never starts, a running one stops at its next stage."""
    previous = queue.cancel(task_id)
    if previous is None:
        raise TaskNotFoundError(task_id)
    return CancelPublic(
        task_id=task_id, previous_status=previous.value, cancel_requested=previous.value not in TERMINAL
    )


@router.get(
    "/stream/{task_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: data-only events with ids, `: keep-alive`"
            " comments, and a `retry:` hint before a finished task's stream closes",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream(
    task_id: TaskIdPath,
    request: Request,
    queue: TaskQueueDep,
    last_event_id: Annotated[
        str,
        Header(
            pattern=sse.EVENT_ID_PATTERN,
            description="the id of the last event received (a browser's EventSource sends it when it "
            "reconnects); the stream resumes after it. 0: from the first event. Each part of the id "
            "is at most 2^64-1 (400 beyond)",
        ),
    ] = "0",
) -> StreamingResponse:
    """Server-Sent Events: one data event per state change, the last with the result or error.

    At most ``EF_LIMITS__STREAMS_PER_KEY`` streams per key and ``EF_LIMITS__MAX_STREAMS`` in all are
    open at once; beyond them 429 with ``Retry-After``."""
    streams.check_event_id(last_event_id)
    reader: streams.StreamReader = request.app.state.stream_reader
    gate: streams.StreamGate = request.app.state.stream_gate
    identity = caller_identity(request)
    gate.admit(identity)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            gate.release(identity)

    try:
        if await reader.read_status(task_id) is None:
            raise TaskNotFoundError(task_id)
    except BaseException:
        release()
        raise

    async def events() -> AsyncIterator[str]:
        try:
            async for chunk in sse.task_events(
                reader,
                task_id,
                last_event_id,
                request.is_disconnected,
                max_duration=request.app.state.settings.stream_max_duration,
            ):
                yield chunk
        finally:
            release()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(release),
    )


@router.post("/batch/", response_model=BatchAccepted, status_code=202)
def train_batch(
    body: BatchTrainRequest,
    queue: TaskQueueDep,
    store: SeriesStoreDep,
    work: QueuedWorkDep,
    models: ModelStoreDep,
    settings: SettingsDep,
) -> BatchAccepted:
    """Queue one training task per meter: all registered meters, a list, or one type.

    Each type's global member is queued first, except for a list of meters when it is younger
    than the scheduler's model maximum age."""
    registry = {m.meter_id: m for m in store.list_meters()}
    if body.meter_ids is not None:
        unknown = [m for m in body.meter_ids if m not in registry]
        if unknown:
            listed = ", ".join(unknown[:10])
            raise NotFoundError(f"unknown meter id(s): {listed}; import their readings first")
        chosen = [registry[m] for m in dict.fromkeys(body.meter_ids)]
    else:
        chosen = list(registry.values())
    if body.meter_type is not None:
        chosen = [m for m in chosen if m.meter_type == body.meter_type]
    if not chosen:
        raise NotFoundError("no registered meter matches the request; import readings or change meter_type")
    # The global ensemble member of each type goes first (a guarded task: one per type at a time).
    fresh_enough = (models, settings.schedule.model_max_age) if body.meter_ids is not None else None
    types = {m.meter_type for m in chosen}
    for job in global_member_jobs(list(registry.values()), types, unless_fresh=fresh_enough):
        queue.enqueue_training_once(*job)
    batch_id, task_ids = queue.enqueue_batch([(m.meter_id, m.meter_type) for m in chosen])
    work.add(task_ids)
    return BatchAccepted(
        batch_id=batch_id, task_ids={m.meter_id: t for m, t in zip(chosen, task_ids, strict=True)}
    )


@router.get("/batch/{batch_id}")
def batch_status(batch_id: TaskIdPath, queue: TaskQueueDep) -> dict[str, Any]:
    """Aggregate state of a batch: counts per state, mean progress, each task's status."""
    record = queue.read_batch(batch_id)
    if record is None:
        raise TaskNotFoundError(batch_id)
    return record
