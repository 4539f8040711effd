"""Meter identity: validated ids, meter types and the registry record.

Ids become file paths (``models/{type}/{id}/``) and query literals, so they are validated once,
here, against a slug pattern that cannot express a path separator, a quote or a leading dot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, WithJsonSchema

from energy_forecast.domain.units import validate_unit
from energy_forecast.errors import InvalidIdentifierError

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SLUG = re.compile(SLUG_PATTERN)
_SLUG_RULE = "use 1-64 characters: letters, digits, '_', '.', '-', starting with a letter or digit"


class MeterType(StrEnum):
    """What a meter measures; selects the measurement and default model parameters."""

    ELECTRICITY = "electricity"
    WATER = "water"

    @property
    def measurement(self) -> str:
        """The InfluxDB measurement (and DuckDB partition) holding this type's readings."""
        return f"{self.value}_consumption"


def validate_slug(value: str, kind: str = "meter_id") -> str:
    """Return ``value`` if it is a safe slug.

    Raises:
        InvalidIdentifierError: the value could escape a path or a query literal.
    """
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InvalidIdentifierError(kind, str(value)[:80], _SLUG_RULE)
    return value


def validate_meter_id(value: str) -> str:
    return validate_slug(value, "meter_id")


def validate_site_id(value: str) -> str:
    return validate_slug(value, "site_id")


def validate_timezone(value: str) -> str:
    """Return ``value`` if it names an IANA time zone."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Rome', 'UTC')") from exc
    return value


# The schema states the slug rule, so clients (and schemathesis) know it before a 422 tells them.
_SLUG_SCHEMA = WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN, "minLength": 1, "maxLength": 64})
MeterId = Annotated[str, AfterValidator(validate_meter_id), _SLUG_SCHEMA]
SiteId = Annotated[str, AfterValidator(validate_site_id), _SLUG_SCHEMA]
TimeZoneName = Annotated[str, AfterValidator(validate_timezone)]

DEFAULT_SITE = "default"


class ReadingKind(StrEnum):
    """What a meter's ``consumption`` column holds."""

    INTERVAL = "interval"  # the amount (or mean rate) of the interval the stamp marks
    REGISTER = "register"  # a cumulative index read at the stamp's instant


# Fixed intervals that tile an hour exactly, so every hour holds a whole number of them.
INTERVALS_MINUTES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)


def validate_interval_minutes(value: int | None) -> int | None:
    if value is not None and value not in INTERVALS_MINUTES:
        raise ValueError(
            f"interval_minutes {value!r} does not divide an hour; use one of "
            f"{', '.join(map(str, INTERVALS_MINUTES))}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Meter:
    """One registry entry: what a meter is and where it stands."""

    meter_id: str
    meter_type: MeterType
    site_id: str = DEFAULT_SITE
    unit: str = ""
    timezone: str = "UTC"
    latitude: float | None = None
    longitude: float | None = None
    reading_kind: ReadingKind = ReadingKind.INTERVAL
    interval_minutes: int | None = None  # native interval; None until declared or detected

    def __post_init__(self) -> None:
        validate_meter_id(self.meter_id)
        object.__setattr__(self, "reading_kind", ReadingKind(self.reading_kind or ReadingKind.INTERVAL))
        if self.interval_minutes is not None:
            object.__setattr__(self, "interval_minutes", int(self.interval_minutes))
        validate_interval_minutes(self.interval_minutes)
        validate_site_id(self.site_id)
        validate_timezone(self.timezone)
        object.__setattr__(self, "meter_type", MeterType(self.meter_type))
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude {self.latitude} outside -90..90")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude {self.longitude} outside -180..180")


def _number(row: Mapping[str, object], name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None


def meter_from_row(row: Mapping[str, object]) -> Meter:
    """A registry entry from one ``meters.csv`` row (or the same fields over HTTP); empty = default.

    Raises:
        ValueError: a field is invalid; the message names it and what is allowed.
    """

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    kind = text("reading_kind").lower() or ReadingKind.INTERVAL.value
    if kind not in {k.value for k in ReadingKind}:
        raise ValueError(f"reading_kind {kind!r} is not one of {', '.join(k.value for k in ReadingKind)}")
    interval = _number(row, "interval_minutes")
    if interval is not None and interval != int(interval):
        raise ValueError(f"interval_minutes {row.get('interval_minutes')!r} is not a whole number")
    return Meter(
        meter_id=text("meter_id"),
        meter_type=MeterType(text("meter_type").lower()),
        site_id=text("site_id") or DEFAULT_SITE,
        unit=validate_unit(text("unit")),
        timezone=text("timezone") or "UTC",
        latitude=_number(row, "latitude"),
        longitude=_number(row, "longitude"),
        reading_kind=ReadingKind(kind),
        interval_minutes=None if interval is None else int(interval),
    )
