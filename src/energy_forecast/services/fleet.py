"""Fleet overview: each meter's readings joined with its active model, for the dashboard.

One pass over the series store and one over the model store, whatever the fleet size: the overview
page must stay cheap enough to refresh on a wall screen every minute.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import MeterNotFoundError
from energy_forecast.services.meters import MeterSummary, meter_summaries
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

# Readings this much newer than the model's training window mean the model is due a retrain.
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class MeterOverview:
    """One meter's row on the overview: readings, active model and its hold-out accuracy."""

    summary: MeterSummary
    model: ModelVersion | None

    @property
    def meter_id(self) -> str:
        return self.summary.meter.meter_id

    @property
    def meter_type(self) -> MeterType:
        return self.summary.meter.meter_type

    @property
    def last_reading(self) -> datetime | None:
        stats = self.summary.stats
        if stats is None or stats.last is None:
            return None
        return stats.last.to_pydatetime()

    @property
    def model_saved_at(self) -> datetime | None:
        if self.model is None or self.model.created_at is None:
            return None
        saved = datetime.fromisoformat(self.model.created_at)
        return saved if saved.tzinfo else saved.replace(tzinfo=UTC)

    def metric(self, name: str) -> float | None:
        """A hold-out metric of the active model (``cv_rmse_percent``, ``r2``, ...), if recorded."""
        if self.model is None:
            return None
        value = (self.model.metadata.get("metrics") or {}).get(name)
        return float(value) if isinstance(value, int | float) else None

    @property
    def trained_until(self) -> datetime | None:
        """End of the active model's training window."""
        if self.model is None:
            return None
        window: dict[str, Any] = self.model.metadata.get("training_window") or {}
        end = window.get("end")
        if not end:
            return None
        parsed = datetime.fromisoformat(str(end))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    @property
    def status(self) -> str:
        """``no-data``, ``untrained``, ``stale`` (readings outran the model) or ``ok``."""
        if self.last_reading is None:
            return "no-data"
        if self.model is None:
            return "untrained"
        trained_until = self.trained_until
        if trained_until is not None and self.last_reading - trained_until > STALE_AFTER:
            return "stale"
        return "ok"


def fleet_overview(store: SeriesStore, models: ModelStore) -> list[MeterOverview]:
    """Every registered meter with its active model (or none), sorted by type then id."""
    active = {(m.meter_type, m.meter_id): m for m in models.list_models()}
    rows = [
        MeterOverview(summary, active.get((summary.meter.meter_type, summary.meter.meter_id)))
        for summary in meter_summaries(store)
    ]
    return sorted(rows, key=lambda row: (row.meter_type.value, row.meter_id))


def meter_overview(
    store: SeriesStore, models: ModelStore, meter_type: MeterType, meter_id: str
) -> MeterOverview:
    """One meter's overview row.

    Raises:
        MeterNotFoundError: no meter of that type and id is registered.
    """
    meter = store.get_meter(meter_id)
    if meter is None or meter.meter_type != meter_type:
        raise MeterNotFoundError(meter_id)
    stats = store.readings_stats(meter_type, [meter_id]).get(meter_id)
    model = next((m for m in models.list_models(meter_type) if m.meter_id == meter_id), None)
    return MeterOverview(MeterSummary(meter, stats), model)


def fleet_median(rows: list[MeterOverview], metric: str) -> float | None:
    """Median of one metric over the meters whose active model recorded it."""
    values = [v for row in rows if (v := row.metric(metric)) is not None]
    return statistics.median(values) if values else None
