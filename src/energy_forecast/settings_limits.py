"""Capacity limits of the API (``EF_LIMITS__*``): streams, queued work per key, compute routes.

Kept apart from ``settings.py`` so the limits and their reasons read as one page; the reference
is ``docs/reference/limits-and-scopes.md``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_settings import NoDecode

from energy_forecast.domain.queues import parse_queues


def parse_quantile_levels(value: Any) -> tuple[float, ...]:
    """``EF_FORECAST_QUANTILES``: levels strictly between 0 and 1, comma-separated or a list."""
    from energy_forecast.ml.quantiles import parse_levels  # numpy only when settings are built

    try:
        return parse_levels(value if isinstance(value, str) else [str(v) for v in value])
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"EF_FORECAST_QUANTILES={value!r}: {exc}; give levels strictly between 0 and 1 separated "
            "by commas, e.g. EF_FORECAST_QUANTILES=0.1,0.5,0.9"
        ) from None


QuantileLevels = Annotated[tuple[float, ...], NoDecode, BeforeValidator(parse_quantile_levels)]

# ``EF_WORKER_QUEUES``: task kinds or queue names, comma-separated or a JSON list; unset = every queue.
WorkerQueues = Annotated[list[str] | None, NoDecode, BeforeValidator(parse_queues)]


class LimitSettings(BaseModel):
    """Per-process and per-key caps; beyond each one the API answers 429 with ``Retry-After``."""

    # Open training streams (Server-Sent Events) per API key (or per client address when
    # anonymous), and in all, per API process. A browser keeps at most 6 connections per origin.
    streams_per_key: int = Field(default=10, ge=1, le=10_000)
    # Open training streams in all, per API process; beyond it 429 with Retry-After.
    max_streams: int = Field(default=100, ge=1, le=10_000)
    # Tasks one key may have waiting or running; a request that finds the key at the cap is
    # refused (one request below the cap may still queue a whole batch).
    queued_tasks_per_key: int = Field(default=1_000, ge=1, le=10_000_000)
    # Requests that fit models on the request's thread (/test_model/, /backtest/) at once, per process.
    compute_concurrency: int = Field(default=2, ge=1, le=64)
    # /backtest/: days x horizon_hours, i.e. the records an answer holds (~150 bytes each).
    backtest_max_points: int = Field(default=8_760, ge=24, le=1_000_000)
    # Connections of the API's Redis pool for task routes; a request waits up to
    # redis_wait_s for one instead of failing at once. Streams use a pool of their own.
    redis_connections: int = Field(default=40, ge=2, le=10_000)
    # Seconds a task-route request waits for a free connection of that pool before failing.
    redis_wait_s: float = Field(default=5.0, gt=0, le=60)
