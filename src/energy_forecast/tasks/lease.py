"""A leader lease in Redis: however many schedulers run, the one holding the lease acts.

The lease is one key holding the holder's identity, set with ``NX`` and a time to live. The
holder renews it (a compare-and-extend script) several times per TTL; when the holder dies the
key expires and the next process to try takes it. With the TTL equal to the scheduler tick and
tries every third of a tick, a dead leader is replaced within about 1.3 ticks.

A paused holder can outlive its lease and act once more while a new leader acts too; the work
the scheduler enqueues is safe to repeat (trainings are guarded per meter, publications upsert).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

import redis

from energy_forecast.domain.tasks import utc_now

LEASE_KEY = "ef_scheduler:leader"

_ACQUIRE = """
-- KEYS: lease; ARGV: identity, ttl_ms
local cur = redis.call("GET", KEYS[1])
if cur == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0
"""

_RENEW = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0
"""

_RELEASE = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
"""


def identity() -> dict[str, Any]:
    """Who this process is, as shown by ``GET /schedule/``."""
    return {
        "id": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": utc_now().isoformat(),
    }


class LeaderLease:
    """Take, keep and give back the lease for one process."""

    def __init__(self, client: redis.Redis, ttl: timedelta, who: dict[str, Any] | None = None) -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl.total_seconds() * 1000))
        self.who = who or identity()
        self._value = json.dumps(self.who, sort_keys=True)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take the lease if it is free, extend it if it is ours; True when we hold it now."""
        return bool(self._acquire(keys=[LEASE_KEY], args=[self._value, self.ttl_ms]))

    def renew(self) -> bool:
        """Extend the lease only if we hold it (never takes it); False when it was lost."""
        return bool(self._renew(keys=[LEASE_KEY], args=[self._value, self.ttl_ms]))

    def release(self) -> None:
        """Give the lease back at once (a clean stop), so another scheduler need not wait for the TTL."""
        self._release(keys=[LEASE_KEY], args=[self._value])


def read_leader(client: redis.Redis) -> dict[str, Any] | None:
    """The current holder's identity plus ``lease_ms_left``, or None when nobody holds it."""
    with client.pipeline(transaction=False) as pipe:
        pipe.get(LEASE_KEY)
        pipe.pttl(LEASE_KEY)
        raw, ttl = pipe.execute()
    if raw is None:
        return None
    return {**json.loads(raw), "lease_ms_left": max(0, int(ttl))}
