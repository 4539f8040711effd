"""What a peak or a cost is asked about: a meter (or a group of meters) with its readings, its
local calendar and a way to draw its forecast scenarios.

Peaks and costs read the same two things whichever the subject: the readings observed so far
(to complete each path's period) and joint scenarios from the hour after the last reading. A
``Subject`` carries both, so ``services.peaks`` and ``services.cost`` never ask which kind it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.errors import InputDataError, NoDataFoundError, NotFoundError
from energy_forecast.features.grid import HOUR
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecasting import MAX_HORIZON, FutureTemperature
from energy_forecast.services.group_forecast import group_scenarios
from energy_forecast.services.groups import get_group
from energy_forecast.services.scenarios import meter_scenarios
from energy_forecast.storage.base import ModelStore, SeriesStore

SCENARIOS = 200
HISTORY = pd.Timedelta(
    days=62
)  # a group's totals read back: this month and the last, for the default threshold
# (start, end) UTC, both inclusive -> scenarios over the forecast hours inside.
ScenarioSource = Callable[[pd.Timestamp, pd.Timestamp], Scenarios]


@dataclass(frozen=True)
class Subject:
    """A meter or group: its readings (UTC, hourly), calendar, unit and scenario source."""

    kind: str  # "meter" or "group"
    subject_id: str
    meter_type: MeterType
    timezone: str
    unit: str
    site_id: str | None
    readings: pd.Series
    scenarios: ScenarioSource
    last_reading: pd.Timestamp  # a group's: its earliest member's, where the group's forecast starts

    @property
    def origin(self) -> pd.Timestamp:
        """The first forecast hour: the hour after the last reading."""
        return self.last_reading + HOUR

    def draw(self, end: pd.Timestamp) -> Scenarios:
        """Scenarios from the origin through ``end`` (inclusive, capped at the forecast horizon).

        Raises:
            InputDataError: ``end`` is before the origin (nothing left to forecast).
        """
        last = self.last_reading
        end = min(end, last + MAX_HORIZON)
        if end < self.origin:
            raise InputDataError(f"nothing to forecast: readings already reach {last.isoformat()}")
        found = self.scenarios(self.origin, end)
        if not len(found.index):
            raise InputDataError(
                f"{self.kind} {self.subject_id!r} has no forecast hours up to {end.isoformat()}"
            )
        return found


def meter_subject(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType | str,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
    size: int = SCENARIOS,
) -> Subject:
    """A registered meter with readings.

    Raises:
        NotFoundError: no such meter, or a meter of the other type.
        NoDataFoundError: the meter has no readings to forecast from.
    """
    validate_meter_id(meter_id)
    meter_type = MeterType(meter_type)
    meter = store.get_meter(meter_id)
    if meter is None:
        raise NotFoundError(f"meter {meter_id!r} is not registered; import its readings first")
    if meter.meter_type != meter_type:
        raise NotFoundError(f"meter {meter_id!r} is a {meter.meter_type.value} meter, not {meter_type.value}")
    readings = store.read_readings(meter_type, meter_id).dropna()
    if readings.empty:
        raise NoDataFoundError(f"meter {meter_id!r} has no readings; import them first", meter_id=meter_id)

    def draw(start: pd.Timestamp, end: pd.Timestamp) -> Scenarios:
        return meter_scenarios(
            store, model_store, meter_id=meter_id, meter_type=meter_type, start=start, end=end,
            size=size, cache=cache, weather=weather,
        )  # fmt: skip

    last = pd.Timestamp(readings.index[-1])
    return Subject(
        "meter", meter_id, meter_type, meter.timezone, meter.unit, meter.site_id, readings, draw, last
    )


def subject_for(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str | None,
    group_id: str | None,
    meter_type: MeterType | str,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
) -> Subject:
    """The meter or group a request names (exactly one of ``meter_id``/``group_id``).

    Raises:
        InputDataError: both or neither id.
        NotFoundError: an unknown meter or group.
    """
    if (meter_id is None) == (group_id is None):
        raise InputDataError("give exactly one of meter_id and group_id")
    if meter_id is not None:
        return meter_subject(
            store, model_store, meter_id=meter_id, meter_type=meter_type, cache=cache, weather=weather
        )
    return group_subject(
        store, model_store, group_id=str(group_id), meter_type=meter_type, cache=cache, weather=weather
    )


def group_subject(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    group_id: str,
    meter_type: MeterType | str,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
    size: int = SCENARIOS,
) -> Subject:
    """A group: its hourly totals (hours where every member has a reading) and the joint scenarios
    of its total (``services.group_forecast``), starting after its earliest member's last reading.

    Raises:
        NotFoundError: no such group, or one of the other type.
        NoDataFoundError: none of its meters has readings.
    """
    meter_type = MeterType(meter_type)
    view = get_group(store, group_id)
    if view.group.meter_type != meter_type:
        kind = view.group.meter_type.value
        raise NotFoundError(f"group {group_id!r} is a group of {kind} meters, not {meter_type.value}")
    stats = store.readings_stats(meter_type, list(view.members))
    lasts = [s.last for s in stats.values() if s is not None and s.last is not None]
    if not lasts:
        raise NoDataFoundError(f"none of the meters of group {group_id!r} has readings; import them first")
    last = pd.Timestamp(min(lasts))
    known = group_scenarios(
        store,
        model_store,
        group_id=group_id,
        start=last - HISTORY,
        end=last,
        size=1,
        cache=cache,
        weather=weather,
    )  # the totals so far; no forecast hours in this window

    def draw(start: pd.Timestamp, end: pd.Timestamp) -> Scenarios:
        return group_scenarios(
            store,
            model_store,
            group_id=group_id,
            start=start,
            end=end,
            size=size,
            cache=cache,
            weather=weather,
        ).scenarios

    sites = {m.site_id for m in store.list_meters() if m.meter_id in set(view.members)}
    site = sites.pop() if len(sites) == 1 else None
    unit = known.scenarios.unit
    return Subject(
        "group", group_id, meter_type, known.timezone, unit, site, known.history, draw, known.last_reading
    )
