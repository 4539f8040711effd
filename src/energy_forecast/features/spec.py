"""FeatureSpec: the declarative recipe for a model's input columns, and build_features().

The spec is data (JSON via ``to_dict``/``from_dict``) and travels inside the model artifact, so the
rows used at forecast time are built by exactly the recipe used in training.

Two leakage bounds hold for the row of hour ``t``: lag, window and same-hour columns read nothing
after ``t - min_lag_hours``; anchored columns (``last_obs``, ``anchor_mean_*``, ``lead_hours``) read
nothing at or after the latest anchor ``<= t`` (UTC midnight with ``anchor_hours=24``). So no
column ever reads hour ``t`` itself or later. Both bounds set the blocks of the recursive forecaster
(see ``ml/forecasting.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.features.calendar import calendar_features
from energy_forecast.features.descriptors import DESCRIPTOR_HOURS, descriptor_columns
from energy_forecast.features.grid import HOUR, hourly_index, on_grid
from energy_forecast.features.lags import anchored_columns, lag_columns, same_hour_columns, window_columns
from energy_forecast.features.weather import temperature_columns


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model uses; every consumption feature is shifted by at least ``window_shift``."""

    timezone: str = "UTC"
    country: str | None = None
    calendar: tuple[str, ...] = ("hour", "weekday", "weekend", "holiday", "hour_of_week")
    lags: tuple[int, ...] = (24, 25, 26, 48, 72, 96, 120, 144, 167, 168, 169, 336)
    windows: tuple[int, ...] = (24, 168)
    window_stats: tuple[str, ...] = ("mean", "std", "min", "max")
    window_shift: int = 24
    same_hour_days: tuple[int, ...] = (7, 28)
    temperature: bool = True
    temperature_windows: tuple[int, ...] = (6, 24, 72)
    anchor_hours: int | None = 24
    anchor_windows: tuple[int, ...] = (24,)
    heating_base_c: float = 15.5
    cooling_base_c: float = 22.0
    # Scale-free meter descriptors (features/descriptors.py): on for fleet models only.
    descriptors: bool = False

    def __post_init__(self) -> None:
        for name in (
            "calendar",
            "lags",
            "windows",
            "window_stats",
            "same_hour_days",
            "temperature_windows",
            "anchor_windows",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if any(k < 1 for k in self.lags) or self.window_shift < 1:
            raise ValueError("lags and window_shift must be >= 1 hour (a lag of 0 is the target itself)")
        if self.anchor_hours is not None and (self.anchor_hours < 1 or 24 % self.anchor_hours):
            raise ValueError("anchor_hours must divide 24 (anchors fall on UTC day boundaries)")
        if any(w < 1 for w in (*self.windows, *self.temperature_windows, *self.same_hour_days)):
            raise ValueError("windows and day counts must be positive")

    @property
    def min_lag_hours(self) -> int:
        """The smallest distance in hours between a target and any reading its features use."""
        candidates = [*self.lags, self.window_shift]
        if self.same_hour_days:
            candidates.append(24 * max(1, -(-self.window_shift // 24)))
        return min(candidates)

    def anchor_lead(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Hours from the latest anchor at or before each UTC hour (0 when the hour is an anchor)."""
        hours = pd.DatetimeIndex(index).as_unit("ns").asi8 // HOUR.value
        return np.asarray(hours % (self.anchor_hours or 1), dtype=np.int64)

    @property
    def lookback_hours(self) -> int:
        """How much history before the first target hour the features can read."""
        first_day = max(1, -(-self.window_shift // 24))
        reach = [
            *self.lags,
            *(self.window_shift + w - 1 for w in self.windows),
            *(24 * (first_day + n - 1) for n in self.same_hour_days),
            *(w - 1 for w in self.temperature_windows),
            max(168, *self.anchor_windows) + 24 + (self.anchor_hours or 0) if self.anchor_hours else 0,
            DESCRIPTOR_HOURS + 24 + (self.anchor_hours or 0) if self.descriptors else 0,
        ]
        return max(reach, default=0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of ``to_dict``; unknown keys are rejected so a newer artifact fails loudly."""
        return cls(**data)


def build_features(
    consumption: pd.Series,
    temperature: pd.Series | None,
    spec: FeatureSpec,
    index: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """One feature row per UTC hour in ``index`` (default: every hour from first to last reading).

    Readings are put on a full hourly grid reaching ``spec.lookback_hours`` before the first target,
    gaps stay NaN. Readings at or after a target hour may be present (training) and are never read
    for that hour's row.
    """
    if index is None:
        if consumption.empty:
            raise ValueError("no readings and no target index: nothing to build")
        index = hourly_index(consumption.index[0], consumption.index[-1])
    index = pd.DatetimeIndex(index).tz_convert("UTC").as_unit("ns")
    if len(index) == 0:
        return pd.DataFrame(index=index)
    grid = hourly_index(index[0] - spec.lookback_hours * HOUR, index[-1])
    positions = np.rint(np.asarray((index - grid[0]) / HOUR, dtype="float64")).astype(np.int64)
    values = on_grid(consumption, grid)

    columns: dict[str, np.ndarray] = {}
    columns.update(
        calendar_features(index, timezone=spec.timezone, country=spec.country, names=spec.calendar)
    )
    columns.update(lag_columns(values, positions, spec.lags))
    columns.update(window_columns(values, positions, spec.windows, spec.window_stats, spec.window_shift))
    columns.update(same_hour_columns(values, positions, spec.same_hour_days, spec.window_shift))
    if spec.anchor_hours:
        columns.update(anchored_columns(values, positions, spec.anchor_lead(index), spec.anchor_windows))
    if spec.temperature:
        columns.update(
            temperature_columns(
                on_grid(temperature, grid),
                positions,
                windows=spec.temperature_windows,
                heating_base_c=spec.heating_base_c,
                cooling_base_c=spec.cooling_base_c,
            )
        )
    if spec.descriptors:
        lead = spec.anchor_lead(index) if spec.anchor_hours else np.full(len(index), spec.window_shift - 1)
        columns.update(
            descriptor_columns(values, on_grid(temperature, grid), grid, positions, lead, spec.timezone)
        )
    return pd.DataFrame(columns, index=index)
