"""Sites: where meters stand, with the coordinates weather providers need.

A site is keyed by the same slug as ``Meter.site_id``. ``country`` is an ISO 3166-1 alpha-2 code
(upper case) because public-holiday calendars are keyed by it; it is validated against the ISO
list (``pycountry``, pure data, no I/O) so a typo fails at the door, not in a forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pycountry
from pydantic import AfterValidator

from energy_forecast.domain.meters import validate_site_id, validate_timezone


def validate_country(value: str) -> str:
    """Return the upper-case ISO 3166-1 alpha-2 code for ``value``.

    Raises:
        ValueError: not a two-letter code that ISO 3166-1 assigns.
    """
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(
            f"country {value!r} is not an ISO 3166-1 alpha-2 code; use two letters such as 'IT', 'MA', 'GB'"
        )
    return code


def validate_latitude(value: float) -> float:
    if not -90.0 <= value <= 90.0:  # NaN fails too
        raise ValueError(f"latitude {value} outside -90..90")
    return float(value)


def validate_longitude(value: float) -> float:
    if not -180.0 <= value <= 180.0:
        raise ValueError(f"longitude {value} outside -180..180")
    return float(value)


CountryCode = Annotated[str, AfterValidator(validate_country)]


@dataclass(frozen=True, slots=True)
class Site:
    """A location; meters point at it through ``Meter.site_id``.

    An import registers the sites of its meters and temperatures without coordinates (both None)
    until ``POST /location/`` adds them; weather providers are asked only for sites that have them.
    """

    site_id: str
    latitude: float | None = None
    longitude: float | None = None
    city: str | None = None
    timezone: str = "UTC"
    country: str | None = None

    def __post_init__(self) -> None:
        validate_site_id(self.site_id)
        validate_timezone(self.timezone)
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        if self.latitude is not None and self.longitude is not None:
            object.__setattr__(self, "latitude", validate_latitude(self.latitude))
            object.__setattr__(self, "longitude", validate_longitude(self.longitude))
        if self.city is not None and (not self.city.strip() or "\n" in self.city or len(self.city) > 100):
            raise ValueError("city must be 1-100 characters on one line")
        if self.country is not None:
            object.__setattr__(self, "country", validate_country(self.country))

    @property
    def has_coordinates(self) -> bool:
        """Whether weather providers can be asked for this site."""
        return self.latitude is not None
