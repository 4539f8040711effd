"""The scheduler's three jobs: *train*, *forecast* and *retention*, each enqueueing ordinary tasks.

A job never trains, forecasts or deletes itself: it decides what is due and enqueues the same
tasks a person would, so retries, time limits, progress records, metrics and the task monitor
apply unchanged. Per-meter attempt records (``ef_scheduler:train_attempts``, hash meter ->
JSON ``{task_id, at, failures}``) let the *train* job back off from meters whose trainings keep
failing; fleet figures it counts on the way (``ef_scheduler:fleet``) feed metrics and the fleet page.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import redis
import structlog

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.tasks import TaskState, utc_now
from energy_forecast.services.fleet_model import global_member_is_fresh, global_member_jobs, is_fleet_model
from energy_forecast.services.freshness import Reason, backoff, plan_training
from energy_forecast.settings import AlertSettings, ScheduleSettings
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore
from energy_forecast.storage.forecast_layout import model_version_tag
from energy_forecast.tasks.alert_job import alert_job
from energy_forecast.tasks.lease import read_leader
from energy_forecast.tasks.publications import HOLDOUT_KEY, LIVE_KEY, PublicationIndex, member
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.scheduler import Job, JobOutcome, Scheduler, read_jobs

log = structlog.get_logger(__name__)

ATTEMPTS_KEY = "ef_scheduler:train_attempts"
FLEET_KEY = "ef_scheduler:fleet"
HISTORY_KEY = "ef_scheduler:live_history"
HISTORY_MAX = 2000


def _saved_at(version: ModelVersion) -> datetime | None:
    text = version.created_at
    return datetime.fromisoformat(text) if text else None


class ScheduleJobs:
    """Builds the jobs over one process's stores and queue."""

    def __init__(
        self,
        store: SeriesStore,
        models: ModelStore,
        queue: TaskQueue,
        schedule: ScheduleSettings,
        *,
        task_retention: timedelta,
    ) -> None:
        self.store = store
        self.models = models
        self.queue = queue
        self.schedule = schedule
        self.task_retention = task_retention
        self.client: redis.Redis = queue.client
        self.index = PublicationIndex(self.client)

    def jobs(self) -> list[Job]:
        s = self.schedule
        return [
            Job("train", s.tick, self.train),
            Job("forecast", s.forecast_every, self.forecast),
            Job("retention", s.retention_every, self.retention),
            Job("global", s.tick, self.train_global),
        ]

    # -- global ensemble members -----------------------------------------------------------------

    def train_global(self) -> JobOutcome:
        """Enqueue each type's global member when it is missing or past the model maximum age."""
        now = utc_now()
        enqueued = skipped = failed = 0
        for member_id, meter_type in global_member_jobs(self.store.list_meters(), set(MeterType)):
            key = member(meter_type, member_id)
            try:
                fresh = global_member_is_fresh(self.models, self.schedule.model_max_age, meter_type, now)
                if fresh or self._backing_off(key, now):
                    skipped += 1
                    continue
                task_id, created = self.queue.enqueue_training_once(member_id, meter_type)
            except Exception:  # one type's problem must not stop the other's
                failed += 1
                continue
            if created:
                enqueued += 1
                self._note_attempt(key, task_id, now)
            else:
                skipped += 1
        detail = f"{enqueued} global member(s) due" if enqueued else "nothing due"
        return JobOutcome(enqueued, skipped, failed, detail)

    # -- train ------------------------------------------------------------------------------------

    def train(self) -> JobOutcome:
        now = utc_now()
        registry = {m.meter_id: m.meter_type for m in self.store.list_meters()}
        with_readings = [
            (meter_id, registry[meter_id])
            for meter_type in MeterType
            for meter_id in self.store.readings_stats(meter_type)
            if registry.get(meter_id) == meter_type
        ]
        models = self.models.list_models()
        active = {(v.meter_type, v.meter_id): v for v in models if not is_fleet_model(v)}
        members = {v.meter_type: v for v in models if is_fleet_model(v)}
        last_trained: dict[tuple[MeterType, str], datetime | None] = {}
        stale = 0  # active models past the maximum age, whether or not a newer one was rejected
        for key, version in active.items():
            saved = _saved_at(version)
            if saved is None or now - saved > self.schedule.model_max_age:
                stale += 1
                # The active model is old; was a newer version trained (and rejected) since?
                newest = self.models.list_versions(*key)[-1]
                saved = _saved_at(newest)
            last_trained[key] = saved
        drifted = self._drifted(active)
        plan = plan_training(
            with_readings,
            last_trained,
            drifted,
            now=now,
            max_age=self.schedule.model_max_age,
            incomplete=without_member(active, members),
        )
        enqueued = skipped = failed = 0
        reasons: dict[str, int] = {}
        for candidate in plan:
            key = member(candidate.meter_type, candidate.meter_id)
            try:
                if self._backing_off(key, now):
                    skipped += 1
                    continue
                task_id, created = self.queue.enqueue_training_once(candidate.meter_id, candidate.meter_type)
            except Exception:  # one meter's problem must not stop the fleet's tick
                failed += 1
                continue
            if created:
                enqueued += 1
                reasons[candidate.reason.value] = reasons.get(candidate.reason.value, 0) + 1
                self._note_attempt(key, task_id, now)
            else:
                skipped += 1
        fleet = {
            "meters_with_readings": len(with_readings),
            "meters_without_model": sum(1 for c in plan if c.reason is Reason.NO_MODEL),
            "models_stale": stale,
            "meters_drifted": len(drifted),
            "updated_at": now.isoformat(),
        }
        self.client.set(FLEET_KEY, json.dumps(fleet))
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "nothing due"
        if enqueued:
            # At start-up this is every meter without a model: say so, or a user's own training
            # waits behind them with nothing saying why.
            log.info(
                "scheduler_training_queued",
                meters=enqueued,
                reasons=detail,
                note="trainings requested now wait behind these; their status says how many tasks are ahead",
            )
        return JobOutcome(enqueued, skipped, failed, detail, extra=fleet)

    def _drifted(self, active: dict[tuple[MeterType, str], ModelVersion]) -> set[tuple[MeterType, str]]:
        """Drifted meters whose live figure is about the model still active and newer than it."""
        flagged = [(t, m) for t, m, _ in self.index.drifted(self.schedule.drift_factor)]
        records = self.index.many(flagged)
        drifted = set()
        for key, record in zip(flagged, records, strict=True):
            version = active.get(key)
            if version is None or record is None:
                continue
            if record.get("model_version") != model_version_tag(version.version):
                continue
            newest = self.models.list_versions(*key)[-1]
            saved = _saved_at(newest)
            if saved is None or saved < datetime.fromisoformat(record["issued_at"]):
                drifted.add(key)
        return drifted

    def _backing_off(self, key: str, now: datetime) -> bool:
        raw = self.client.hget(ATTEMPTS_KEY, key)
        if raw is None:
            return False
        attempt = json.loads(raw)
        record = self.queue.store.read(attempt["task_id"])
        if record is None or record.state is not TaskState.FAILURE:
            return False
        wait = backoff(int(attempt.get("failures", 0)) + 1, self.schedule.tick, self.schedule.model_max_age)
        return now - datetime.fromisoformat(attempt["at"]) < wait

    def _note_attempt(self, key: str, task_id: str, now: datetime) -> None:
        raw = self.client.hget(ATTEMPTS_KEY, key)
        failures = 0
        if raw is not None:
            previous = json.loads(raw)
            record = self.queue.store.read(previous["task_id"])
            if record is not None and record.state is TaskState.FAILURE:
                failures = int(previous.get("failures", 0)) + 1
        self.client.hset(
            ATTEMPTS_KEY, key, json.dumps({"task_id": task_id, "at": now.isoformat(), "failures": failures})
        )

    # -- forecast ---------------------------------------------------------------------------------

    def forecast(self) -> JobOutcome:
        self._sample_live_accuracy()
        meters = [(v.meter_id, v.meter_type) for v in self.models.list_models() if not is_fleet_model(v)]
        if not meters:
            return JobOutcome(detail="no meter has a model yet")
        previous = (read_jobs(self.client).get("forecast") or {}).get("extra", {}).get("batch_id")
        if previous:
            batch = self.queue.read_batch(previous)
            if batch is not None and not batch["done"]:
                return JobOutcome(
                    skipped=len(meters),
                    detail=f"batch {previous} still running",
                    extra={"batch_id": previous},
                )
        s = self.schedule
        batch_id, task_ids = self.queue.enqueue_publication(
            meters, days=s.forecast_days, chunk_size=s.forecast_chunk_size, groups=True
        )
        detail = f"{len(meters)} meters in {len(task_ids)} tasks"
        return JobOutcome(enqueued=len(meters), detail=detail, extra={"batch_id": batch_id})

    def _sample_live_accuracy(self) -> None:
        """One point of the fleet's live vs hold-out accuracy chart per forecast run."""
        point = {
            "at": utc_now().isoformat(),
            "live_median": self.index.median(LIVE_KEY),
            "holdout_median": self.index.median(HOLDOUT_KEY),
            "live_meters": int(self.client.zcard(LIVE_KEY)),
        }
        with self.client.pipeline(transaction=False) as pipe:
            pipe.rpush(HISTORY_KEY, json.dumps(point))
            pipe.ltrim(HISTORY_KEY, -HISTORY_MAX, -1)
            pipe.execute()

    # -- retention --------------------------------------------------------------------------------

    def retention(self) -> JobOutcome:
        s = self.schedule
        task_id = self.queue.enqueue_retention(
            forecast_retention=s.forecast_retention,
            keep_versions=s.keep_versions,
            task_retention=self.task_retention,
        )
        return JobOutcome(enqueued=1, detail=f"task {task_id}", extra={"task_id": task_id})


