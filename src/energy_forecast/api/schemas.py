"""Request and response models, named by role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

import pycountry
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from energy_forecast.domain.meters import SLUG_PATTERN, MeterId, MeterType, ReadingKind
from energy_forecast.domain.sites import validate_country
from energy_forecast.domain.units import UNIT_PATTERN, validate_unit


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


# What the schema says of a request timestamp, as JSON Schema can say it: an RFC 3339 date-time or
# a date, in a year the server accepts (the pattern: 1900..2199).
TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "anyOf": [{"format": "date-time"}, {"format": "date"}],
    "pattern": "^(19|2[01])[0-9]{2}-",
    "description": f"ISO-8601 date-time or date, years {FIRST_YEAR}..{LAST_YEAR}; naive times are UTC",
}

END_SCHEMA = TIMESTAMP_SCHEMA | {"description": f"{TIMESTAMP_SCHEMA['description']}; a date covers that day"}

# A timestamp in a request body or query: an ISO-8601 string, as the OpenAPI schema says, in a
# plausible year.
IsoDateTime = Annotated[
    datetime, BeforeValidator(_iso_text), AfterValidator(_plausible_year), WithJsonSchema(TIMESTAMP_SCHEMA)
]


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
    datetime,
    BeforeValidator(_whole_last_day),
    AfterValidator(_plausible_year),
    AfterValidator(_naive_is_utc),
    WithJsonSchema(END_SCHEMA),
]


def _json_integer(value: Any) -> Any:
    """A JSON integer as JSON Schema reads it: 95 and 95.0, not true, not "95"."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer field of a JSON body: strict (no booleans, no digit strings), integral floats allowed.
JsonInt = Annotated[int, BeforeValidator(_json_integer), Field(strict=True)]

# Exactly the values the server accepts, listed so generated clients know them.
TIME_ZONES = sorted(available_timezones() | {"UTC"})
COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)


def _known_zone(value: str) -> str:
    if value not in TIME_ZONES:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Rome', 'UTC')")
    return value


def _known_country(value: str) -> str:
    if value not in COUNTRIES and value.upper() not in COUNTRIES:
        raise ValueError(
            f"country {value!r} is not an ISO 3166-1 alpha-2 code; use two letters such as 'IT', 'MA', 'GB'"
        )
    return validate_country(value)


ZoneName = Annotated[str, AfterValidator(_known_zone), WithJsonSchema({"type": "string", "enum": TIME_ZONES})]
Country = Annotated[
    str,
    AfterValidator(_known_country),
    WithJsonSchema(
        {
            "type": "string",
            "enum": COUNTRIES + [c.lower() for c in COUNTRIES],
            "description": "ISO 3166-1 alpha-2 (upper or lower case)",
        }
    ),
]


class ReadingIn(BaseModel):
    """One reading (or register read); ``consumption`` null marks a gap and is skipped."""

    timestamp: IsoDateTime = Field(
        description="ISO-8601; start of the interval (end with stamps=end); without an offset it is "
        "read in the meter's time zone (UTC when none is known)"
    )
    consumption: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)


class MeterPublic(BaseModel):
    meter_id: str
    meter_type: MeterType
    site_id: str
    unit: str
    timezone: str
    latitude: float | None = None
    longitude: float | None = None
    reading_kind: ReadingKind = ReadingKind.INTERVAL
    interval_minutes: int | None = Field(default=None, description="native interval of the readings")
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    reading_count: int = 0
    gap_hours: int = 0


class ImportWarningPublic(BaseModel):
    code: str = Field(description="unknown_meter, naive_utc, aggregated, incomplete_hours, scaled_hours, ...")
    subject: str = Field(description="the meter or site id it is about")
    message: str


class ReadingsImported(BaseModel):
    meter_id: str
    meter_type: MeterType
    rows_received: int
    points_written: int = Field(description="hourly values written")
    reading_count: int
    interval_minutes: int | None = Field(default=None, description="native interval of the readings")
    reading_kind: ReadingKind = ReadingKind.INTERVAL
    warnings: list[ImportWarningPublic] = Field(default_factory=list)


class MeterIn(BaseModel):
    """A ``meters.csv`` row over HTTP: every field optional, absent = the default."""

    model_config = {"extra": "forbid"}

    site_id: str | None = Field(default=None, pattern=SLUG_PATTERN)
    # The pattern documents the known units; the validator refuses others naming them all.
    unit: Annotated[str, AfterValidator(validate_unit)] = Field(
        default="",
        max_length=64,
        json_schema_extra={"pattern": UNIT_PATTERN},
        description="e.g. kWh, kW, m3, L/s: amounts are summed into hours, rates averaged",
    )
    timezone: ZoneName | None = Field(default=None, description="zone of naive stamps (IANA)")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    reading_kind: ReadingKind = ReadingKind.INTERVAL
    interval_minutes: Literal[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60] | None = None


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


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class TaskAccepted(BaseModel):
    task_id: str
    status: str = "PENDING"
    progress: int = 0


class BatchAccepted(BaseModel):
    batch_id: str
    task_ids: dict[str, str] = Field(description="meter_id -> task_id")


class QueuePositionPublic(BaseModel):
    """Where a queued task stands in the queue its message was sent to."""

    queue: str
    ahead: int = Field(description="tasks ahead of this one in its queue")
    waiting: int | None = Field(default=None, description="tasks waiting in that queue in all")
    handed_to_worker: bool | None = Field(default=None, description="a worker holds it; starting")


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
    # While PENDING: where the task waits (queue name, tasks ahead of it, tasks waiting in all)...
    queue: QueuePositionPublic | None = None
    # ...and the same in words ("queued behind 3 other tasks in queue 'default'").
    waiting: str | None = None


class CancelPublic(BaseModel):
    task_id: str
    previous_status: str
    cancel_requested: bool


# "Exactly one of meter_id and group_id", stated in the schema too, so clients and generated
# requests know it before the validator says it.
def given_fields(*names: str, without: str | None = None) -> dict[str, Any]:
    """JSON Schema: every one of ``names`` is present and not null (and ``without`` absent or null)."""
    properties: dict[str, Any] = {name: {"not": {"type": "null"}} for name in names}
    if without is not None:
        properties[without] = {"type": "null"}
    return {"required": list(names), "properties": properties}


ONE_SUBJECT: dict[str, Any] = {"oneOf": [given_fields("meter_id"), given_fields("group_id")]}
