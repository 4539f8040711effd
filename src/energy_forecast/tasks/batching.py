"""One Redis round trip for the writes that follow each other on the task path.

Enqueueing a task writes its PENDING record, the queue entry and telemetry; finishing one writes
its result, its final record and telemetry. Each was its own round trip, which made the task
path ~3x bare Dramatiq (``bench/queue_throughput.py``). Inside ``pipelined(client)`` those
writes are queued on one pipeline of this thread and sent together when the block ends, in the
order they were made. Only writes whose reply nobody reads may join it; anything that must see
Redis's answer (a guarded STARTED transition, a cancel check) runs outside such a block.

Lua scripts on a pipeline: redis-py asks ``SCRIPT EXISTS`` before every execute (one more round
trip), so this module remembers which scripts the server has and skips the question; when a
restarted Redis (or another server) has not got them (NOSCRIPT), it loads them and sends again
only the commands that failed, so nothing runs twice (a queue entry sent twice would be a second
delivery). What this process knows is kept per server (connection pool).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.exceptions import NoScriptError

_local = threading.local()
# Per server (connection pool): the script digests this process has seen it run.
_loaded: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


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
    known = _loaded.setdefault(client.connection_pool, set())
    scripts = list(pipe.scripts)
    stack = list(pipe.command_stack)
    if all(s.sha in known for s in scripts):
        pipe.scripts.clear()  # known to this server: skip redis-py's SCRIPT EXISTS round trip
    results = pipe.execute(raise_on_error=False)
    failed = [command for command, r in zip(stack, results, strict=True) if isinstance(r, NoScriptError)]
    if failed:  # a restarted Redis forgot them: load, and send only the commands that did not run
        known.clear()
        for script in scripts:
            client.script_load(script.script)
        with client.pipeline(transaction=False) as again:
            again.command_stack.extend(failed)
            again.execute()
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, NoScriptError):
            raise result
    known.update(s.sha for s in scripts)
