"""Fair shares of the queue: tasks waiting per API key, and one fleet evaluation per meter type.

Keys (beside the seed's task keys, which are unchanged):

- ``task_owner:{owner}``  sorted set of the task ids an owner (``key:{id}`` or ``ip:{address}``)
  queued, scored by enqueue time (epoch ms); ids of finished or expired tasks are pruned, oldest
  first, when the count reaches the cap, so the common case is one ``ZCARD``.
- ``fleet_evaluation:{scope}``  the batch id of the fleet evaluation of ``scope`` (a meter type,
  or ``all``) started last; a second request while that batch runs gets it back instead of a
  second one. Taken with ``SET NX`` so ten simultaneous requests start one batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

import redis

from energy_forecast.tasks.progress import RedisProgressStore

PRUNE_CHUNK = 500
# How long a claim may exist before its batch record (the claimant is still enqueueing).
CLAIM_GRACE_S = 30.0

# KEYS[1] claim; ARGV new batch id, ttl ms, expected holder ('' = none). Returns the holder kept, or
# false once ARGV[1] holds the claim.
_CLAIM_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[3] then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""


def owner_key(owner: str) -> str:
    return f"task_owner:{owner}"


def claim_key(scope: str) -> str:
    return f"fleet_evaluation:{scope}"


class TaskQuota:
    """Count and record the tasks each owner has waiting or running."""

    def __init__(self, store: RedisProgressStore, retention: timedelta) -> None:
        self.store = store
        self.client: redis.Redis = store.client
        self.ttl_ms = int(retention.total_seconds() * 1000)

    def queued(self, owner: str, cap: int) -> int:
        """How many of ``owner``'s tasks are not finished, exact once it reaches ``cap``."""
        key = owner_key(owner)
        count = int(self.client.zcard(key))
        start = 0
        while count >= cap:
            ids = [_text(t) for t in self.client.zrange(key, start, start + PRUNE_CHUNK - 1)]
            if not ids:
                break
            records = self.store.read_many(ids)
            done = [t for t, r in zip(ids, records, strict=True) if r is None or r.state.terminal]
            if done:
                self.client.zrem(key, *done)
            count -= len(done)
            start += len(ids) - len(done)
        return count

    def add(self, owner: str, task_ids: Iterable[str]) -> None:
        now_ms = int(time.time() * 1000)
        mapping = dict.fromkeys(task_ids, now_ms)
        if not mapping:
            return
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(owner_key(owner), mapping, nx=True)
            pipe.pexpire(owner_key(owner), self.ttl_ms)
            pipe.execute()


class FleetClaims:
    """One running fleet evaluation per scope."""

    def __init__(self, store: RedisProgressStore, retention: timedelta) -> None:
        self.store = store
        self.client: redis.Redis = store.client
        self.ttl_ms = int(retention.total_seconds() * 1000)
        self._script = self.client.register_script(_CLAIM_LUA)

    def claim(self, scope: str, batch_id: str) -> str | None:
        """Take the scope for ``batch_id``; returns the batch id of an evaluation still running
        instead (the caller then answers with it), None once the claim is ``batch_id``'s."""
        expected = ""
        for _ in range(3):
            held = self._script(keys=[claim_key(scope)], args=[batch_id, self.ttl_ms, expected])
            if not held:
                return None
            holder = str(_text(held))
            if self._running(scope, holder):
                return holder
            expected = holder  # finished or abandoned: replace it, unless someone else just did
        return None

    def release(self, scope: str, batch_id: str) -> None:
        """Drop ``batch_id``'s claim (its enqueue failed)."""
        key = claim_key(scope)
        if _text(self.client.get(key)) == batch_id:
            self.client.delete(key)

    def _running(self, scope: str, batch_id: str) -> bool:
        deadline = time.monotonic() + CLAIM_GRACE_S
        task_ids = self.store.read_batch(batch_id)
        while task_ids is None and time.monotonic() < deadline:
            # Claimed by a request that is still enqueueing its tasks: wait for its batch record,
            # unless that request gave up (its claim is gone).
            if _text(self.client.get(claim_key(scope))) != batch_id:
                return False
            time.sleep(0.1)
            task_ids = self.store.read_batch(batch_id)
        if task_ids is None:
            return False
        for first in range(0, len(task_ids), PRUNE_CHUNK):
            records = self.store.read_many(task_ids[first : first + PRUNE_CHUNK])
            if any(r is not None and not r.state.terminal for r in records):
                return True
        return False


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
