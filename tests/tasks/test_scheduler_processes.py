"""Two ``energy-forecast scheduler`` processes on one Redis: one acts; SIGKILL it and the other does.

No worker runs, so every training the schedulers enqueue stays queued: the queue then shows
whether any meter was ever enqueued twice, across the change of leader.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dramatiq import Message

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.fleet_model import FLEET_MODEL_ID
from energy_forecast.storage.influx_store import InfluxSeriesStore
from energy_forecast.tasks.lease import read_leader
from tests.conftest import hourly_series

pytestmark = pytest.mark.integration
TICK_S = 2.0
METERS = [f"m{i}" for i in range(4)]


@pytest.fixture
def env(redis_url: str, influx_url: str, influx_database: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    store = InfluxSeriesStore(influx_url, influx_database)
    store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in METERS[:2]])
    readings = hourly_series("2024-01-01", hours=48)
    for meter_id in METERS[:2]:
        store.write_readings(MeterType.ELECTRICITY, meter_id, readings)
    yield {
        **os.environ,
        "EF_HOME": str(tmp_path / "home"),
        "REDIS_URL": redis_url,
        "INFLUX_URL": influx_url,
        "INFLUX_BUCKET": influx_database,
        "EF_SCHEDULE__ENABLED": "true",
        "EF_SCHEDULE__TICK": f"PT{TICK_S:g}S",
        "EF_SCHEDULE__FORECAST_EVERY": "PT1H",
    }
    store.close()
    client.flushdb()
    client.close()


def _queued_trainings(client: redis.Redis) -> list[str]:
    raw = client.hvals("dramatiq:default.msgs")
    messages = [Message.decode(m) for m in raw]
    # Meters only: the scheduler's global job queues each type's global ensemble member beside them.
    meters = (m.kwargs["meter_id"] for m in messages if m.actor_name == "train_meter_task")
    return sorted(meter_id for meter_id in meters if meter_id != FLEET_MODEL_ID)


def _wait(condition: object, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.05)
    return None


def test_one_scheduler_acts_and_another_takes_over_within_two_ticks_without_duplicates(
    env: dict[str, str], redis_url: str, influx_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    logs = [(tmp_path / f"scheduler{i}.log").open("wb") for i in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "energy_forecast", "scheduler"], env=env, stdout=log, stderr=log
        )
        for log in logs
    ]
    try:
        leader = _wait(lambda: read_leader(client), timeout=60)
        assert leader is not None, (tmp_path / "scheduler0.log").read_text()
        assert _wait(lambda: _queued_trainings(client) == ["m0", "m1"], timeout=30)
        first_pid = leader["pid"]  # type: ignore[index]
        assert first_pid in {p.pid for p in processes}
        # New meters arrive; then the leader dies without releasing its lease.
        store = InfluxSeriesStore(influx_url, env["INFLUX_BUCKET"])
        store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in METERS])
        for meter_id in METERS[2:]:
            store.write_readings(MeterType.ELECTRICITY, meter_id, hourly_series("2024-01-01", hours=48))
        store.close()
        os.kill(first_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def taken_over() -> object:
            now = read_leader(client)
            return now if now is not None and now["pid"] != first_pid else None

        successor = _wait(taken_over, timeout=2 * TICK_S)
        took = time.monotonic() - killed_at
        assert successor is not None, f"no take-over within two ticks ({2 * TICK_S} s)"
        assert _wait(lambda: _queued_trainings(client) == METERS, timeout=3 * TICK_S), _queued_trainings(
            client
        )
        time.sleep(2 * TICK_S)  # more ticks of the new leader: still one task per meter
        assert _queued_trainings(client) == METERS
        assert took <= 2 * TICK_S
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        client.close()
