from __future__ import annotations

import pytest

from energy_forecast.domain.sites import Site, validate_country
from energy_forecast.errors import InvalidIdentifierError


def test_country_codes_are_normalised_to_upper_case() -> None:
    assert Site("s1", 35.57, -5.37, "Tetouan", "Africa/Casablanca", "ma").country == "MA"
    assert validate_country(" gb ") == "GB"


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        pytest.param({"latitude": 90.5}, "latitude", id="latitude"),
        pytest.param({"longitude": float("nan")}, "longitude", id="nan-longitude"),
        pytest.param({"country": "XX"}, "ISO 3166-1", id="unassigned-country"),
        pytest.param({"country": "ITA"}, "ISO 3166-1", id="alpha-3"),
        pytest.param({"timezone": "Europe/Atlantis"}, "IANA", id="timezone"),
        pytest.param({"city": "  "}, "city", id="blank-city"),
    ],
)
def test_invalid_sites_are_refused_with_the_field(kwargs: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {"site_id": "s1", "latitude": 45.0, "longitude": 7.0} | kwargs

    with pytest.raises(ValueError, match=problem):
        Site(**fields)  # type: ignore[arg-type]


def test_unsafe_site_ids_are_refused() -> None:
    with pytest.raises(InvalidIdentifierError):
        Site("../etc", 1.0, 2.0)
