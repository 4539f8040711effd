"""Scale-free descriptors of a meter, computed from its own past: what lets one fleet model serve many.

A fleet model (``ml/fleet.py``) never sees a meter id, so it must learn "what kind of meter is this"
from the readings themselves. Each descriptor is a ratio or a correlation, so a 1 kWh household and
a 50 MWh campus with the same habits look alike:

* ``desc_weekend_ratio``: mean of weekend hours over mean of weekday hours (offices << 1, homes > 1);
* ``desc_night_ratio``: mean of local 00-05 h over the overall mean (base load share);
* ``desc_cv``: standard deviation over mean (how peaky);
* ``desc_profile``: the mean of the target's local hour of the week over the window, over the
  overall mean (the meter's own weekly shape at that hour);
* ``desc_temp_corr``: correlation of consumption with temperature (heating < 0 < cooling).

Every descriptor for hour ``t`` reads the ``DESCRIPTOR_HOURS`` grid slots before the latest anchor
(UTC midnight) at or before ``t``, the same bound as the anchored columns, so the recursive
forecaster's blocks (which never span an anchor) keep it leakage-safe. They are computed once per
anchor day and broadcast to its hours: they move slowly and this keeps them cheap (one window per
day, not per hour). A window needs a quarter of its hours; a meter with 7 days gets values from
its week, NaN before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.features.lags import trailing_windows

DESCRIPTOR_HOURS = 28 * 24
DESCRIPTOR_NAMES = ("desc_weekend_ratio", "desc_night_ratio", "desc_cv", "desc_profile", "desc_temp_corr")


def _masked_mean(windows: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    values = windows if mask is None else np.where(mask, windows, np.nan)
    count = np.isfinite(values).sum(axis=1)
    total = np.nansum(values, axis=1)
    return np.divide(total, count, out=np.full(len(values), np.nan), where=count > 0)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(len(numerator), np.nan)
    ok = np.isfinite(numerator) & np.isfinite(denominator) & (denominator > 0)
    out[ok] = numerator[ok] / denominator[ok]
    return out


def descriptor_columns(
    values: np.ndarray,
    temperature: np.ndarray,
    grid: pd.DatetimeIndex,
    positions: np.ndarray,
    lead: np.ndarray,
    timezone: str,
) -> dict[str, np.ndarray]:
    """The ``DESCRIPTOR_NAMES`` columns for target slots ``positions`` on ``grid``.

    ``lead`` is each target's distance in hours from its anchor (``FeatureSpec.anchor_lead``).
    """
    n = len(positions)
    if n == 0:
        return {name: np.empty(0) for name in DESCRIPTOR_NAMES}
    anchor_end = positions - lead - 1
    ends, inverse = np.unique(anchor_end, return_inverse=True)
    window = DESCRIPTOR_HOURS
    local = grid.tz_convert(timezone)
    weekend = local.day_of_week.to_numpy() >= 5
    night = local.hour.to_numpy() < 6
    hour_of_week = local.day_of_week.to_numpy() * 24 + local.hour.to_numpy()

    consumption = trailing_windows(values, ends, window)
    count = np.isfinite(consumption).sum(axis=1)
    enough = count >= window // 4
    mean = _masked_mean(consumption)
    weekend_w = trailing_windows(np.where(weekend, 1.0, np.nan), ends, window)
    night_w = trailing_windows(np.where(night, 1.0, np.nan), ends, window)
    columns = {
        "desc_weekend_ratio": _ratio(
            _masked_mean(consumption, np.isfinite(weekend_w)),
            _masked_mean(consumption, ~np.isfinite(weekend_w)),
        ),
        "desc_night_ratio": _ratio(_masked_mean(consumption, np.isfinite(night_w)), mean),
    }
    deviation = consumption - mean[:, None]
    variance = np.divide(
        np.nansum(deviation * deviation, axis=1), count - 1, out=np.full(len(ends), np.nan), where=count > 1
    )
    columns["desc_cv"] = _ratio(np.sqrt(variance), mean)

    temp = trailing_windows(temperature, ends, window)
    both = np.isfinite(consumption) & np.isfinite(temp)
    pairs = both.sum(axis=1)
    c = np.where(both, consumption, 0.0)
    t = np.where(both, temp, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc = c.sum(axis=1) / pairs
        mt = t.sum(axis=1) / pairs
        dc = np.where(both, c - mc[:, None], 0.0)
        dt = np.where(both, t - mt[:, None], 0.0)
        corr = (dc * dt).sum(axis=1) / np.sqrt((dc * dc).sum(axis=1) * (dt * dt).sum(axis=1))
    columns["desc_temp_corr"] = np.where((pairs >= window // 4) & np.isfinite(corr), corr, np.nan)
    daily = {name: np.where(enough, column, np.nan)[inverse] for name, column in columns.items()}

    # The weekly shape at the target's own hour of the week: the 4 same hours of the week before
    # the anchor (at least 168 h back from the anchor end, so all read before the anchor).
    target_how = hour_of_week[positions]
    total = np.zeros(n)
    found = np.zeros(n)
    for week in range(1, 5):
        back = positions - 168 * week
        back = np.where(back > anchor_end, back - 168, back)
        ok = back >= 0
        taken = np.full(n, np.nan)
        taken[ok] = values[back[ok]]
        present = np.isfinite(taken) & (hour_of_week[np.maximum(back, 0)] == target_how)
        total[present] += taken[present]
        found[present] += 1
    profile = np.divide(total, found, out=np.full(n, np.nan), where=found > 0)
    daily["desc_profile"] = _ratio(profile, mean[inverse])
    return {name: daily[name] for name in DESCRIPTOR_NAMES}
