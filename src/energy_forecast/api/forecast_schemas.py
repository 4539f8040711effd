"""Request and response models of forecasting, evaluation, backtest and the model registry.

Kept apart from ``schemas.py`` (training and meters) so each module stays about one concept.
Shapes follow the seed (``forecast_data``, ``test_results``); extra fields are additive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from energy_forecast.api.schemas import ONE_SUBJECT, JsonInt, WindowEnd, WindowStart
from energy_forecast.domain.meters import MeterId, MeterType

LOCATION_NOTE = (
    "latitude/longitude/city are echoed but do not change the result: future temperature comes from the "
    "meter's site (stored observations, then weather providers for a site registered with POST /location/, "
    "then climatology)"
)


class LocationFields(BaseModel):
    """Optional site location, accepted as the public seed implementation accepts it."""

    # strict: a JSON boolean is not a number (pydantic's lax mode reads false as 0).
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, strict=True)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, strict=True)
    city: str | None = Field(default=None, min_length=1, max_length=100)

    def location(self) -> dict[str, Any] | None:
        if self.latitude is None and self.longitude is None and self.city is None:
            return None
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "city": self.city,
            "note": LOCATION_NOTE,
        }


class ForecastRequest(LocationFields):
    """The seed's ``POST /forecast/`` body; a date-only ``end_date`` covers that whole UTC day.

    ``group_id`` in place of ``meter_id`` forecasts a group's total (``PUT /groups/{id}``)."""

    model_config = {"extra": "forbid", "json_schema_extra": ONE_SUBJECT}

    meter_id: MeterId | None = None
    group_id: MeterId | None = Field(default=None, description="a group's id, in place of meter_id")
    meter_type: MeterType
    start_date: WindowStart
    end_date: WindowEnd
    frequency: Literal["hourly", "daily"] = "hourly"

    @model_validator(mode="after")
    def _one_subject(self) -> ForecastRequest:
        if (self.meter_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of meter_id and group_id")
        return self


class ForecastPointPublic(BaseModel):
    datetime: str = Field(description="ISO-8601 UTC hour (hourly) or local date (daily)")
    value: float = Field(description="the reading, or the forecast's calibrated median (P50)")
    type: Literal["historical", "forecast"]
    temperature: float | None = None
    lower: float | None = Field(default=None, description="10 % quantile (P10), the 80 % band's lower end")
    upper: float | None = Field(default=None, description="90 % quantile (P90), the 80 % band's upper end")
    temperature_source: str | None = None
    hours: int | None = Field(default=None, description="hours summed (daily only)")
    quantiles: dict[str, float] | None = Field(
        default=None,
        description="forecast points: the configured quantiles (EF_FORECAST_QUANTILES) keyed 'p' + the "
        "level in percent ('p10', 'p50', 'p90', 'p2.5'), non-decreasing in the level",
    )


class ForecastPublic(BaseModel):
    """``POST /forecast/``: points leave out fields they have no value for (no bounds on
    historical points), as the seed's compact shape; meta fields such as a null model_version stay,
    because their absence would be ambiguous."""

    forecast_data: list[ForecastPointPublic]
    meter_id: str | None = Field(description="the meter (absent for a group's forecast)")
    group_id: str | None = Field(default=None, description="the group, when one was asked for")
    members: int | None = Field(default=None, description="a group's meters that were summed")
    fallbacks: int | None = Field(default=None, description="of them, how many answered with their fallback")
    member_models: dict[str, int] | None = Field(default=None, description="a group's members per forecaster")
    meter_type: MeterType
    frequency: str
    model_version: int | None
    model: str = Field(
        "meter",
        description="which forecaster answered: meter (its own model), blend (its model, the fleet model "
        "and a seasonal-naive forecast, weights in /models/), fleet (a new meter: the fleet model), "
        "fallback (the substitute) or group (a group's total: the sum of its members' forecasts, "
        "quantiles of the total from their joint scenarios)",
    )
    substituted: bool
    substitution_reason: str | None = None
    temperature_source: str = Field(description="observed, climatology, mixed or none (forecast points)")
    last_reading: datetime
    timezone: str
    generated_at: datetime = Field(
        description="when this answer was computed (repeats on unchanged data and model come from memory)"
    )
    notes: list[str] = Field(default_factory=list)
    location: dict[str, Any] | None = None


class ModelTestRequest(LocationFields):
    """The seed's ``POST /test_model/`` body."""

    model_config = {"extra": "forbid"}

    meter_id: MeterId
    meter_type: MeterType
    test_size: float = Field(default=0.2, gt=0, lt=1, allow_inf_nan=False, strict=True)


class AllModelsRequest(BaseModel):
    model_config = {"extra": "forbid"}

    meter_type: MeterType | None = None
    test_size: float = Field(default=0.2, gt=0, lt=1, allow_inf_nan=False, strict=True)


class ModelTestResultsPublic(BaseModel):
    """The seed's ``test_results`` plus baseline metrics and an optional message."""

    meter_type: MeterType
    test_samples: int
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, Any]
    performance_summary: dict[str, Any]
    test_window: dict[str, str]
    message: str | None = None
    location: dict[str, Any] | None = None


