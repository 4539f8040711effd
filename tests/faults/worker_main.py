"""A real worker process for the SIGKILL fault test: ``python -m tests.faults.worker_main``.

It reads its settings from the environment and boots exactly as an ``energy-forecast worker``
child does (``worker_process_bootstrap``, then ``start_worker``): real stores, real training,
the configured heartbeat timeout. One test hook, for a deterministic kill: with
``EF_TEST_PAUSE_IN_SAVE`` naming a Redis key, the first process in the whole test to fsync a file
of a model bundle being written (inside a ``.tmp-*`` directory) sets that key and sleeps there,
so the test can SIGKILL it with a half-written bundle on disk. The hook wraps ``os.fsync`` in
this child only; no module of the package is replaced.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

import redis

from energy_forecast.bootstrap import worker_process_bootstrap
from energy_forecast.settings import load_settings
from energy_forecast.tasks.worker import start_worker, stop_worker


def _pause_in_first_bundle_write(client: redis.Redis, key: str) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if "/.tmp-" in path and client.set(key, path, nx=True):
            time.sleep(300)  # the test kills us here

    os.fsync = fsync


def main() -> None:
    settings = load_settings()
    pause_key = os.environ.get("EF_TEST_PAUSE_IN_SAVE")
    if pause_key and settings.redis_url:
        _pause_in_first_bundle_write(redis.Redis.from_url(settings.redis_url), pause_key)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    broker = worker_process_bootstrap(settings)
    worker = start_worker(broker, threads=1)
    try:
        stop.wait()
    finally:
        stop_worker(worker)
        broker.close()


if __name__ == "__main__":
    main()
