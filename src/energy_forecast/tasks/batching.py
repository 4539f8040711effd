"""One Redis round trip for the writes that follow each other on the task path.

Enqueueing a task writes its PENDING record, the queue entry and telemetry; finishing one writes
its result, its final record and telemetry. Each was its own round trip, which made the task
path ~3x bare Dramatiq (``bench/queue_throughput.py``). Inside ``pipelined(client)`` those
writes are queued on one pipeline of this thread and sent together when the block ends, in the
order they were made. Only writes whose reply nobody reads may join it; anything that must see
Redis's answer (a guarded STARTED transition, a cancel check) runs outside such a block.
``pipelined(client, hold=True)`` does not send at the end of the block: the writes wait for the
next command this thread sends through ``release`` (the worker's ack of the finished message,
``tasks.broker``), which carries them.

Lua scripts on a pipeline: redis-py asks ``SCRIPT EXISTS`` before every execute (one more round
trip), so this module remembers which scripts the server has and skips the question; when a
restarted Redis (or another server) has not got them (NOSCRIPT), it loads them and sends again
only the commands that failed, so nothing runs twice (a queue entry sent twice would be a second
delivery). What this process knows is kept per server (connection pool).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
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
    """The pipeline of the ``pipelined`` block this thread is in (or holds), or None."""
    return getattr(_local, "pipe", None)


def held() -> bool:
    """Whether this thread holds writes of a ``pipelined(..., hold=True)`` block not yet sent."""
    return getattr(_local, "held", False)


@contextmanager
def pipelined(client: redis.Redis, *, hold: bool = False) -> Iterator[Any]:
    """Queue this thread's task-path writes on one pipeline; send it when the block ends.

    Nested blocks join the outer one (or the held pipeline). On an exception inside the block
    nothing is sent. With ``hold`` the writes stay queued after the block until ``release``.
    """
    outer = current_pipeline()
    if outer is not None:
        yield outer
        return
    pipe = client.pipeline(transaction=False)
    _local.pipe = pipe
    try:
        yield pipe
    except BaseException:
        _local.pipe = None
        pipe.reset()
        raise
    if hold:
        _local.held = True
        return
    _local.pipe = None
    try:
        execute(client, pipe)
    finally:
        pipe.reset()


def release(client: redis.Redis, last: Callable[[Any], Any] | None = None) -> Any:
    """Send this thread's held writes with ``last(pipe)`` queued after them; returns its reply.

    The writes are dropped when sending fails (redis-py has retried by then, as for any command).
    """
    pipe = _local.pipe
    _local.pipe, _local.held = None, False
    try:
        if last is not None:
            last(pipe)
        results = execute(client, pipe)
    finally:
        pipe.reset()
    return results[-1] if last is not None and results else None


def execute(client: redis.Redis, pipe: Any) -> list[Any]:
    """Send ``pipe`` (this module's script handling, see above); its replies, in order."""
    known = _loaded.setdefault(client.connection_pool, set())
    scripts = list(pipe.scripts)
    stack = list(pipe.command_stack)
    if all(s.sha in known for s in scripts):
        pipe.scripts.clear()  # known to this server: skip redis-py's SCRIPT EXISTS round trip
    results = pipe.execute(raise_on_error=False)
    failed = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
    if failed:  # a restarted Redis forgot them: load, and send only the commands that did not run
        known.clear()
        for script in scripts:
            client.script_load(script.script)
        with client.pipeline(transaction=False) as again:
            again.command_stack.extend(stack[i] for i in failed)
            for i, result in zip(failed, again.execute(raise_on_error=False), strict=True):
                results[i] = result
    for result in results:
        if isinstance(result, Exception):
            raise result
    known.update(s.sha for s in scripts)
    return list(results)
