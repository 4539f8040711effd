"""The scheduler loop: periodic jobs that enqueue ordinary tasks, run by whichever process leads.

A ``Job`` is a name, an interval and a function that enqueues work and says what it did
(``JobOutcome``). ``Scheduler.step`` is one wake-up: hold or take the lease (``tasks.lease``), and
if we lead, run every job whose ``next_run`` has come. Job records live in Redis, so a new
leader continues the old one's schedule instead of starting over. The loop wakes every third of
a tick, so a dead leader is replaced within about a tick; each job runs at most once per interval.

Keys: ``ef_scheduler:jobs`` (hash job -> JSON record), ``ef_metrics:scheduler_runs`` (hash
``{job}:{outcome}`` -> count, outcome ``success`` or ``failure``).

A maintained library was considered and not used: periodiq and dramatiq-crontab schedule by cron
expression (minute resolution, no second-scale ticks), periodiq is a single process with no
leader election and runs on SIGALRM (main thread only, so not inside ``serve``), dramatiq-crontab
is a Django app; APScheduler 3.x keeps jobs per process and its docs rule out sharing a job store
between schedulers, so it would still need this lease. What is left is the lease plus a loop.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import structlog

from energy_forecast.tasks.lease import LeaderLease

log = structlog.get_logger(__name__)

JOBS_KEY = "ef_scheduler:jobs"
RUNS_KEY = "ef_metrics:scheduler_runs"


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one run did: meters (or tasks) enqueued, skipped (already in flight, backing off), failed."""

    enqueued: int = 0
    skipped: int = 0
    failed: int = 0
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval: timedelta
    run: Callable[[], JobOutcome]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class Scheduler:
    """Run ``jobs`` when due, only while holding the lease; ``start``/``stop`` run it on a thread."""

    def __init__(
        self,
        client: redis.Redis,
        jobs: list[Job],
        *,
        tick: timedelta,
        lease: LeaderLease | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.tick = tick
        self.lease = lease or LeaderLease(client, tick)
        self.clock = clock
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> bool:
        """One wake-up; returns whether this process leads. Redis errors are logged, not raised."""
        try:
            leading = self.lease.hold()
        except redis.RedisError as exc:
            log.warning("scheduler_lease_failed", error=str(exc))
            leading = False
        if leading != self.leading:
            log.info("scheduler_leader_changed", leading=leading, **self.lease.who)
        self.leading = leading
        if not leading:
            return False
        try:
            records = self.records()
        except redis.RedisError as exc:
            log.warning("scheduler_read_failed", error=str(exc))
            return True
        for job in self.jobs:
            if self._stop.is_set() or not self.leading:  # stopped, or the renewer lost the lease
                break
            record = records.get(job.name) or {}
            if self.clock() >= float(record.get("next_run_epoch") or 0):
                self._run(job)
        return True

    def _run(self, job: Job) -> None:
        started = self.clock()
        try:
            outcome, error = job.run(), None
        except Exception as exc:  # a job's failure is recorded and the loop goes on
            log.exception("scheduler_job_failed", job=job.name)
            outcome, error = JobOutcome(failed=1, detail=f"{type(exc).__name__}: {exc}"), str(exc)
        finished = self.clock()
        record = {
            "name": job.name,
            "interval_seconds": job.interval.total_seconds(),
            "last_run": _iso(started),
            "next_run": _iso(started + job.interval.total_seconds()),
            "next_run_epoch": started + job.interval.total_seconds(),
            "duration_seconds": round(finished - started, 3),
            "outcome": "failure" if error else "success",
            "last_outcome": {
                "enqueued": outcome.enqueued,
                "skipped": outcome.skipped,
                "failed": outcome.failed,
            },
            "detail": outcome.detail,
            "error": error,
            "leader": self.lease.who,
            **({"extra": outcome.extra} if outcome.extra else {}),
        }
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(JOBS_KEY, job.name, json.dumps(record, default=str))
                pipe.hincrby(RUNS_KEY, f"{job.name}:{record['outcome']}", 1)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("scheduler_record_failed", job=job.name, error=str(exc))
        log.info("scheduler_job_ran", job=job.name, **record["last_outcome"], detail=outcome.detail)

    def records(self) -> dict[str, dict[str, Any]]:
        return read_jobs(self.client)

    # -- thread -----------------------------------------------------------------------------------

    def _keep_lease(self, stop: threading.Event, wait: float) -> None:
        """Renew the lease while leading, also while a long job runs in ``step``."""
        while not stop.wait(wait):
            if not self.leading:
                continue
            try:
                held = self.lease.renew()
            except redis.RedisError:
                held = False
            if not held:
                log.warning("scheduler_lease_lost", **self.lease.who)
                self.leading = False

    def run_until(self, stop: threading.Event) -> None:
        """Step every third of a tick until ``stop`` is set, then give the lease back."""
        wait = max(0.05, self.tick.total_seconds() / 3)
        keeper = threading.Thread(target=self._keep_lease, args=(stop, wait), name="ef-lease", daemon=True)
        keeper.start()
        try:
            while not stop.is_set():
                self.step()
                stop.wait(wait)
        finally:
            keeper.join(wait * 2)
            self.leading = False
            with contextlib.suppress(redis.RedisError):
                self.lease.release()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_until, args=(self._stop,), name="ef-scheduler", daemon=True
        )
        self._thread.start()
        log.info(
            "scheduler_started", tick_seconds=self.tick.total_seconds(), jobs=[j.name for j in self.jobs]
        )

    def stop(self, timeout: timedelta = timedelta(seconds=30)) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout.total_seconds())
        log.info("scheduler_stopped")


def read_jobs(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every job's last record, by job name."""
    return {
        (k.decode() if isinstance(k, bytes) else k): json.loads(v)
        for k, v in client.hgetall(JOBS_KEY).items()
    }


def run_counts(client: redis.Redis) -> dict[tuple[str, str], int]:
    """``(job, outcome) -> runs`` for ``ef_scheduler_runs_total``."""
    counts: dict[tuple[str, str], int] = {}
    for raw, value in client.hgetall(RUNS_KEY).items():
        job, _, outcome = (raw.decode() if isinstance(raw, bytes) else raw).rpartition(":")
        counts[(job, outcome)] = int(value)
    return counts
