"""Forecast publication as a batch of chunk tasks, and the last published forecast of a meter."""

from __future__ import annotations

import math
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path

from energy_forecast.api.deps import ModelStoreDep, PublicationsDep, SeriesStoreDep, TaskQueueDep
from energy_forecast.api.publication_schemas import (
    PublishAccepted,
    PublishBatchPublic,
    PublishedForecastPublic,
    PublishedPointPublic,
    PublishRequest,
)
from energy_forecast.api.quotas import QueuedWorkDep
from energy_forecast.api.schemas import TASK_ID_PATTERN
from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.fleet_model import is_fleet_model
from energy_forecast.storage.forecast_layout import quantile_columns
from energy_forecast.tasks.queue import PUBLICATION, batch_state

router = APIRouter(prefix="/forecasts", tags=["forecasting"])
MeterIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="meter id (slug)")]
BatchIdPath = Annotated[str, Path(pattern=TASK_ID_PATTERN, description="batch id returned on publish")]


@router.post("/publish", response_model=PublishAccepted, status_code=202)
def publish(
    body: PublishRequest, queue: TaskQueueDep, models: ModelStoreDep, work: QueuedWorkDep
) -> PublishAccepted:
    """Queue forecast publication for every meter with a model, one task per chunk of meters."""
    meters = [
        (v.meter_id, v.meter_type) for v in models.list_models(body.meter_type) if not is_fleet_model(v)
    ]
    if body.meter_ids is not None:
        chosen = set(body.meter_ids)
        missing = chosen - {meter_id for meter_id, _ in meters}
        if missing:
            raise NotFoundError(
                f"no trained model for meter(s) {', '.join(sorted(missing)[:10])}; train first"
            )
        meters = [pair for pair in meters if pair[0] in chosen]
    if not meters:
        raise InputDataError("no meter has a trained model to publish from; train meters first")
    batch_id, task_ids = queue.enqueue_publication(meters, days=body.days, chunk_size=body.chunk_size)
    work.add(task_ids)
    return PublishAccepted(batch_id=batch_id, tasks=len(task_ids), meters=len(meters), task_ids=task_ids)


@router.get("/publish/{batch_id}", response_model=PublishBatchPublic)
def publish_status(batch_id: BatchIdPath, queue: TaskQueueDep) -> PublishBatchPublic:
    """Overall state of a publication batch and each chunk task's state."""
    batch = queue.read_batch(batch_id)
    tasks: list[dict[str, Any]] = batch["tasks"] if batch is not None else []
    # A training batch or fleet test shares the batch record: only a publication's is answered
    # (marked by its kind; a batch from before the mark, by a task's own kind).
    kind = queue.batch_kind(batch_id) if batch is not None else None
    if batch is None or (kind or _task_kind(tasks)) != PUBLICATION:
        raise NotFoundError(f"publication batch {batch_id!r} is unknown or its records expired")
    return PublishBatchPublic(
        batch_id=batch_id,
        state=batch_state([t["status"] for t in tasks]),
        total=batch["total"],
        done=batch["done"],
        progress=batch["progress"],
        states=batch["states"],
        meters=sum(int((t.get("details") or {}).get("meters", 0)) for t in tasks),
        published=sum(int((t.get("details") or {}).get("published", 0)) for t in tasks),
        failed=sum(int((t.get("details") or {}).get("failed", 0)) for t in tasks),
        tasks=tasks,
    )


def _task_kind(tasks: list[dict[str, Any]]) -> str | None:
    kinds = {(t.get("details") or {}).get("kind") for t in tasks}
    return PUBLICATION if PUBLICATION in kinds else None


def _optional(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@router.get("/{meter_type}/{meter_id}/latest", response_model=PublishedForecastPublic)
def latest(
    meter_type: MeterType, meter_id: MeterIdPath, publications: PublicationsDep, store: SeriesStoreDep
) -> PublishedForecastPublic:
    """The last published forecast of one meter, as written: issue time, model version, points."""
    record = publications.latest(meter_type, meter_id)
    if record is None:
        raise NotFoundError(
            f"no published forecast for {meter_type.value} meter {meter_id!r}; publish with "
            "POST /forecasts/publish or let the scheduler do it"
        )
    points: list[PublishedPointPublic] = []
    if record.get("first_hour") and record.get("last_hour"):
        first, last = pd.Timestamp(record["first_hour"]), pd.Timestamp(record["last_hour"])
        frame = store.read_forecast(meter_type, meter_id, first, last + pd.Timedelta(hours=1))
        frame = frame[frame["model_version"] == record["model_version"]]
        keys = quantile_columns(frame)
        quantiles = [
            {k: v for k, v in zip(keys, row, strict=True) if math.isfinite(v)} or None
            for row in frame[keys].itertuples(index=False)
        ]
        points = [
            PublishedPointPublic(
                datetime=stamp.isoformat(),
                value=float(row.value),
                lower=_optional(row.lower),
                upper=_optional(row.upper),
                quantiles=q,
            )
            for stamp, row, q in zip(frame.index, frame.itertuples(index=False), quantiles, strict=True)
        ]
    return PublishedForecastPublic(
        meter_id=meter_id,
        meter_type=meter_type,
        issued_at=record["issued_at"],
        model_version=record["model_version"],
        substituted=bool(record.get("substituted")),
        first_hour=record.get("first_hour"),
        last_hour=record.get("last_hour"),
        holdout_cv_rmse_percent=record.get("holdout_cv_rmse_percent"),
        live_cv_rmse_percent=record.get("live_cv_rmse_percent"),
        live_hours=int(record.get("live_hours") or 0),
        points=points,
    )
