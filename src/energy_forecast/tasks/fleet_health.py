"""Per-meter health for the dashboard's fleet page: last publication, live vs hold-out, failing trainings.

Read in a few round trips whatever the page size (one HMGET per hash, one MGET of task records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.tasks.progress import RedisProgressStore
from energy_forecast.tasks.publications import PublicationIndex, member
from energy_forecast.tasks.schedule_jobs import read_attempts


@dataclass(frozen=True, slots=True)
class MeterHealth:
    published_at: datetime | None
    published_version: str | None
    live_cv_rmse_percent: float | None
    holdout_cv_rmse_percent: float | None
    drifted: bool
    failed_trainings: int  # consecutive scheduled trainings that failed, the last one included
    last_error: str | None


def meter_health(
    index: PublicationIndex,
    progress: RedisProgressStore,
    meters: list[tuple[MeterType, str]],
    *,
    drift_factor: float,
) -> dict[tuple[MeterType, str], MeterHealth]:
    records = index.many(meters)
    attempts = read_attempts(index.client, [member(t, m) for t, m in meters])
    last_tasks = progress.read_many([a["task_id"] for a in attempts if a is not None])
    states = iter(last_tasks)
    health = {}
    for key, record, attempt in zip(meters, records, attempts, strict=True):
        failures, error = 0, None
        if attempt is not None:
            last = next(states)
            if last is not None and last.state is TaskState.FAILURE:
                failures = int(attempt.get("failures", 0)) + 1
                error = last.message
        record = record or {}
        live, holdout = record.get("live_cv_rmse_percent"), record.get("holdout_cv_rmse_percent")
        issued = record.get("issued_at")
        health[key] = MeterHealth(
            published_at=datetime.fromisoformat(issued) if issued else None,
            published_version=record.get("model_version"),
            live_cv_rmse_percent=live,
            holdout_cv_rmse_percent=holdout,
            drifted=bool(live is not None and holdout and live > drift_factor * holdout),
            failed_trainings=failures,
            last_error=error,
        )
    return health
