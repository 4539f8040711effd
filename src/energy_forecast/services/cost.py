"""Forecast cost of a meter's or group's billing month under a tariff (``ml.cost``).

The billing month defaults to the local month of the first forecast hour (the hour after the last
reading): the month being billed now, as far as the readings go. A month already over is costed
from its readings alone; one that ends more than the forecast horizon after the last reading
cannot be costed yet.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from energy_forecast.domain.tariffs import Tariff, tariff_to_dict
from energy_forecast.errors import InputDataError
from energy_forecast.features.calendar import holiday_dates
from energy_forecast.ml.cost import CostForecast, billing_hours, forecast_cost
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.services.forecasting import MAX_HORIZON
from energy_forecast.services.meters import site_country
from energy_forecast.services.peaks import scenario_facts
from energy_forecast.services.subjects import Subject
from energy_forecast.storage.base import SeriesStore

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def billing_period(subject: Subject, period: str | None) -> str:
    """``period`` checked (``YYYY-MM``), or the local month of the subject's first forecast hour."""
    if period is None:
        return subject.origin.tz_convert(subject.timezone).strftime("%Y-%m")
    if not _PERIOD.match(period):
        raise InputDataError(f'period {period!r} must be a month written YYYY-MM, e.g. "2026-12"')
    return period


def _no_forecast(subject: Subject) -> Scenarios:
    empty = pd.DatetimeIndex([], tz="UTC")
    return Scenarios(index=empty, point=empty.to_numpy(dtype="float64"), paths=empty.to_numpy(dtype="float64")
                     .reshape(1, 0), unit=subject.unit, model="readings")  # fmt: skip


def cost_report(
    store: SeriesStore,
    subject: Subject,
    tariff: Tariff,
    *,
    tariff_id: str | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """The JSON answer of ``POST /cost/``.

    Raises:
        InputDataError: a malformed period, one that ends beyond the forecast horizon, or a tariff
            that does not fit the meter type (a demand charge on water).
    """
    period = billing_period(subject, period)
    hours = billing_hours(period, subject.timezone)
    origin, last = subject.origin, subject.origin - pd.Timedelta(hours=1)
    if hours[-1] > last + MAX_HORIZON:
        raise InputDataError(
            f"billing period {period} ends {hours[-1].isoformat()}, more than {MAX_HORIZON.days} days "
            f"after the last reading ({last.isoformat()}); forecasts reach no further: ask for an earlier "
            "month"
        )
    scenarios = subject.draw(hours[-1]) if hours[-1] >= origin else _no_forecast(subject)
    site = store.get_site(subject.site_id) if subject.site_id else None
    years = tuple(sorted({hours[0].year, hours[-1].year}))
    holidays = holiday_dates(site_country(site, subject.timezone), years)
    try:
        cost = forecast_cost(
            scenarios, subject.readings, tariff, period=period, timezone=subject.timezone,
            meter_type=subject.meter_type.value, unit=subject.unit, holidays=holidays, origin=origin,
        )  # fmt: skip
    except ValueError as exc:
        raise InputDataError(str(exc)) from exc
    if any(7 in (rule.days or ()) for rule in tariff.energy) and not (site and site.country):
        cost.notes.append(
            "the tariff prices holidays but the site has no country; register it with POST /location/"
        )
    return {
        subject.kind + "_id": subject.subject_id,
        "meter_type": subject.meter_type.value,
        "timezone": subject.timezone,
        "last_reading": last.isoformat(),
        "tariff_id": tariff_id,
        "tariff": tariff_to_dict(tariff),
        **cost_content(cost, subject.timezone),
        **scenario_facts(scenarios),
    }


def cost_content(cost: CostForecast, timezone: str) -> dict[str, Any]:
    """The cost part of the answer (the dashboard shows the same)."""
    return {
        "period": cost.period,
        "currency": cost.currency,
        "unit": cost.base_unit,
        "hours": {
            "period": cost.hours,
            "observed": cost.observed_hours,
            "forecast": cost.forecast_hours,
            "missing": cost.missing_hours,
        },
        "total": cost.quantiles["total"] | {"mean": cost.mean["total"]},
        "components": {
            name: cost.quantiles[name] | {"mean": cost.mean[name]} for name in ("energy", "demand", "fixed")
        },
        "so_far": cost.so_far,
        "consumption": cost.consumption,
        "peak_demand_kw": cost.peak_demand_kw,
        "demand_hours": [
            {"utc": t.isoformat(), "local": t.tz_convert(timezone).isoformat(), "probability": p}
            for t, p in cost.demand_hours
        ],
        "notes": cost.notes,
    }
