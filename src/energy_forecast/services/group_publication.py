"""Publish every group's forecast of its total: what the scheduler's publication adds to the meters'.

Each group's hourly total from the hour after its earliest member's last reading, ``days`` ahead,
with the quantiles of the total (``services.group_forecast``), is written to the store's
``forecast`` measurement/table under the group's id with the model version ``group``, so Grafana
and ``/forecasts/{type}/{id}/latest`` read it as they read a meter's. One group's problem is
recorded for that group and the rest go on; an unreachable store fails the whole run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from energy_forecast.errors import EnergyForecastError, NotFoundError, StorageError
from energy_forecast.features.grid import HOUR
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecast_export import check_days
from energy_forecast.services.group_forecast import group_points, group_scenarios
from energy_forecast.services.groups import get_group
from energy_forecast.services.publication import PublishedForecast
from energy_forecast.storage.base import ModelStore, SeriesStore

GROUP_VERSION = "group"  # the model_version tag of a group's published forecast


def publish_groups(
    store: SeriesStore, model_store: ModelStore, *, days: int = 7, cache: ModelCache | None = None
) -> list[PublishedForecast]:
    """Publish every group; one result per group (``meter_id`` holds the group's id).

    Raises:
        InputDataError: ``days`` outside 1..31. StorageError: a store cannot be reached.
    """
    check_days(days)
    cache = cache or ModelCache()
    results = []
    for group in store.list_groups():
        issued_at = datetime.now(UTC).isoformat()
        try:
            published, _ = export_group(
                store, model_store, group.group_id, days=days, cache=cache, write=True, issued_at=issued_at
            )
            results.append(published)
        except StorageError:
            raise
        except EnergyForecastError as exc:
            results.append(
                PublishedForecast(group.group_id, group.meter_type.value, issued_at, error=exc.message)
            )
    return results


def export_group(
    store: SeriesStore,
    model_store: ModelStore,
    group_id: str,
    *,
    days: int = 7,
    cache: ModelCache | None = None,
    write: bool = False,
    issued_at: str | None = None,
) -> tuple[PublishedForecast, pd.DataFrame]:
    """One group's forecast of its total from its earliest member's last reading, ``days`` ahead.

    Returns what was (or, without ``write``, would be) written and the frame itself: ``value``,
    ``lower``/``upper`` and one column per configured quantile, indexed by UTC hour. The CLI's
    ``forecast --group`` and the scheduler's publication both come here.

    Raises:
        NotFoundError: unknown group, or none of its members has readings. InputDataError: ``days``.
    """
    horizon = check_days(days)
    cache = cache or ModelCache()
    issued_at = issued_at or datetime.now(UTC).isoformat()
    view = get_group(store, group_id)
    group = view.group
    stats = store.readings_stats(group.meter_type, list(view.members))
    lasts = [s.last for s in stats.values() if s.last is not None]
    if not lasts:
        raise NotFoundError(f"group {group_id!r}: none of its meters has readings to forecast from")
    last = min(lasts)  # the group's forecast starts after its earliest member's last reading
    answer = group_scenarios(
        store, model_store, group_id=group_id, start=last + HOUR, end=last + horizon, cache=cache
    )
    points = [p for p in group_points(answer, cache.levels) if p.kind == "forecast"]
    columns: dict[str, list[float]] = {
        "value": [p.value for p in points],
        "lower": [p.lower if p.lower is not None else float("nan") for p in points],
        "upper": [p.upper if p.upper is not None else float("nan") for p in points],
    }
    keys = dict.fromkeys(k for p in points for k in (p.quantiles or {}))
    columns.update({k: [(p.quantiles or {}).get(k, float("nan")) for p in points] for k in keys})
    index = pd.DatetimeIndex([pd.Timestamp(p.label) for p in points]).tz_convert("UTC")
    frame = pd.DataFrame(columns, index=index)
    written = (
        store.write_forecast(group.meter_type, group_id, GROUP_VERSION, frame) if write and len(frame) else 0
    )
    published = PublishedForecast(
        meter_id=group_id,
        meter_type=group.meter_type.value,
        issued_at=issued_at,
        model_version=GROUP_VERSION,
        points_written=written,
        first_hour=index[0].isoformat() if len(index) else None,
        last_hour=index[-1].isoformat() if len(index) else None,
        substituted=answer.scenarios.fallbacks > 0,
    )
    return published, frame
