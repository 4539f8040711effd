"""Per-client token buckets: in Redis (shared by every API process) or in memory (one process).

Each identity (an API key id, or the client address when anonymous) owns a bucket of ``burst``
tokens refilled at ``rate_per_s``; a request takes one token or is refused with the seconds until
one is back. The Redis bucket is one Lua script, so read-refill-take-write is atomic across
processes, and it reads the clock from Redis ``TIME`` so API hosts with skewed clocks agree.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from energy_forecast.logging import get_logger

log = get_logger(__name__)

# KEYS[1] bucket; ARGV rate per second, burst. Returns {allowed, tokens left, seconds until a token}.
# Floats go back as strings: Redis truncates Lua numbers to integers.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(wait)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_s: float

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as ``Retry-After`` requires."""
        return str(max(1, math.ceil(self.retry_after_s)))


class RateLimiter(Protocol):
    """Take one token from ``identity``'s bucket."""

    async def acquire(self, identity: str) -> Decision: ...


class MemoryTokenBucket:
    """The same bucket in this process only: for an app served without Redis (``start_tasks=False``),
    and while Redis is down.

    A bucket untouched for ``burst / rate`` seconds is full again, the same as no bucket, so such
    buckets are dropped (what Redis's ``PEXPIRE`` does there). Dropping them whenever the table
    passes ``max_buckets`` keeps memory bounded under a flood from many addresses; if every bucket
    is still live, the least recently used ones go: a flood then refills some callers early,
    which is the price of a bound.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_buckets: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_buckets = max_buckets
        self._clock = clock
        # identity -> (tokens, last seen); insertion order = least recently used first.
        self._buckets: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    async def acquire(self, identity: str) -> Decision:
        now = self._clock()
        tokens, ts = self._buckets.pop(identity, (float(self.burst), now))
        tokens = min(self.burst, tokens + max(0.0, now - ts) * self.rate_per_s)
        if len(self._buckets) >= self.max_buckets:
            self._prune(now)
        if tokens >= 1:
            self._buckets[identity] = (tokens - 1, now)
            return Decision(True, int(tokens - 1), 0.0)
        self._buckets[identity] = (tokens, now)
        return Decision(False, 0, (1 - tokens) / self.rate_per_s)

    def _prune(self, now: float) -> None:
        """Drop every full bucket, then the least recently used down to three quarters of the bound
        (so the next prune is at least a quarter of the bound away: amortised O(1) per request)."""
        refill_s = self.burst / self.rate_per_s if self.rate_per_s > 0 else float("inf")
        for identity in [i for i, (_, ts) in self._buckets.items() if now - ts >= refill_s]:
            del self._buckets[identity]
        excess = len(self._buckets) - self.max_buckets * 3 // 4
        for identity in list(self._buckets)[: max(0, excess)]:
            del self._buckets[identity]


class RedisTokenBucket:
    """The bucket in Redis, keyed ``ratelimit:{identity}``; per process in memory while Redis is down.

    Refusing requests while Redis is down would turn a queue outage into a full outage (the task
    routes answer 503 anyway), so the limit then falls back to this process's own buckets, and
    Redis is tried again only ``RETRY_AFTER_S`` after a failure: asking it on every request cost each
    one the full connect timeout (~1 s) for the whole outage.
    """

    RETRY_AFTER_S = 2.0

    def __init__(
        self, client: aioredis.Redis, rate_per_s: float, burst: int, prefix: str = "ratelimit:"
    ) -> None:
        self.client = client
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.prefix = prefix
        self._script = client.register_script(TOKEN_BUCKET_LUA)
        self._last_warning = 0.0
        self._fallback = MemoryTokenBucket(rate_per_s, burst)
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, rate_per_s: float, burst: int) -> RedisTokenBucket:
        client = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, rate_per_s, burst)

    async def acquire(self, identity: str) -> Decision:
        if time.monotonic() < self._down_until:
            return await self._fallback.acquire(identity)
        try:
            allowed, tokens, wait = await self._script(
                keys=[self.prefix + identity], args=[self.rate_per_s, self.burst]
            )
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            self._down_until = now + self.RETRY_AFTER_S
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning(
                    "rate_limit_unavailable", error=type(exc).__name__, note="limited per process until back"
                )
            return await self._fallback.acquire(identity)
        return Decision(bool(int(allowed)), int(float(tokens)), float(wait))

    async def aclose(self) -> None:
        await self.client.aclose()
