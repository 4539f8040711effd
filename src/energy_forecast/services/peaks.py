"""Peak forecast of a meter or group: the day's or billing month's peak and the days likely to
exceed a threshold, read from the subject's joint scenarios (``ml.peaks``).

Window: ``period="month"`` forecasts to the end of the local billing month of the first forecast
hour (the hour after the last reading), ``"day"`` the rest of that local day and the next
``DAY_WINDOW - 1`` days. The default threshold is the month-to-date peak (at the start of a month,
the previous month's), so "exceed" reads "set a new monthly peak".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from energy_forecast.errors import InputDataError
from energy_forecast.ml.peaks import (
    PERIODS,
    DayExceedance,
    Period,
    PeriodPeak,
    day_exceedance,
    forecast_peaks,
    month_to_date_peak,
)
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.services.subjects import Subject

DAY_WINDOW = 7


def period_end(origin: pd.Timestamp, timezone: str, period: Period) -> pd.Timestamp:
    """The last UTC hour (inclusive) a ``period`` answer forecasts."""
    local = origin.tz_convert(timezone).tz_localize(None)
    if period == "month":
        stop = pd.Timestamp(local.year, local.month, 1) + pd.DateOffset(months=1)
    else:
        stop = local.normalize() + pd.Timedelta(days=DAY_WINDOW)
    stop = pd.Timestamp(stop).tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
    return stop.tz_convert("UTC") - pd.Timedelta(hours=1)


def _hour(stamp: pd.Timestamp | None, timezone: str) -> dict[str, str] | None:
    if stamp is None:
        return None
    return {"utc": stamp.isoformat(), "local": stamp.tz_convert(timezone).isoformat()}


def _peak(peak: PeriodPeak, timezone: str) -> dict[str, Any]:
    return {
        "period": peak.label,
        "observed": {
            "hours": peak.observed_hours,
            "peak": peak.observed_peak,
            "at": _hour(peak.observed_peak_at, timezone),
        },
        "forecast_hours": peak.forecast_hours,
        "quantiles": peak.quantiles,
        "mean": peak.mean,
        "likely_hour": _hour(peak.likely_hour, timezone),
        "hours": [{"hour": _hour(t, timezone), "probability": p} for t, p in peak.hours],
        "observed_peak_stands_probability": peak.stands_probability if peak.observed_hours else None,
    }


def _day(day: DayExceedance) -> dict[str, Any]:
    return {
        "day": day.day,
        "exceed_probability": day.probability,
        "new_monthly_peak_probability": day.new_peak_probability,
        "observed_max": day.observed_max,
    }


def peaks_report(subject: Subject, period: str, threshold: float | None = None) -> dict[str, Any]:
    """The JSON answer of ``POST /peaks/``.

    Raises:
        InputDataError: an unknown period, or no threshold given and no readings in this or the
            previous month to take one from.
    """
    if period not in PERIODS:
        raise InputDataError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    origin = subject.origin
    if threshold is None:
        value, source, at = month_to_date_peak(subject.readings, origin, subject.timezone)
        if value is None:
            raise InputDataError(
                f"{subject.kind} {subject.subject_id!r} has no readings this month or last to take the "
                "month-to-date peak from; give a threshold"
            )
    else:
        value, source, at = float(threshold), "given", None
    scenarios = subject.draw(period_end(origin, subject.timezone, period))  # type: ignore[arg-type]
    peaks = forecast_peaks(scenarios, subject.readings, subject.timezone, period)  # type: ignore[arg-type]
    days = day_exceedance(scenarios, subject.readings, subject.timezone, value)
    return {
        subject.kind + "_id": subject.subject_id,
        "meter_type": subject.meter_type.value,
        "period": period,
        "timezone": subject.timezone,
        "unit": subject.unit,
        "last_reading": (origin - pd.Timedelta(hours=1)).isoformat(),
        "threshold": {"value": value, "source": source, "at": _hour(at, subject.timezone)},
        "peaks": [_peak(p, subject.timezone) for p in peaks],
        "days": [_day(d) for d in days],
        **scenario_facts(scenarios),
    }


def scenario_facts(scenarios: Scenarios) -> dict[str, Any]:
    """Which forecaster answered and how its scenarios were drawn (shared by peaks and costs)."""
    return {
        "model": scenarios.model,
        "scenarios": {
            "size": scenarios.size,
            "dependence": scenarios.dependence,
            "members": scenarios.members,
            "fallbacks": scenarios.fallbacks,
        },
    }
