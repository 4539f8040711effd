"""Publish forecasts for a chunk of meters: the work of one publication task.

Each meter gets a ``days``-ahead forecast from the hour after its last reading, written to the
store's ``forecast`` measurement/table (``services.forecast_export``), plus the live accuracy of
its active model's earlier publications (``services.live_accuracy``). One meter's data problem is
recorded for that meter and the chunk goes on; a store that cannot be reached fails the whole
chunk (``StorageError``), so the task is retried instead of filing every meter as failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import EnergyForecastError, ModelNotFoundError, StorageError
from energy_forecast.services.forecast_export import check_days, export_forecast
from energy_forecast.services.forecasting import ModelCache
from energy_forecast.services.live_accuracy import live_accuracy
from energy_forecast.storage.base import ModelStore, SeriesStore
from energy_forecast.storage.forecast_layout import model_version_tag


@dataclass(frozen=True, slots=True)
class PublishedForecast:
    """What one meter's publication wrote (or why it wrote nothing: ``error``)."""

    meter_id: str
    meter_type: str
    issued_at: str
    model_version: str | None = None
    points_written: int = 0
    first_hour: str | None = None
    last_hour: str | None = None
    substituted: bool = False
    holdout_cv_rmse_percent: float | None = None
    live_cv_rmse_percent: float | None = None
    live_hours: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def publish_chunk(
    store: SeriesStore,
    model_store: ModelStore,
    meters: Sequence[tuple[str, MeterType]],
    *,
    days: int = 7,
    cache: ModelCache | None = None,
) -> list[PublishedForecast]:
    """Publish every meter of the chunk, in order; one result per meter.

    Raises:
        InputDataError: ``days`` outside 1..31 (nothing is written).
        StorageError: a store cannot be reached or refused a write.
    """
    check_days(days)
    cache = cache or ModelCache()
    stats = {
        t: store.readings_stats(t, [m for m, mt in meters if MeterType(mt) is t])
        for t in dict.fromkeys(MeterType(t) for _, t in meters)
    }
    results = []
    for meter_id, meter_type in meters:
        meter_type = MeterType(meter_type)
        issued_at = datetime.now(UTC).isoformat()
        try:
            results.append(
                _publish_one(store, model_store, meter_id, meter_type, days, cache, stats, issued_at)
            )
        except StorageError:
            raise
        except EnergyForecastError as exc:
            results.append(PublishedForecast(meter_id, meter_type.value, issued_at, error=exc.message))
    return results


def _publish_one(
    store: SeriesStore,
    model_store: ModelStore,
    meter_id: str,
    meter_type: MeterType,
    days: int,
    cache: ModelCache,
    stats: dict[MeterType, Any],
    issued_at: str,
) -> PublishedForecast:
    meter_stats = stats[meter_type].get(meter_id)
    last = meter_stats.last if meter_stats is not None else None
    exported = export_forecast(
        store, model_store, meter_id=meter_id, meter_type=meter_type, days=days, cache=cache,
        last_reading=last,
    )  # fmt: skip
    holdout = live_cv = None
    live_hours = 0
    try:
        active = model_store.get_version(meter_type, meter_id)
    except ModelNotFoundError:
        active = None
    if active is not None and last is not None:
        value = (active.metadata.get("metrics") or {}).get("cv_rmse_percent")
        holdout = float(value) if isinstance(value, int | float) else None
        live = live_accuracy(store, meter_type, meter_id, model_version_tag(active.version), last)
        live_cv, live_hours = live.cv_rmse_percent, live.hours
    return PublishedForecast(
        meter_id=meter_id,
        meter_type=meter_type.value,
        issued_at=issued_at,
        model_version=exported.model_version,
        points_written=exported.points_written,
        first_hour=exported.first_hour,
        last_hour=exported.last_hour,
        substituted=exported.substituted,
        holdout_cv_rmse_percent=holdout,
        live_cv_rmse_percent=live_cv,
        live_hours=live_hours,
    )
