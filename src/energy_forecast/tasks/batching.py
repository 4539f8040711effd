"""One Redis round trip for the writes that follow each other on the task path.

Enqueueing a task writes its PENDING record, the queue entry and telemetry; finishing one writes
its result, its final record and telemetry. Each was its own round trip, which made the task
path ~3x bare Dramatiq (``bench/queue_throughput.py``). Inside ``pipelined(client)`` those
writes are queued on one pipeline of this thread and sent together when the block ends, in the
order they were made. Only writes whose reply nobody reads may join it; anything that must see
Redis's answer (a guarded STARTED transition, a cancel check) runs outside such a block.

Lua scripts on a pipeline: redis-py asks ``SCRIPT EXISTS`` before every execute (one more round
trip), so this module remembers which scripts the server has and skips the question; when a
restarted Redis has forgotten them (NOSCRIPT), it loads them and sends the pipeline again. The
replay repeats only writes that are safe twice: guarded transitions and the queue entry failed
the first time, and the rest are sets, list heads and telemetry counters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

_local = threading.local()
_loaded: set[str] = set()  # script digests this process has seen the server run


def run_script(script: Any, keys: list[Any], args: list[Any], client: Any) -> Any:
    """A registered Lua script on ``client`` (a client or a pipeline)."""
    return script(keys=keys, args=args, client=client)


def current_pipeline() -> Any | None:
    """The pipeline of the ``pipelined`` block this thread is in, or None."""
    return getattr(_local, "pipe", None)


@contextmanager
def pipelined(client: redis.Redis) -> Iterator[Any]:
    """Queue this thread's task-path writes on one pipeline; send it when the block ends.

    Nested blocks join the outer one. On an exception inside the block nothing is sent.
    """
    outer = current_pipeline()
    if outer is not None:
        yield outer
        return
    pipe = client.pipeline(transaction=False)
    _local.pipe = pipe
    try:
        yield pipe
        _local.pipe = None
        _execute(client, pipe)
    finally:
        _local.pipe = None
        pipe.reset()


def _execute(client: redis.Redis, pipe: Any) -> None:
    scripts = list(pipe.scripts)
    stack = list(pipe.command_stack)
    if all(s.sha in _loaded for s in scripts):
        pipe.scripts.clear()  # known to the server: skip redis-py's SCRIPT EXISTS round trip
    try:
        pipe.execute()
    except redis.exceptions.NoScriptError:
        _loaded.clear()
        for script in scripts:
            client.script_load(script.script)
        with client.pipeline(transaction=False) as again:
            again.command_stack.extend(stack)
            again.execute()
    _loaded.update(s.sha for s in scripts)
