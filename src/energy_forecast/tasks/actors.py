"""Actors: take ids and JSON primitives, call one service function, return a small result.

Actors are declared against a broker built at run time (``declare_actors(broker)``) rather than
with ``@dramatiq.actor`` at import, which would bind them to whatever global broker exists when
the module is imported. Every actor has an explicit time limit and lists the domain errors that
are not worth retrying in ``throws=``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
import pandas as pd
from dramatiq.middleware import SkipMessage, TimeLimitExceeded

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.domain.queues import QUEUE_PRIORITY, TaskKind, queue_for
from energy_forecast.domain.tasks import TaskCancelled
from energy_forecast.errors import (
    ConfigurationError,
    ConflictError,
    DataQualityError,
    InputDataError,
    InvalidIdentifierError,
    NotFoundError,
    TrainingError,
)
from energy_forecast.ml.quantiles import DEFAULT_LEVELS
from energy_forecast.services.forecasting import ModelCache
from energy_forecast.services.group_publication import publish_groups
from energy_forecast.services.publication import publish_chunk
from energy_forecast.services.retention import apply_retention
from energy_forecast.tasks.context import get_context
from energy_forecast.tasks.housekeeping import prune_publications, prune_task_indexes
from energy_forecast.tasks.middleware import current_reporter
from energy_forecast.tasks.publications import PublicationIndex

TRAIN_ACTOR = "train_meter_task"
EVALUATE_ACTOR = "evaluate_meter_task"
PUBLISH_ACTOR = "publish_forecasts_task"
RETENTION_ACTOR = "retention_task"
QUEUE = queue_for(TaskKind.TRAINING)  # the seed's "default"

# Deterministic failures: a retry would fail the same way (or, for time and memory, burn as much).
NOT_RETRIED: tuple[type[BaseException], ...] = (
    DataQualityError,  # NoDataFoundError, InsufficientDataError, FlatlineError
    InvalidIdentifierError,
    InputDataError,
    NotFoundError,
    ConflictError,
    ConfigurationError,
    TrainingError,
    TimeLimitExceeded,
    MemoryError,
)


def _timestamp(value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def train_meter_task(
    meter_id: str, meter_type: str, start: str | None = None, end: str | None = None, force: bool = False
) -> dict[str, Any]:
    """Train one meter's model; the task id is the message id (see ProgressMiddleware).

    ``force`` makes the new version active even if the champion/challenger rule rejects it.
    """
    context = get_context()
    store, model_store = context.stores()
    extra = {"force": True} if force else {}  # injected training fakes need not know the option
    try:
        details = context.train(
            store,
            model_store,
            meter_id=validate_meter_id(meter_id),
            meter_type=MeterType(meter_type),
            start=_timestamp(start),
            end=_timestamp(end),
            reporter=current_reporter(),
            **extra,
        )
    except TaskCancelled as exc:
        raise SkipMessage(str(exc)) from None
    message = "Model trained successfully"
    if details.get("status") == "rejected":
        message = "Model trained but rejected: the active model stays (see details.acceptance)"
    return {"status": "success", "message": message, "details": details}


def evaluate_meter_task(
    meter_id: str, meter_type: str, version: int | None, test_size: float
) -> dict[str, Any]:
    """One meter's row of the fleet test (``/test_model/all_models/``): a chronological split fit."""
    context = get_context()
    store, model_store = context.stores()
    row = context.evaluate(
        store,
        meter_id=validate_meter_id(meter_id),
        meter_type=MeterType(meter_type),
        version=version,
        test_size=test_size,
        model_store=model_store,
    )
    return {"status": "success", "message": "Model evaluated", "details": row}


