"""The caller's share of the task queue, as a route dependency: refused at the cap, recorded after.

Every route that queues work on a key's behalf (trainings, batches, fleet evaluations,
publications, retries) takes ``QueuedWorkDep``: a key with ``EF_LIMITS__QUEUED_TASKS_PER_KEY``
tasks waiting or running is answered 429 with ``Retry-After`` before anything is queued; the ids
a request queued are recorded under the key afterwards (``tasks.quotas``). The scheduler's own
work is nobody's and is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from energy_forecast.api.deps import TaskQueueDep
from energy_forecast.api.guards import caller_identity
from energy_forecast.tasks.queue import TaskQueue, redis_errors
from energy_forecast.tasks.quotas import FleetClaims, TaskQuota

QUEUED_RETRY_AFTER_S = 30


class QueuedWork:
    """One request's caller and its quota; ``add`` records the task ids the request queued."""

    def __init__(self, quota: TaskQuota, owner: str, queue: TaskQueue) -> None:
        self.quota = quota
        self.owner = owner
        self.claims = FleetClaims(queue.store, quota.store.retention)

    def add(self, task_ids: Iterable[str]) -> None:
        with redis_errors("record the queued tasks"):
            self.quota.add(self.owner, task_ids)


def _queued_work(request: Request, queue: TaskQueueDep) -> QueuedWork:
    settings = request.app.state.settings
    cap = settings.limits.queued_tasks_per_key
    owner = caller_identity(request)
    quota = TaskQuota(queue.store, settings.task_retention)
    with redis_errors("enqueue: counting this client's queued tasks failed", tls=queue.tls):
        queued = quota.queued(owner, cap)
    if queued >= cap:
        raise HTTPException(
            429,
            f"this client already has {queued} tasks waiting or running, the limit of "
            f"EF_LIMITS__QUEUED_TASKS_PER_KEY ({cap}); wait for some to finish (GET /trainmodel/active_task) "
            f"and retry after {QUEUED_RETRY_AFTER_S} s",
            headers={"Retry-After": str(QUEUED_RETRY_AFTER_S)},
        )
    return QueuedWork(quota, owner, queue)


QueuedWorkDep = Annotated[QueuedWork, Depends(_queued_work)]
