"""Retention: drop published forecast points past their retention and model versions past the keep.

Forecast points are dropped per meter type when their hour is more than ``forecast_retention``
before the newest reading of that type: for a live feed that is "now", and a historical data
set (replayed or imported) keeps its forecasts instead of losing all of them on the first run.
Of each meter's model versions, the active one and the newest ``keep_versions`` stay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import ConflictError, ModelNotFoundError
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore


@dataclass(frozen=True, slots=True)
class RetentionReport:
    forecast_cutoffs: dict[str, str]  # meter type -> ISO hour before which points were removed
    versions_removed: int
    meters_pruned: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def versions_to_remove(versions: list[ModelVersion], keep: int) -> list[int]:
    """Every version except the active one and the newest ``keep`` (oldest first)."""
    newest = {v.version for v in sorted(versions, key=lambda v: v.version)[-keep:]} if keep > 0 else set()
    return [v.version for v in versions if not v.active and v.version not in newest]


def apply_retention(
    store: SeriesStore, model_store: ModelStore, *, forecast_retention: timedelta, keep_versions: int
) -> RetentionReport:
    """Apply both rules once; safe to repeat (a second run finds nothing left to remove)."""
    cutoffs: dict[str, str] = {}
    for meter_type in MeterType:
        lasts = [s.last for s in store.readings_stats(meter_type).values() if s.last is not None]
        if not lasts:
            continue
        cutoff = max(lasts) - forecast_retention
        store.delete_forecast_before(meter_type, cutoff)
        cutoffs[meter_type.value] = cutoff.isoformat()
    removed = pruned = 0
    for active in model_store.list_models():
        versions = model_store.list_versions(active.meter_type, active.meter_id)
        doomed = versions_to_remove(versions, keep_versions)
        for version in doomed:
            try:
                model_store.delete_version(active.meter_type, active.meter_id, version)
                removed += 1
            except (ConflictError, ModelNotFoundError):  # activated or removed meanwhile
                continue
        pruned += bool(doomed)
    return RetentionReport(cutoffs, removed, pruned)
