"""Throughput of our task path (progress records, results) against bare Dramatiq no-op actors.

    .venv/bin/python bench/queue_throughput.py [--redis-url URL | --embedded [--appendfsync always]]
        [--tasks 20000] [--threads 8] [--stages 0]

Each run flushes the Redis database, enqueues every task, then starts one in-process worker and
waits until the queue is empty. ``--embedded`` runs against the embedded default's own redis-server
(``tasks/embedded.py``, in a temporary directory) instead of ``--redis-url``. Reports enqueue,
processing and end-to-end tasks/s; the goal is our end-to-end time within 2x of bare Dramatiq on
the same Redis. Run it as a module from the repository root: as a script, this file's name would
shadow the standard library's ``queue``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker

from energy_forecast.domain.tasks import ProgressReporter, TaskState
from energy_forecast.tasks import context
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.embedded import DEFAULT_APPENDFSYNC, EmbeddedRedis
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.worker import start_worker, stop_worker

STAGES = [TaskState.CONNECTING, TaskState.FETCHING_DATA, TaskState.VALIDATING_DATA]


def _noop() -> None:
    return None


def _run(broker: dramatiq.Broker, enqueue: Any, tasks: int, threads: int) -> tuple[float, float]:
    started = time.perf_counter()
    for i in range(tasks):
        enqueue(i)
    enqueued = time.perf_counter()
    worker = start_worker(broker, threads=threads, poll_interval=timedelta(milliseconds=100))
    broker.join("default", interval=50)
    done = time.perf_counter()
    stop_worker(worker, timeout=timedelta(seconds=10))
    return enqueued - started, done - enqueued


def bare(url: str, tasks: int, threads: int) -> tuple[float, float]:
    broker = RedisBroker(url=url)
    dramatiq.set_broker(broker)
    actor = dramatiq.actor(_noop, broker=broker, actor_name="bench_noop", max_retries=0)
    try:
        return _run(broker, lambda i: actor.send(), tasks, threads)
    finally:
        broker.close()


def ours(url: str, tasks: int, threads: int, stages: int) -> tuple[float, float]:
    def train(store: Any, model_store: Any, *, reporter: ProgressReporter, **kwargs: Any) -> dict[str, Any]:
        for state in STAGES[:stages]:
            reporter.stage(state, state.value)
        return {"meter_id": kwargs["meter_id"]}

    context.configure(lambda: None, lambda: None, train=train)
    broker = build_broker(url)
    queue = TaskQueue(broker, declare_actors(broker))
    try:
        return _run(broker, lambda i: queue.enqueue_training(f"m{i}", "electricity"), tasks, threads)
    finally:
        broker.close()
        context.reset()


def _compare(url: str, tasks: int, threads: int, stages: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    results = {}
    for name, run in (
        ("bare dramatiq", lambda: bare(url, tasks, threads)),
        ("energy_forecast", lambda: ours(url, tasks, threads, stages)),
    ):
        client.flushdb()
        enqueue_s, process_s = run()
        total = enqueue_s + process_s
        results[name] = total
        print(
            f"{name:16s} enqueue {tasks / enqueue_s:8.0f}/s  process {tasks / process_s:8.0f}/s"
            f"  end-to-end {tasks / total:8.0f}/s  ({total:.1f} s)"
        )
    client.flushdb()
    client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("EF_TEST_REDIS_URL", "redis://127.0.0.1:16379/0")
    )
    parser.add_argument(
        "--embedded", action="store_true", help="use the embedded redis-server (a temporary directory)"
    )
    parser.add_argument("--appendfsync", choices=["always", "everysec"], default=DEFAULT_APPENDFSYNC)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stages", type=int, default=0, help="progress stages each fake task reports (0-3)")
    args = parser.parse_args()
    # Per-task info lines would measure the console, not the queue.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    with ExitStack() as stack:
        url = args.redis_url
        if args.embedded:
            # A short directory: the unix socket path has a length limit.
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ef-bench-")))
            server = EmbeddedRedis(directory / "redis", appendfsync=args.appendfsync)
            url = stack.enter_context(server).url
        results = _compare(url, args.tasks, args.threads, args.stages)
    ratio = results["energy_forecast"] / results["bare dramatiq"]
    print(f"ratio (ours / bare, time) {ratio:.2f}x  goal <= 2x")


if __name__ == "__main__":
    main()
