"""Request and response models, named by role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from energy_forecast.domain.meters import MeterId, MeterType


def _iso_text(value: Any) -> Any:
    """Refuse numbers, also as text: pydantic reads them as epoch seconds, which the schema does not say.

    Query parameters always arrive as text, so ``?end_date=0.5`` needs the string check too.
    """
    if isinstance(value, int | float):
        raise ValueError("give an ISO-8601 timestamp string such as 2024-01-01T00:00:00Z, not a number")
    if isinstance(value, str) and _is_number(value):
        raise ValueError(
            f"{value[:40]!r} is a number, not an ISO-8601 timestamp; give one such as "
            "2024-01-01T00:00:00Z (or a date, 2024-01-01)"
        )
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Years the stores and pandas (nanosecond timestamps: 1677..2262) can hold, with room for offsets.
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _plausible_year(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(
            f"timestamp {value.isoformat()} is outside {FIRST_YEAR}-01-01 .. {LAST_YEAR}-12-31; "
            "check the year"
        )
    return value


# A timestamp in a request body or query: an ISO-8601 string, as the OpenAPI schema says, in a
# plausible year.
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_plausible_year)]


def _naive_is_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _whole_last_day(value: Any) -> Any:
    """A date-only end (``2024-01-07``) means that whole UTC day: up to its last hour."""
    if isinstance(value, str) and len(value) == 10:
        return f"{value}T23:00:00Z"
    return _iso_text(value)


# The start and end of a requested window: as IsoDateTime, naive stamps read as UTC; an end given
# as a date covers that whole day.
WindowStart = Annotated[IsoDateTime, AfterValidator(_naive_is_utc)]
WindowEnd = Annotated[
    datetime, BeforeValidator(_whole_last_day), AfterValidator(_plausible_year), AfterValidator(_naive_is_utc)
]


class ReadingIn(BaseModel):
    """One hourly reading; ``consumption`` null marks a gap and is skipped."""

    timestamp: IsoDateTime = Field(description="ISO-8601, start of the hour; naive stamps are UTC")
    consumption: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)


class MeterPublic(BaseModel):
    meter_id: str
    meter_type: MeterType
    site_id: str
    unit: str
    timezone: str
    latitude: float | None = None
    longitude: float | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    reading_count: int = 0
    gap_hours: int = 0


class ReadingsImported(BaseModel):
    meter_id: str
    meter_type: MeterType
    rows_received: int
    points_written: int
    reading_count: int


class HealthPublic(BaseModel):
    status: str
    timestamp: datetime
    version: str
    services: dict[str, str]
    checks: dict[str, dict[str, object]]


TASK_ID_PATTERN = r"^[0-9a-fA-F-]{8,64}$"


class TrainRequest(BaseModel):
    """The seed's ``POST /trainmodel/`` body, plus an optional ``force``."""

    model_config = {"extra": "forbid"}

    meter_id: MeterId
    meter_type: MeterType
    force: bool = Field(
        default=False,
        strict=True,
        description="make the new version active even if it is worse than the active one by more "
        "than EF_MODELS__ACCEPT_MARGIN (otherwise it is kept as a rejected version)",
    )


class TrainWindowRequest(TrainRequest):
    """The v1 document's ``POST /trainmodel/v2/`` body: train on ``[start_date, end_date]`` only."""

    start_date: IsoDateTime
    end_date: IsoDateTime

    @model_validator(mode="after")
    def _ordered(self) -> TrainWindowRequest:
        if self.start_date.tzinfo is None:
            self.start_date = self.start_date.replace(tzinfo=UTC)
        if self.end_date.tzinfo is None:
            self.end_date = self.end_date.replace(tzinfo=UTC)
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self


class BatchTrainRequest(BaseModel):
    """Train every registered meter, or the listed ones, optionally of one type."""

    model_config = {"extra": "forbid"}

    meter_ids: list[MeterId] | None = Field(default=None, max_length=10_000)
    meter_type: MeterType | None = None


class TaskAccepted(BaseModel):
    task_id: str
    status: str = "PENDING"
    progress: int = 0


class BatchAccepted(BaseModel):
    batch_id: str
    task_ids: dict[str, str] = Field(description="meter_id -> task_id")


class TaskStatusPublic(BaseModel):
    """The seed's status shape; ``result`` on success, ``error`` on failure."""

    task_id: str
    status: str
    progress: int
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    updated_at: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class CancelPublic(BaseModel):
    task_id: str
    previous_status: str
    cancel_requested: bool
