"""Task results under the seed's ``dramatiq-result:{task_id}`` (task id == message id)."""

from __future__ import annotations

from typing import Any

import redis
from dramatiq.results.backends.redis import RedisBackend

from energy_forecast.tasks.batching import current_pipeline, run_script

RESULT_NAMESPACE = "dramatiq-result"

# RedisBackend._store's three commands (a one-element list, so ``get_result(block=True)`` can
# BLPOP it) as one call on the task-path pipeline.
_STORE = """
redis.call("DEL", KEYS[1])
redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("PEXPIRE", KEYS[1], ARGV[2])
"""


class TaskResultBackend(RedisBackend):
    """Dramatiq's Redis result backend keyed by message id.

    A skipped duplicate delivery stores ``None``; that must not replace the real result.
    """

    def __init__(self, *, client: redis.Redis, namespace: str = RESULT_NAMESPACE) -> None:
        super().__init__(client=client, namespace=namespace)
        self._store_script = client.register_script(_STORE)

    def build_message_key(self, message: Any) -> str:
        return f"{self.namespace}:{message.message_id}"

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        if result is None and self.client.exists(message_key):
            return
        pipe = current_pipeline()
        if pipe is None:
            super()._store(message_key, result, ttl)
            return
        run_script(self._store_script, [message_key], [self.encoder.encode(result), ttl], pipe)