def without_member(
    active: dict[tuple[MeterType, str], ModelVersion], members: dict[MeterType, ModelVersion]
) -> set[tuple[MeterType, str]]:
    """Meters whose ensemble weights were learnt before their type's global member existed."""
    out = set()
    for key, version in active.items():
        member_version = members.get(key[0])
        blend = version.metadata.get("blend") or {}
        if member_version is None or not blend or blend.get("fleet_version") is not None:
            continue
        saved, member_saved = _saved_at(version), _saved_at(member_version)
        if saved is not None and member_saved is not None and saved < member_saved:
            out.add(key)
    return out


def read_fleet(client: redis.Redis) -> dict[str, Any]:
    raw = client.get(FLEET_KEY)
    return {} if raw is None else dict(json.loads(raw))


def read_history(client: redis.Redis, limit: int = 500) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in client.lrange(HISTORY_KEY, -limit, -1)]


def read_attempts(client: redis.Redis, keys: list[str]) -> list[dict[str, Any] | None]:
    if not keys:
        return []
    return [None if raw is None else json.loads(raw) for raw in client.hmget(ATTEMPTS_KEY, keys)]


def job_intervals(schedule: ScheduleSettings, alerts: AlertSettings | None = None) -> dict[str, timedelta]:
    intervals = {
        "train": schedule.tick,
        "forecast": schedule.forecast_every,
        "retention": schedule.retention_every,
    }
    if alerts is not None and alerts.enabled:
        intervals["alerts"] = alerts.every
    return intervals


