"""Cold start: the blend of a meter too new for its own model (the global member and a baseline).

A meter with a week of readings but fewer than ``blend.MIN_OWN_DAYS`` has no own model; its
forecast is the global member of its type (trained on other meters) blended with the meter's best
seasonal-naive forecast, weights chosen on the meter's own readings and shrunk toward the global
member alone, with the ensemble's quantiles calibrated on the same hours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.features.spec import build_features
from energy_forecast.ml.baselines import baseline_frame
from energy_forecast.ml.blend import (
    MIN_BLEND_HOURS,
    BlendWeights,
    blend_quantiles,
    calibrate_band,
    combine_members,
    fit_blend,
)
from energy_forecast.ml.model import ForecastModel

COLD_PRIOR_HOURS = 336


def fit_cold_blend(
    readings: pd.Series,
    temperature: pd.Series | None,
    fleet_model: ForecastModel,
    level: float = 0.8,
    prior_hours: float = COLD_PRIOR_HOURS,
) -> BlendWeights | None:
    """Weights of the fleet model and the best baseline for a meter too new for its own model.

    Chosen on the meter's own readings after its first week (where the baselines exist), forecast
    day-ahead by the fleet fold model that never saw the meter: a new meter on which the fleet
    model fails gets mostly the seasonal-naive forecast. ``model`` is the fleet model's weight.
    """
    if readings.empty:
        return None
    start = readings.index[0] + pd.Timedelta(days=7)
    index = pd.DatetimeIndex(readings.index[readings.index >= start])
    if len(index) < MIN_BLEND_HOURS:
        return None
    features = build_features(readings, temperature, fleet_model.spec, index)
    holdout = fleet_model.predict_interval(features)
    holdout["actual"] = readings.reindex(index).to_numpy(dtype="float64")
    chosen = fit_blend(holdout, readings, temperature, None, level=level, prior=None)
    if chosen is None or prior_hours <= 0:
        return chosen
    # A week of hours is a noisy judge: shrink toward the fleet model alone, as if ``prior_hours``
    # more hours had said so (unshrunk weights cost the 14-day cold start its median in bench/accuracy.py).
    share = chosen.holdout_hours / (chosen.holdout_hours + prior_hours)
    fleet_w = share * chosen.model + (1.0 - share)
    baseline = baseline_frame(readings, index, np.zeros(len(index), dtype=np.int64))[chosen.baseline_name]
    blended = combine_members(
        np.array([fleet_w, 1.0 - fleet_w]), [holdout["forecast"].to_numpy(), baseline.to_numpy()]
    )
    scale = calibrate_band(holdout["actual"].to_numpy(), blended, holdout, level)
    quantiles = blend_quantiles(holdout["actual"].to_numpy(), blended, holdout)
    return BlendWeights(
        fleet_w, 0.0, 1.0 - fleet_w, chosen.baseline_name, scale, chosen.holdout_hours, quantiles=quantiles
    )