class ModelTestPublic(BaseModel):
    test_results: ModelTestResultsPublic


class FleetModelTestAccepted(BaseModel):
    """The fleet test runs as one task per meter on the workers; poll ``status_url``."""

    batch_id: str
    meters: int
    task_ids: dict[str, str] = Field(description="meter_id -> task_id")
    status_url: str
    already_running: bool = Field(
        False, description="true: a fleet test of the same meter type was running; this is that batch"
    )


class FleetModelTestPublic(BaseModel):
    """Per-meter progress while running; the table and fleet medians once ``done``."""

    batch_id: str
    total: int
    done: bool
    progress: int
    states: dict[str, int]
    tasks: list[dict[str, Any]]
    meters: list[dict[str, Any]] | None = None
    fleet_medians: dict[str, float | None] | None = None
    evaluated: int | None = None
    failed: int | None = None


class BacktestRequest(BaseModel):
    """A meter's backtest, or with ``group_id`` a group total's (members summed, joint quantiles)."""

    model_config = {"extra": "forbid", "json_schema_extra": ONE_SUBJECT}

    meter_id: MeterId | None = None
    group_id: MeterId | None = Field(default=None, description="a group's id, in place of meter_id")
    meter_type: MeterType
    horizon_hours: JsonInt = Field(default=24, ge=1, le=168)
    days: JsonInt = Field(default=28, ge=1, le=365)

    @model_validator(mode="after")
    def _one_subject(self) -> BacktestRequest:
        if (self.meter_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of meter_id and group_id")
        return self


class BacktestPublic(BaseModel):
    records: list[dict[str, Any]]
    summary: dict[str, Any]


class ModelVersionPublic(BaseModel):
    meter_id: str
    meter_type: MeterType
    version: int
    active: bool
    saved_at: str | None
    training_window: dict[str, Any] | None
    data_points: int | None
    metrics: dict[str, float | None]
    kind: str = Field("meter", description="meter (one meter's model) or fleet (the type's fleet model)")
    blend: dict[str, Any] | None = Field(
        None,
        description="weights of the meter's model, the fleet model and the named seasonal-naive "
        "baseline in its forecasts (chosen on the hold-out), and the interval factor",
    )
    status: Literal["active", "previous", "rejected"] = Field(
        default="active", description="rejected: its training kept the active model (see reason)"
    )
    reason: str | None = Field(default=None, description="why it was accepted or rejected when trained")
    acceptance: dict[str, Any] | None = Field(
        default=None, description="champion/challenger figures: both CV(RMSE)s, the basis, the margin"
    )


class ModelHistoryPublic(BaseModel):
    meter_id: str
    meter_type: MeterType
    active_version: int | None
    versions: list[ModelVersionPublic]
