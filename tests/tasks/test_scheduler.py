"""The scheduler on a real Redis: the lease, job records, and what the train job enqueues and why."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.settings import ScheduleSettings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.lease import LeaderLease, read_leader
from energy_forecast.tasks.publications import PublicationIndex
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.schedule_jobs import ScheduleJobs, describe_schedule
from energy_forecast.tasks.scheduler import Job, JobOutcome, Scheduler, run_counts
from tests.conftest import hourly_series
from tests.tasks.conftest import FAST

pytestmark = pytest.mark.integration
E = MeterType.ELECTRICITY


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def test_one_lease_holder_at_a_time_and_the_next_takes_over_when_it_expires(client: redis.Redis) -> None:
    first = LeaderLease(client, timedelta(milliseconds=300))
    second = LeaderLease(client, timedelta(milliseconds=300))

    assert first.hold() and not second.hold()
    assert first.hold()  # renewing is holding
    leader = read_leader(client)
    assert leader is not None and leader["id"] == first.who["id"]
    first.release()
    assert second.hold() and not first.hold()
    client.pexpire("ef_scheduler:leader", 1)  # as if the holder died: the lease runs out
    time.sleep(0.05)
    assert first.hold()


def test_only_the_leader_runs_due_jobs_and_each_job_once_per_interval(client: redis.Redis) -> None:
    runs: list[str] = []
    now = [1_000.0]

    def job(name: str) -> Job:
        return Job(name, timedelta(seconds=10), lambda: runs.append(name) or JobOutcome(enqueued=1))

    leader = Scheduler(client, [job("a"), job("b")], tick=timedelta(seconds=5), clock=lambda: now[0])
    follower = Scheduler(client, [job("a"), job("b")], tick=timedelta(seconds=5), clock=lambda: now[0])

    assert leader.step() and not follower.step()
    now[0] += 5
    leader.step()
    now[0] += 5
    leader.step()

    assert runs == ["a", "b", "a", "b"]
    assert run_counts(client) == {("a", "success"): 2, ("b", "success"): 2}


def test_a_failing_job_is_recorded_and_the_others_still_run(client: redis.Redis) -> None:
    def broken() -> JobOutcome:
        raise RuntimeError("store unreachable")

    jobs = [
        Job("bad", timedelta(seconds=1), broken),
        Job("good", timedelta(seconds=1), lambda: JobOutcome(2)),
    ]
    Scheduler(client, jobs, tick=timedelta(seconds=1)).step()

    records = {k.decode(): json.loads(v) for k, v in client.hgetall("ef_scheduler:jobs").items()}
    assert records["bad"]["outcome"] == "failure" and "store unreachable" in records["bad"]["error"]
    assert records["good"]["last_outcome"] == {"enqueued": 2, "skipped": 0, "failed": 0}


@pytest.fixture
def jobs(redis_url: str, tmp_path: Path) -> Iterator[tuple[ScheduleJobs, DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    models = FileModelStore(tmp_path / "models")
    readings = hourly_series("2024-01-01", hours=24 * 10)
    store.upsert_meters([Meter(f"m{i}", E, "s1") for i in range(3)])
    for i in range(3):
        store.write_readings(E, f"m{i}", readings)
    broker = build_broker(redis_url, **FAST)
    queue = TaskQueue(broker, declare_actors(broker))
    schedule = ScheduleSettings(tick=timedelta(seconds=1), model_max_age=timedelta(hours=1))
    yield ScheduleJobs(store, models, queue, schedule, task_retention=timedelta(days=1)), store, models
    broker.close()
    store.close()


def _save(models: FileModelStore, meter_id: str, saved_at: datetime) -> None:
    version = models.save(E, meter_id, {"model.ubj": b"x"}, {"metrics": {"cv_rmse_percent": 10.0}})
    bundle = (
        models.meter_dir(E, meter_id) / f"v{version.version:04d}" / "bundle.json"
    )  # back-date: age reads saved_at
    bundle.write_text(json.dumps({**version.metadata, "saved_at": saved_at.isoformat()}))


def test_the_train_job_enqueues_meters_without_a_model_once(jobs: tuple[ScheduleJobs, ...]) -> None:
    schedule_jobs, _, models = jobs
    _save(models, "m0", datetime.now(UTC))

    first = schedule_jobs.train()
    second = schedule_jobs.train()

    assert (first.enqueued, first.skipped) == (2, 0) and "2 no_model" in first.detail
    assert (second.enqueued, second.skipped) == (0, 2)  # still queued: never twice
    assert first.extra["meters_without_model"] == 2


def test_the_train_job_retrains_a_model_past_its_maximum_age(jobs: tuple[ScheduleJobs, ...]) -> None:
    schedule_jobs, _, models = jobs
    for meter_id in ("m0", "m1", "m2"):
        _save(
            models, meter_id, datetime.now(UTC) - (timedelta(hours=2) if meter_id == "m1" else timedelta(0))
        )

    outcome = schedule_jobs.train()

    assert outcome.enqueued == 1 and outcome.detail == "1 max_age"
    assert outcome.extra["models_stale"] == 1


def test_the_global_job_trains_each_types_global_member_when_missing_or_old(
    jobs: tuple[ScheduleJobs, ...],
) -> None:
    schedule_jobs, _, models = jobs
    assert "global" in {job.name for job in schedule_jobs.jobs()}

    first = schedule_jobs.train_global()
    again = schedule_jobs.train_global()
    assert (first.enqueued, again.enqueued, again.skipped) == (1, 0, 1)  # electricity only: no water meters

    _save(models, FLEET_MODEL_ID, datetime.now(UTC))
    fresh = schedule_jobs.train_global()
    assert (fresh.enqueued, fresh.skipped) == (0, 1)


def test_a_meter_weighted_before_its_global_member_existed_is_retrained(
    jobs: tuple[ScheduleJobs, ...],
) -> None:
    schedule_jobs, _, models = jobs
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    for meter_id in ("m0", "m1", "m2"):
        version = models.save(E, meter_id, {"model.ubj": b"x"}, {"blend": {"fleet_version": None}})
        bundle = models.meter_dir(E, meter_id) / f"v{version.version:04d}" / "bundle.json"
        blend = {"fleet_version": 1 if meter_id == "m2" else None}
        bundle.write_text(json.dumps({**version.metadata, "blend": blend, "saved_at": earlier.isoformat()}))
    _save(models, FLEET_MODEL_ID, datetime.now(UTC))
    info = models.get_version(E, FLEET_MODEL_ID)
    bundle = models.meter_dir(E, FLEET_MODEL_ID) / f"v{info.version:04d}" / "bundle.json"
    bundle.write_text(json.dumps({**json.loads(bundle.read_text()), "kind": "fleet"}))

    outcome = schedule_jobs.train()

    assert outcome.enqueued == 2 and outcome.detail == "2 ensemble"


def test_drift_of_the_active_model_triggers_a_retrain(
    jobs: tuple[ScheduleJobs, ...], client: redis.Redis
) -> None:
    schedule_jobs, _, models = jobs
    for meter_id in ("m0", "m1", "m2"):
        _save(models, meter_id, datetime.now(UTC) - timedelta(minutes=5))
    index = PublicationIndex(client)
    issued = datetime.now(UTC).isoformat()
    index.record(
        [
            {"meter_id": "m0", "meter_type": "electricity", "issued_at": issued, "model_version": "v1",
             "live_cv_rmse_percent": 16.0, "holdout_cv_rmse_percent": 10.0, "error": None},
            {"meter_id": "m2", "meter_type": "electricity", "issued_at": issued, "model_version": "v1",
             "live_cv_rmse_percent": 14.0, "holdout_cv_rmse_percent": 10.0, "error": None},
        ]
    )  # fmt: skip

    outcome = schedule_jobs.train()

    assert outcome.enqueued == 1 and outcome.detail == "1 drift"  # m0 at 1.6x; m2 at 1.4x is under 1.5
    assert outcome.extra["meters_drifted"] == 1


def test_the_forecast_job_waits_for_its_previous_batch(
    jobs: tuple[ScheduleJobs, ...], client: redis.Redis
) -> None:
    schedule_jobs, _, models = jobs
    _save(models, "m0", datetime.now(UTC))
    scheduler = Scheduler(client, schedule_jobs.jobs()[1:2], tick=timedelta(seconds=1))

    scheduler.step()
    client.hset(
        "ef_scheduler:jobs",
        "forecast",
        json.dumps({**json.loads(client.hget("ef_scheduler:jobs", "forecast")), "next_run_epoch": 0}),
    )
    scheduler.step()

    view = describe_schedule(client, schedule_jobs.schedule)
    forecast = next(j for j in view["jobs"] if j["name"] == "forecast")
    assert forecast["last_outcome"] == {"enqueued": 0, "skipped": 1, "failed": 0}  # no worker ran the first
    assert "still running" in forecast["detail"]
    assert view["leader"]["pid"] == scheduler.lease.who["pid"]


def test_published_forecasts_that_readings_then_contradict_trigger_a_drift_retrain(
    jobs: tuple[ScheduleJobs, ...], client: redis.Redis
) -> None:
    from energy_forecast.services.publication import publish_chunk
    from energy_forecast.services.training import train_meter

    schedule_jobs, store, models = jobs
    for meter_id in ("m0", "m1", "m2"):
        _save(models, meter_id, datetime.now(UTC))  # fresh models: nothing due
    readings = hourly_series("2024-01-11", hours=24 * 30, seed=4)
    store.write_readings(E, "m0", readings.iloc[: 24 * 28])
    train_meter(store, models, meter_id="m0", meter_type=E, fit_threads=1, force=True)  # v2 is real
    index = PublicationIndex(client)
    index.record(r.to_dict() for r in publish_chunk(store, models, [("m0", E)], days=2))
    assert schedule_jobs.train().enqueued == 0
    # The two published days arrive twice as high as forecast; the next publication scores them.
    store.write_readings(E, "m0", readings.iloc[24 * 28 :] * 2.0)
    index.record(r.to_dict() for r in publish_chunk(store, models, [("m0", E)], days=1))

    outcome = schedule_jobs.train()

    assert outcome.enqueued == 1 and outcome.detail == "1 drift"
    record = index.latest(E, "m0")
    assert record is not None and record["live_cv_rmse_percent"] > 1.5 * record["holdout_cv_rmse_percent"]


def test_retention_prunes_task_indexes_whose_records_expired_and_publications_without_a_model(
    client: redis.Redis,
) -> None:
    from energy_forecast.tasks.housekeeping import prune_publications, prune_task_indexes

    now_ms = int(time.time() * 1000)
    client.zadd("task_recent", {"old": now_ms - 3 * 86_400_000, "gone": now_ms, "kept": now_ms})
    client.zadd("task_active", {"gone": now_ms, "kept": now_ms})
    client.set("task_progress:kept", "{}")
    client.set("task_progress:old", "{}")
    index = PublicationIndex(client)
    issued = datetime.now(UTC).isoformat()
    index.record(
        {"meter_id": m, "meter_type": "electricity", "issued_at": issued, "error": None} for m in ("a", "b")
    )

    removed = prune_task_indexes(client, timedelta(days=1))
    forgotten = prune_publications(client, {(E, "a")})

    assert removed == 3  # "old" by age, "gone" from both indexes (record expired)
    assert [m.decode() for m in client.zrange("task_recent", 0, -1)] == ["kept"]
    assert [m.decode() for m in client.zrange("task_active", 0, -1)] == ["kept"]
    assert forgotten == 1 and index.latest(E, "b") is None and index.latest(E, "a") is not None


def test_a_job_longer_than_the_lease_does_not_let_another_scheduler_take_over(client: redis.Redis) -> None:
    tick = timedelta(milliseconds=300)
    started, release = threading.Event(), threading.Event()

    def long_job() -> JobOutcome:
        started.set()
        release.wait(5)
        return JobOutcome()

    leader = Scheduler(client, [Job("long", timedelta(hours=1), long_job)], tick=tick)
    contender = LeaderLease(client, tick)
    stop = threading.Event()
    thread = threading.Thread(target=leader.run_until, args=(stop,))
    thread.start()
    try:
        assert started.wait(5)
        taken = []
        for _ in range(10):  # over three lease lifetimes while the job runs
            taken.append(contender.hold())
            time.sleep(0.1)
    finally:
        release.set()
        stop.set()
        thread.join(5)

    assert not any(taken)
    assert contender.hold()  # released on stop
