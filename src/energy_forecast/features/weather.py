"""Temperature features: the hour's temperature, trailing means and degree-hours.

Temperature for hour ``t`` is an input the caller supplies (observed in training, forecast weather
when predicting), so using it at ``t`` is not leakage. Smoothing is trailing (``t`` and earlier),
never centred, so a feature never needs weather beyond the hour it describes. Degree-hours use
fixed comfort bases; buildings and water demand respond to heat and cold asymmetrically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from energy_forecast.features.lags import trailing_windows, window_stat


def temperature_columns(
    temperature: np.ndarray,
    positions: np.ndarray,
    *,
    windows: Sequence[int],
    heating_base_c: float,
    cooling_base_c: float,
) -> dict[str, np.ndarray]:
    """``temp_c``, ``temp_mean_{w}h`` (trailing, half the hours needed), ``hdh`` and ``cdh``."""
    current = temperature[positions]
    columns: dict[str, np.ndarray] = {"temp_c": current}
    for window in windows:
        matrix = trailing_windows(temperature, positions, window)
        columns[f"temp_mean_{window}h"] = window_stat(matrix, "mean", max(1, window // 2))
    with np.errstate(invalid="ignore"):
        columns["hdh"] = np.where(np.isfinite(current), np.maximum(heating_base_c - current, 0.0), np.nan)
        columns["cdh"] = np.where(np.isfinite(current), np.maximum(current - cooling_base_c, 0.0), np.nan)
    return columns