def publisher(index: PublicationIndex, cache: ModelCache) -> Callable[..., dict[str, Any]]:
    """The publication actor's function, bound to the broker's Redis (where the index lives)."""

    def publish_forecasts_task(
        meters: list[list[str]], days: int = 7, groups: bool = False
    ) -> dict[str, Any]:
        """Publish forecasts for a chunk of ``[meter_id, meter_type]`` pairs (and, with ``groups``,
        every group's total) and index them."""
        store, model_store = get_context().stores()
        chunk = [(validate_meter_id(m), MeterType(t)) for m, t in meters]
        published = publish_chunk(store, model_store, chunk, days=days, cache=cache)
        totals = publish_groups(store, model_store, days=days, cache=cache) if groups else []
        results = [r.to_dict() for r in [*published, *totals]]
        index.record(results)
        failed = {r["meter_id"]: r["error"] for r in results if r["error"]}
        details = {
            "kind": "publication",
            "meters": len(published),
            "groups": len(totals),
            "published": len(results) - len(failed),
            "failed": len(failed),
            "errors": dict(list(failed.items())[:10]),
        }
        message = f"published forecasts of {details['published']} of {len(results)} meters"
        if totals:
            message += f" and groups ({len(totals)} groups)"
        return {"status": "success", "message": message, "details": details}

    return publish_forecasts_task


def housekeeper(index: PublicationIndex) -> Callable[..., dict[str, Any]]:
    """The retention actor's function, bound to the broker's Redis (task and publication indexes)."""

    def retention_task(
        forecast_retention_s: float, keep_versions: int, task_retention_s: float
    ) -> dict[str, Any]:
        """Drop old forecast points, model versions past the keep, and stale index entries."""
        store, model_store = get_context().stores()
        report = apply_retention(
            store,
            model_store,
            forecast_retention=timedelta(seconds=forecast_retention_s),
            keep_versions=keep_versions,
        )
        with_model = {(v.meter_type, v.meter_id) for v in model_store.list_models()}
        details = {
            "kind": "retention",
            **report.to_dict(),
            "task_index_entries_removed": prune_task_indexes(
                index.client, timedelta(seconds=task_retention_s)
            ),
            "publication_entries_removed": prune_publications(index.client, with_model),
        }
        message = f"retention removed {report.versions_removed} model versions"
        return {"status": "success", "message": message, "details": details}

    return retention_task


@dataclass(frozen=True, slots=True)
class Actors:
    train_meter: dramatiq.Actor[Any, Any]
    evaluate_meter: dramatiq.Actor[Any, Any]
    publish_forecasts: dramatiq.Actor[Any, Any]
    retention: dramatiq.Actor[Any, Any]


def declare_actors(
    broker: dramatiq.Broker,
    *,
    training_time_limit: timedelta = timedelta(hours=1),
    training_max_retries: int = 3,
    quantile_levels: tuple[float, ...] = DEFAULT_LEVELS,
) -> Actors:
    """Declare every actor on ``broker`` (re-declaring replaces, so this is idempotent).

    ``quantile_levels``: what published forecasts carry (``EF_FORECAST_QUANTILES``).
    """

    def declare(
        fn: Callable[..., Any], name: str, kind: TaskKind, *, store_results: bool = True, **options: Any
    ) -> dramatiq.Actor[Any, Any]:
        # Each kind waits in its own queue (domain.queues); every actor shares the limits and the
        # classification of errors not retried.
        return dramatiq.actor(
            fn,
            broker=broker,
            actor_name=name,
            queue_name=queue_for(kind),
            priority=QUEUE_PRIORITY[kind],
            time_limit=int(training_time_limit.total_seconds() * 1000),
            max_retries=training_max_retries,
            throws=NOT_RETRIED,
            store_results=store_results,
            track_progress=True,
            **options,
        )

    index = PublicationIndex(getattr(broker, "client", None))  # type: ignore[arg-type]
    # Training reports CONNECTING before any work: its STARTED record can go with that stage.
    train = declare(train_meter_task, TRAIN_ACTOR, TaskKind.TRAINING, start_with_first_stage=True)
    evaluate = declare(evaluate_meter_task, EVALUATE_ACTOR, TaskKind.EVALUATION, store_results=False)
    publisher_fn = publisher(index, ModelCache(levels=quantile_levels))
    publish = declare(publisher_fn, PUBLISH_ACTOR, TaskKind.PUBLICATION)
    retention = declare(housekeeper(index), RETENTION_ACTOR, TaskKind.HOUSEKEEPING)
    return Actors(train_meter=train, evaluate_meter=evaluate, publish_forecasts=publish, retention=retention)
