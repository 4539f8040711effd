"""Request bodies of ``POST /peaks/``, ``POST /cost/`` and the stored tariffs.

A subject is a meter (``meter_id``) or a group (``group_id``), never both. Answers are built as
plain JSON by ``services.peaks`` / ``services.cost``; their fields are described in the docs'
peaks and cost pages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from energy_forecast.api.schemas import ONE_SUBJECT
from energy_forecast.api.schemas import given_fields as _given
from energy_forecast.domain.meters import SLUG_PATTERN, MeterId, MeterType
from energy_forecast.services.tariffs import TARIFF_ID_PATTERN

EXAMPLE_TARIFF: dict[str, Any] = {
    "name": "Commercial time-of-use with demand charge",
    "currency": "GBP",
    "energy": [
        {"price": 0.32, "hours": "16-19", "days": ["weekday"], "label": "peak"},
        {"price": 0.12, "hours": "23-7", "label": "night"},
        {"price": 0.21, "label": "day"},
    ],
    "demand_charge_per_kw": 9.5,
    "fixed_per_period": 40.0,
}


class SubjectFields(BaseModel):
    model_config = {"extra": "forbid", "json_schema_extra": ONE_SUBJECT}

    meter_id: MeterId | None = Field(default=None, description="the meter; or give group_id")
    group_id: str | None = Field(
        default=None, pattern=SLUG_PATTERN, max_length=200, description="the group; or give meter_id"
    )
    meter_type: MeterType

    @model_validator(mode="after")
    def _one_subject(self) -> SubjectFields:
        if (self.meter_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of meter_id and group_id")
        return self


class PeaksRequest(SubjectFields):
    period: Literal["day", "month"] = Field(
        default="month", description="daily peaks over the next days, or the billing month's peak"
    )
    threshold: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="exceedance threshold in the meter's unit; default: the month-to-date peak",
    )


class CostRequest(SubjectFields):
    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"allOf": [ONE_SUBJECT, {"not": _given("tariff", "tariff_id")}]},
    }

    tariff: dict[str, Any] | None = Field(
        default=None, description="a tariff given inline", examples=[EXAMPLE_TARIFF]
    )
    tariff_id: str | None = Field(
        default=None, pattern=TARIFF_ID_PATTERN, description="a stored tariff (PUT /tariffs/{id})"
    )
    period: str | None = Field(
        default=None,
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="billing month YYYY-MM; default: the month of the hour after the last reading",
    )

    @model_validator(mode="after")
    def _one_tariff(self) -> CostRequest:
        if self.tariff is not None and self.tariff_id is not None:
            raise ValueError("give tariff or tariff_id, not both (or neither, to use the attached tariff)")
        return self


class TariffSubject(BaseModel):
    """Body of ``PUT``/``DELETE /tariffs/{id}/attach``: the meter or group the tariff applies to."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "oneOf": [
                _given("meter_id", "meter_type", without="group_id"),
                _given("group_id", without="meter_id"),
            ]
        },
    }

    meter_id: MeterId | None = None
    group_id: str | None = Field(default=None, pattern=SLUG_PATTERN, max_length=200)
    meter_type: MeterType | None = Field(default=None, description="required with meter_id")

    @model_validator(mode="after")
    def _one_subject(self) -> TariffSubject:
        if (self.meter_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of meter_id and group_id")
        if self.meter_id is not None and self.meter_type is None:
            raise ValueError("give meter_type with meter_id")
        return self
