"""Request and response models, named by role."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from energy_forecast.domain.meters import MeterType


class ReadingIn(BaseModel):
    """One hourly reading; ``consumption`` null marks a gap and is skipped."""

    timestamp: datetime = Field(description="ISO-8601, start of the hour; naive stamps are UTC")
    consumption: float | None = Field(default=None, ge=0, allow_inf_nan=False)


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
