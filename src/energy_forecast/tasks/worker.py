"""Run Dramatiq workers in-process (API in embedded mode) or as supervised processes (CLI).

``start_worker`` returns a running ``dramatiq.Worker`` whose threads share this process; the API's
lifespan starts one after building the broker and stops it on shutdown. ``run_worker_processes``
is what ``energy-forecast worker --processes N --threads M`` calls: each child process runs the
given ``bootstrap`` (build broker, declare actors, configure the worker context and logging) and
then a worker; the parent restarts children that die and forwards SIGTERM/SIGINT.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from types import FrameType

import dramatiq
import structlog

log = structlog.get_logger(__name__)

Bootstrap = Callable[[], dramatiq.Broker]


def start_worker(
    broker: dramatiq.Broker,
    *,
    threads: int,
    queues: Iterable[str] | None = None,
    poll_interval: timedelta = timedelta(seconds=1),
) -> dramatiq.Worker:
    """Start consumer and worker threads for ``broker``'s queues; returns the running worker.

    ``poll_interval`` is how long an idle consumer waits between fetches and how quickly the
    worker notices ``stop``.
    """
    _boot_process(broker)
    worker = dramatiq.Worker(
        broker,
        queues=set(queues) if queues is not None else None,
        worker_threads=threads,
        worker_timeout=int(poll_interval.total_seconds() * 1000),
    )
    worker.start()
    log.info("worker_started", threads=threads, queues=sorted(queues) if queues is not None else "all")
    return worker


def _boot_process(broker: dramatiq.Broker) -> None:
    # dramatiq's CLI emits process_boot; TimeLimit starts its watchdog thread there, so without this
    # an in-process worker would silently run actors with no time limit. Once per broker.
    if not getattr(broker, "_ef_process_booted", False):
        broker.emit_after("process_boot")
        broker._ef_process_booted = True  # type: ignore[attr-defined]


def stop_worker(worker: dramatiq.Worker, *, timeout: timedelta = timedelta(seconds=30)) -> None:
    """Stop taking messages, let running ones finish within ``timeout``, requeue the prefetched."""
    worker.stop(timeout=int(timeout.total_seconds() * 1000))
    log.info("worker_stopped")


def _child_main(bootstrap: Bootstrap, threads: int, parent: int, queues: list[str] | None = None) -> None:
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    broker = bootstrap()
    worker = start_worker(broker, threads=threads, queues=queues)
    try:
        # A SIGKILLed ``worker`` command cannot stop its children; an orphan would go on taking
        # tasks with a configuration its operator believes gone. Reparenting shows the loss (the
        # parent's pid comes from the parent: it may die before this child has started).
        while not stop.wait(1.0):
            if os.getppid() != parent:
                log.warning("worker_parent_died", parent_pid=parent)
                break
    finally:
        stop_worker(worker)
        broker.close()


def run_worker_processes(
    bootstrap: Bootstrap,
    *,
    processes: int,
    threads: int,
    queues: list[str] | None = None,
    restart_delay: timedelta = timedelta(seconds=2),
) -> int:
    """Run ``processes`` worker processes until SIGTERM/SIGINT; returns an exit code.

    ``bootstrap`` must be picklable (a module-level function or a ``functools.partial`` of one
    with picklable arguments such as Settings): children are spawned, not forked, so no Redis
    connection or thread is inherited. ``queues``: the Dramatiq queues served (None: every one).
    """
    if processes < 1 or threads < 1:
        raise ValueError("processes and threads must be at least 1")
    ctx = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    children: list[multiprocessing.process.BaseProcess] = []
    try:
        for _ in range(processes):
            child = ctx.Process(
                target=_child_main, args=(bootstrap, threads, os.getpid(), queues), daemon=False
            )
            child.start()
            children.append(child)
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if not child.is_alive():
                    log.warning("worker_process_died", pid=child.pid, exitcode=child.exitcode)
                    time.sleep(restart_delay.total_seconds())
                    children[i] = ctx.Process(
                        target=_child_main, args=(bootstrap, threads, os.getpid(), queues), daemon=False
                    )
                    children[i].start()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: the child stops its worker gracefully
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