def build_scheduler(
    store: SeriesStore,
    models: ModelStore,
    queue: TaskQueue,
    schedule: ScheduleSettings,
    *,
    task_retention: timedelta,
    alerts: AlertSettings | None = None,
) -> Scheduler:
    """A scheduler over this process's stores and queue (not started)."""
    jobs = ScheduleJobs(store, models, queue, schedule, task_retention=task_retention).jobs()
    if alerts is not None and alerts.enabled:
        jobs.append(alert_job(store, queue.client, alerts))
    return Scheduler(queue.client, jobs, tick=schedule.tick)


def describe_schedule(
    client: redis.Redis, schedule: ScheduleSettings, alerts: AlertSettings | None = None
) -> dict[str, Any]:
    """What ``GET /schedule/`` and ``energy-forecast schedule`` show: each job and the leader."""
    records = read_jobs(client)
    jobs = []
    for name, interval in job_intervals(schedule, alerts).items():
        record = records.get(name) or {}
        jobs.append(
            {
                "name": name,
                "interval_seconds": interval.total_seconds(),
                "last_run": record.get("last_run"),
                "next_run": record.get("next_run"),
                "duration_seconds": record.get("duration_seconds"),
                "outcome": record.get("outcome"),
                "last_outcome": record.get("last_outcome"),
                "detail": record.get("detail"),
                "error": record.get("error"),
                "ran_on": record.get("leader"),
            }
        )
    return {
        "enabled": schedule.enabled,
        "tick_seconds": schedule.tick.total_seconds(),
        "leader": read_leader(client),
        "jobs": jobs,
        "fleet": read_fleet(client),
    }
