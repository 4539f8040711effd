"""``reclaim_dead_workers``: a dead run's fetched messages go back to the queue at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker, reclaim_dead_workers
from energy_forecast.tasks.queue import TaskQueue

pytestmark = pytest.mark.integration

# Dramatiq's own limits: a dead worker is noticed after a minute, maintenance on 0.1 % of commands.
SLOW = {"heartbeat_timeout": timedelta(minutes=1), "maintenance_chance": 1000, "set_global": False}


def test_messages_fetched_by_a_dead_broker_are_requeued_without_waiting_for_its_heartbeat(
    redis_url: str,
) -> None:
    dead = build_broker(redis_url, **SLOW)
    queue = TaskQueue(dead, declare_actors(dead))
    task_id = queue.enqueue_training("m1", "electricity")
    consumer = dead.consume("default", prefetch=1, timeout=100)
    fetched = next(m for m in consumer if m is not None)  # in the dead broker's acks, unacked
    survivor = build_broker(redis_url, **SLOW)
    declare_actors(survivor)
    try:
        requeued = reclaim_dead_workers(survivor)
        waiting = survivor.client.lrange("dramatiq:default", 0, -1)
        heartbeats = survivor.client.zrange("dramatiq:__heartbeats__", 0, -1)
    finally:
        survivor.close()
        dead.close()

    assert fetched.message_id == task_id
    assert requeued == 1
    assert waiting == [fetched.options["redis_message_id"].encode()]
    assert dead.broker_id.encode() not in heartbeats


def test_brokers_named_alive_keep_their_messages(redis_url: str) -> None:
    other = build_broker(redis_url, **SLOW)
    TaskQueue(other, declare_actors(other)).enqueue_training("m1", "electricity")
    next(m for m in other.consume("default", prefetch=1, timeout=100) if m is not None)
    survivor = build_broker(redis_url, **SLOW)
    try:
        requeued = reclaim_dead_workers(survivor, alive=frozenset({other.broker_id}))
        waiting = survivor.client.llen("dramatiq:default")
    finally:
        survivor.close()
        other.close()

    assert requeued == 0
    assert waiting == 0
