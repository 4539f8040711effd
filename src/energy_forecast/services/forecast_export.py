"""Write forecasts back to the series store, so dashboards (Grafana) read them beside the readings.

Each export forecasts ``days`` ahead from the hour after a meter's last reading through
``services.forecasting.forecast_meter`` (the same path as ``POST /forecast/``) and upserts the
hourly points under the model version that made them (``v{n}``, or ``substituted`` for the
same-hour fallback). Layout: ``storage/forecast_layout.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

import pandas as pd

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecasting import MAX_HORIZON, forecast_meter
from energy_forecast.storage.base import ModelStore, SeriesStore
from energy_forecast.storage.forecast_layout import model_version_tag

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ExportedForecast:
    """What one export wrote."""

    meter_id: str
    meter_type: str
    model_version: str
    points_written: int
    first_hour: str | None
    last_hour: str | None
    substituted: bool
    # The hourly points themselves (value and band columns, UTC index), for callers that show them.
    frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """What was written, without the points (see ``frame``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "frame"}


def check_days(days: int) -> timedelta:
    """The horizon as a timedelta. Raises InputDataError outside 1 .. MAX_HORIZON days."""
    if not 1 <= days <= MAX_HORIZON.days:
        raise InputDataError(f"days must be between 1 and {MAX_HORIZON.days}, got {days}")
    return timedelta(days=days)


def export_forecast(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    days: int = 7,
    write: bool = True,
    cache: ModelCache | None = None,
    last_reading: pd.Timestamp | None = None,
) -> ExportedForecast:
    """Forecast ``days`` after the last reading and (with ``write``) upsert it into the store.

    ``last_reading`` saves the fleet-wide ``readings_stats`` query when the caller already knows it
    (a publication chunk reads the stats once for all its meters).

    Raises:
        InputDataError: ``days`` outside 1..31.
        NotFoundError: the meter has no readings of this type.
    """
    horizon = check_days(days)
    meter_type = MeterType(meter_type)
    validate_meter_id(meter_id)
    if last_reading is None:
        stats = store.readings_stats(meter_type, [meter_id]).get(meter_id)
        last_reading = stats.last if stats is not None else None
    if last_reading is None:
        raise NotFoundError(
            f"meter {meter_id!r} has no {meter_type.value} readings to forecast from; import them first"
        )
    start = last_reading + HOUR
    end = last_reading + horizon
    result = forecast_meter(
        store, model_store, meter_id=meter_id, meter_type=meter_type, start=start, end=end, cache=cache
    )
    points = [p for p in result.points if p.kind == "forecast"]
    columns = {
        "value": [p.value for p in points],
        "lower": [p.lower if p.lower is not None else float("nan") for p in points],
        "upper": [p.upper if p.upper is not None else float("nan") for p in points],
    }
    keys = dict.fromkeys(k for p in points for k in (p.quantiles or {}))
    columns.update({k: [(p.quantiles or {}).get(k, float("nan")) for p in points] for k in keys})
    frame = pd.DataFrame(
        columns, index=pd.DatetimeIndex([pd.Timestamp(p.label) for p in points]).tz_convert("UTC")
    )
    version = model_version_tag(result.model_version)
    written = store.write_forecast(meter_type, meter_id, version, frame) if write and len(frame) else 0
    return ExportedForecast(
        meter_id=meter_id,
        meter_type=meter_type.value,
        model_version=version,
        points_written=written,
        first_hour=frame.index[0].isoformat() if len(frame) else None,
        last_hour=frame.index[-1].isoformat() if len(frame) else None,
        substituted=result.substituted,
        frame=frame,
    )
