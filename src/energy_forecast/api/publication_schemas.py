"""Request and response models of forecast publication and of the published-forecast read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from energy_forecast.domain.meters import MeterId, MeterType


class PublishRequest(BaseModel):
    """``POST /forecasts/publish``: every meter with an active model (optionally of one type)."""

    model_config = {"extra": "forbid"}

    meter_type: MeterType | None = None
    meter_ids: list[MeterId] | None = Field(
        default=None, max_length=10_000, description="only these meters (each needs an active model)"
    )
    days: int = Field(default=7, ge=1, le=31, description="days after each meter's last reading")
    chunk_size: int = Field(default=50, ge=1, le=10_000, description="meters per task")


class PublishAccepted(BaseModel):
    batch_id: str
    tasks: int = Field(description="number of chunk tasks queued")
    meters: int = Field(description="number of meters in the batch")
    task_ids: list[str]


class PublishBatchPublic(BaseModel):
    """Overall state (PENDING, RUNNING, SUCCESS, FAILURE) plus each chunk task's status."""

    batch_id: str
    state: str
    total: int
    done: bool
    progress: int
    states: dict[str, int]
    meters: int
    published: int
    failed: int
    tasks: list[dict[str, Any]]


class PublishedPointPublic(BaseModel):
    datetime: str = Field(description="ISO-8601 UTC hour")
    value: float
    lower: float | None = None
    upper: float | None = None
    quantiles: dict[str, float] | None = Field(
        default=None, description="the quantiles published with the point ('p10', 'p50', 'p90' ..)"
    )


class PublishedForecastPublic(BaseModel):
    """The last published forecast of one meter, read back as written (never recomputed)."""

    meter_id: str
    meter_type: MeterType
    issued_at: str
    model_version: str = Field(description="v{n} of the model that made it, or 'substituted'")
    substituted: bool
    first_hour: str | None
    last_hour: str | None
    holdout_cv_rmse_percent: float | None = None
    live_cv_rmse_percent: float | None = Field(
        default=None, description="earlier publications of the active model scored on the readings since"
    )
    live_hours: int = 0
    points: list[PublishedPointPublic]
