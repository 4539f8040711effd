"""Meter identity: validated ids, meter types and the registry record.

Ids become file paths (``models/{type}/{id}/``) and query literals, so they are validated once,
here, against a slug pattern that cannot express a path separator, a quote or a leading dot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, WithJsonSchema

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

    def __post_init__(self) -> None:
        validate_meter_id(self.meter_id)
        validate_site_id(self.site_id)
        validate_timezone(self.timezone)
        object.__setattr__(self, "meter_type", MeterType(self.meter_type))
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude {self.latitude} outside -90..90")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude {self.longitude} outside -180..180")
