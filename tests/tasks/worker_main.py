"""A worker process for the SIGKILL test: ``python -m tests.tasks.worker_main REDIS_URL``.

Its fake training hangs at TRAINING_MODEL on the first attempt (counted in Redis, across
processes) and completes on later ones.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from typing import Any

import redis

from energy_forecast.domain.tasks import ProgressReporter
from energy_forecast.tasks import context
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.worker import start_worker
from tests.tasks.conftest import FAST
from tests.tasks.fakes import STAGES

ATTEMPTS_KEY = "test:attempts"


def main(url: str) -> None:
    counter = redis.Redis.from_url(url)

    def train(store: Any, model_store: Any, *, reporter: ProgressReporter, **kwargs: Any) -> dict[str, Any]:
        attempt = counter.incr(ATTEMPTS_KEY)
        for state in STAGES:
            reporter.stage(state, state.value)
            if attempt == 1 and state.value == "TRAINING_MODEL":
                time.sleep(60)  # killed here
        return {"attempt": attempt, "pid_attempts": attempt}

    context.configure(lambda: None, lambda: None, train=train)
    broker = build_broker(url, **FAST)
    declare_actors(broker)
    start_worker(broker, threads=1, poll_interval=timedelta(milliseconds=100))
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1])
