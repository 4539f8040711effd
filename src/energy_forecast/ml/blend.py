"""The ensemble: the meter's own model, the global member of its type and the best seasonal naive.

**Weights.** Chosen on the meter's own in-window hold-out (the last 20 % of its training readings,
predicted by the hold-out model, by the fleet fold model that never saw the meter, and by the
seasonal-naive baselines from readings before each hour's origin), never on scored days. They are
constrained: non-negative and summing to one, searched on a 0.05 grid of the simplex (231
candidates) for the lowest squared error. Why not a stacking regression: the three forecasts are
strongly collinear and a hold-out has a few hundred to a few thousand hours, so free coefficients
overfit and can extrapolate (negative weights, sums far from one); a convex combination stays
inside the range of its members and, on the hold-out, is never worse than the best of them, so
a meter whose hold-out says a baseline wins gets mostly the baseline.

**Shrinkage.** A hold-out of a few hundred hours is a noisy judge, so the chosen weights are
shrunk toward fleet-wide weights (``prior``: the mean weights of the type's meters, kept with the
global member) as if ``PRIOR_HOURS`` more hours had voted for them: a meter with a year of
history keeps mostly its own weights, a meter with a month leans on the fleet's. The unshrunk
weights are kept (``raw``) so the fleet-wide mean is never a mean of means already shrunk.

**Quantiles.** The blend's quantiles are split-conformal offsets of its own hold-out residuals,
each divided by the meter model's 80 % band width on that hour (``quantiles.normalised_offsets``):
forecast hour ``h`` gets ``blend + offset(q) * width(h)``, so the band follows the meter model's
level and per-day widening while its coverage is the blend's own. The offsets are centred (the
median's is zero, so ``value``, the P50, is the blend itself): the hold-out residuals are those of
the hold-out model, whose bias (it is fitted without the newest 20 % of the readings) the refit
that forecasts does not share, so only their spread is carried over, never their median.
Residuals are weighted by recency (halving every ``QUANTILE_HALF_LIFE_DAYS``; weighted conformal
for drifting series, Barber et al. 2023): the weeks just before a forecast say more about its spread.
Bundles written before carry only ``interval_scale`` (the ``level`` quantile of how much of the
meter model's half-width each hold-out hour needed): their quantiles are the meter model's,
re-centred and scaled by it.
The 80 % ``interval_scale`` of older consumers is calibrated in one place, ``calibrate_band``,
on the ensemble's own out-of-sample residuals (``ensemble_holdout``).

**Cold start.** A meter with too little history for its own model (``MIN_OWN_DAYS``) but a week
of readings is forecast by the fleet model and its best baseline (``ml.cold_blend``); every answer
says ``model: fleet``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.features.spec import build_features
from energy_forecast.ml.baselines import BASELINES, baseline_frame, baselines_at
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.quantiles import (
    QuantileOffsets,
    frame_levels,
    normalised_offsets,
    quantile_columns,
    quantile_key,
    recency_weights,
    reported_levels,
)

MIN_OWN_DAYS = 28
GRID_STEP = 0.05
MIN_BLEND_HOURS = 48
# Fleet-wide weights (own model, global member, seasonal naive) before a type has any of its own,
# and how many hold-out hours they count for: the mean weights the development meters chose on
# their own hold-outs (electricity 0.53/0.37/0.10, water 0.73/0.27/0.00), rounded.
DEFAULT_PRIORS = {
    MeterType.ELECTRICITY: (0.55, 0.35, 0.10),
    MeterType.WATER: (0.7, 0.3, 0.0),
}
DEFAULT_PRIOR = DEFAULT_PRIORS[MeterType.ELECTRICITY]
PRIOR_HOURS = 336.0
# Half-life of the hold-out residuals' weights in the blend's quantile offsets (see "Quantiles").
QUANTILE_HALF_LIFE_DAYS = 10.0


@dataclass(frozen=True)
class BlendWeights:
    """Convex weights of the three forecasters and the interval factor, as stored in the bundle."""

    model: float
    fleet: float
    baseline: float
    baseline_name: str
    interval_scale: float
    holdout_hours: int
    fleet_version: int | None = None
    # The hold-out's own weights before shrinkage (model, fleet, baseline): what fleet-wide
    # weights are averaged from. None in bundles written before there was shrinkage.
    raw: tuple[float, float, float] | None = None
    # QuantileOffsets.to_dict() of the blend's normalised hold-out residuals (None: older bundle).
    quantiles: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlendWeights:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("raw") is not None:
            known["raw"] = tuple(float(w) for w in known["raw"])
        return cls(**known)


def own_model_days(readings: pd.Series) -> float:
    """Days between the first and last reading: what decides own model (blend) or fleet only."""
    values = readings.dropna()
    if values.empty:
        return 0.0
    return float((values.index[-1] - values.index[0]) / pd.Timedelta(days=1))


def simplex_weights(actual: np.ndarray, members: np.ndarray, step: float = GRID_STEP) -> np.ndarray:
    """The convex weights (a 0.05 grid) with the lowest squared error of ``members @ w`` to ``actual``.

    ``members`` has one column per forecaster; rows with any NaN are ignored. Ties keep the first
    candidate in grid order, which favours the first member (the meter's own model).
    """
    ok = np.isfinite(actual) & np.isfinite(members).all(axis=1)
    y, x = actual[ok], members[ok]
    steps = round(1 / step)
    best, best_error = np.array([1.0] + [0.0] * (x.shape[1] - 1)), np.inf
    if not len(y):
        return best
    if x.shape[1] == 2:
        grid = [np.array([i, steps - i]) / steps for i in range(steps, -1, -1)]
    else:
        grid = [
            np.array([i, j, steps - i - j]) / steps
            for i in range(steps, -1, -1)
            for j in range(steps - i, -1, -1)
        ]
    for w in grid:
        error = float(np.sum((x @ w - y) ** 2))
        if not np.isfinite(best_error) or error < best_error * (1 - 1e-12):
            best, best_error = w, error
    return best


def shrunk(
    weights: np.ndarray, prior: np.ndarray, hours: float, prior_hours: float = PRIOR_HOURS
) -> np.ndarray:
    """``weights`` pulled toward ``prior`` as if ``prior_hours`` more hours had chosen it."""
    total = float(np.sum(prior))
    if prior_hours <= 0 or total <= 0:
        return weights
    share = hours / (hours + prior_hours)
    return share * weights + (1.0 - share) * prior / total


def default_prior(meter_type: MeterType | str) -> tuple[float, float, float]:
    """The built-in fleet-wide weights of a type, before its meters have chosen any."""
    return DEFAULT_PRIORS.get(MeterType(meter_type), DEFAULT_PRIOR)


def fleet_prior(
    raw_weights: list[tuple[float, float, float]], meter_type: MeterType | str = MeterType.ELECTRICITY
) -> tuple[float, float, float]:
    """Fleet-wide weights: the mean of meters' unshrunk weights (``default_prior`` with none)."""
    if not raw_weights:
        return default_prior(meter_type)
    mean = np.mean(np.asarray(raw_weights, dtype="float64"), axis=0)
    mean = mean / mean.sum() if mean.sum() > 0 else np.asarray(default_prior(meter_type))
    return (float(mean[0]), float(mean[1]), float(mean[2]))


def fit_blend(
    holdout: pd.DataFrame,
    readings: pd.Series,
    temperature: pd.Series | None,
    fleet_model: ForecastModel | None,
    *,
    level: float = 0.8,
    fleet_version: int | None = None,
    prior: tuple[float, float, float] | None = DEFAULT_PRIOR,
    prior_hours: float = PRIOR_HOURS,
) -> BlendWeights | None:
    """Weights and interval factor from the hold-out frame of ``fit_model`` (None: too few hours).

    Without a global member its prior weight goes to the meter's own model.
    """
    index = pd.DatetimeIndex(holdout.index)
    actual = holdout["actual"].to_numpy(dtype="float64")
    ours = holdout["forecast"].to_numpy(dtype="float64")
    baselines = baseline_frame(readings, index, np.zeros(len(index), dtype=np.int64))
    scores = {}
    for name in BASELINES:
        values = baselines[name].to_numpy()
        ok = np.isfinite(values) & np.isfinite(actual)
        scores[name] = (
            float(np.mean((values[ok] - actual[ok]) ** 2)) if ok.sum() >= MIN_BLEND_HOURS else np.inf
        )
    baseline_name = min(scores, key=lambda n: scores[n])
    if not np.isfinite(scores[baseline_name]):
        return None
    columns = [ours]
    if fleet_model is not None:
        columns.append(_fleet_day_ahead(fleet_model, readings, temperature, index))
        if fleet_version is not None:  # kept for ensemble_holdout with the same stored version
            holdout.attrs[_GLOBAL_KEY] = _KeptGlobal(fleet_version, columns[-1])
    columns.append(baselines[baseline_name].to_numpy())
    raw = simplex_weights(actual, np.column_stack(columns))
    hours = int(np.isfinite(actual).sum())
    if prior is None:
        weights = raw
    else:
        p_own, p_fleet, p_base = prior
        chosen = [p_own, p_fleet, p_base] if fleet_model is not None else [p_own + p_fleet, p_base]
        weights = shrunk(raw, np.asarray(chosen, dtype="float64"), hours, prior_hours)
    fleet_w = float(weights[1]) if fleet_model is not None else 0.0
    blended = combine_members(weights, columns)
    scale = calibrate_band(actual, blended, holdout, level)
    raw3 = (float(raw[0]), float(raw[1]) if fleet_model is not None else 0.0, float(raw[-1]))
    return BlendWeights(
        model=float(weights[0]),
        fleet=fleet_w,
        baseline=float(weights[-1]),
        baseline_name=baseline_name,
        interval_scale=scale,
        holdout_hours=hours,
        fleet_version=fleet_version,
        raw=raw3 if fleet_model is not None else None,
        quantiles=blend_quantiles(actual, blended, holdout),
    )


def ensemble_holdout(
    holdout: pd.DataFrame,
    readings: pd.Series,
    temperature: pd.Series | None,
    fleet_model: ForecastModel | None,
    weights: BlendWeights,
) -> pd.DataFrame:
    """The ensemble's out-of-sample day-ahead forecasts of the hold-out hours.

    Columns ``forecast, actual, lead_hour`` (hours after the UTC midnight origin that would have
    made each forecast): the residuals every calibration of the ensemble's band reads.
    """
    index = pd.DatetimeIndex(holdout.index)
    fleet_values = None
    if fleet_model is not None and weights.fleet > 0:
        kept = holdout.attrs.get(_GLOBAL_KEY)
        same = isinstance(kept, _KeptGlobal) and kept.version == weights.fleet_version
        same = same and len(kept.values) == len(index)
        fleet_values = kept.values if same else _fleet_day_ahead(fleet_model, readings, temperature, index)
    baseline = baseline_frame(readings, index, np.zeros(len(index), dtype=np.int64))[weights.baseline_name]
    frame = blend_frame(holdout, fleet_values, baseline.to_numpy(), weights)
    return pd.DataFrame(
        {
            "forecast": frame["forecast"].to_numpy(),
            "actual": holdout["actual"].to_numpy(dtype="float64"),
            "lead_hour": index.hour.to_numpy(),
        },
        index=index,
    )


def blend_quantiles(actual: np.ndarray, blended: np.ndarray, frame: pd.DataFrame) -> dict[str, Any] | None:
    width = (frame["upper"] - frame["lower"]).to_numpy(dtype="float64")
    weights = recency_weights(frame.index, QUANTILE_HALF_LIFE_DAYS)
    offsets = normalised_offsets(actual, blended, width, MIN_BLEND_HOURS, weights)
    return None if offsets is None else offsets.centred().to_dict()


_GLOBAL_KEY = "global_day_ahead"


@dataclass(frozen=True, eq=False)  # compared by identity: pandas compares attrs when it concatenates
class _KeptGlobal:
    """The stored global member's hold-out forecasts, kept on the frame's attrs by ``fit_blend``."""

    version: int
    values: np.ndarray


def _fleet_day_ahead(
    fleet_model: ForecastModel, readings: pd.Series, temperature: pd.Series | None, index: pd.DatetimeIndex
) -> np.ndarray:
    """Day-ahead fleet forecasts of the hold-out hours (features from readings before each anchor)."""
    features = build_features(readings, temperature, fleet_model.spec, index)
    return fleet_model.predict(features)


def combine_members(weights: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """Weighted sum; a member that is NaN on an hour gives its weight to the others."""
    stack = np.column_stack(columns)
    w = np.broadcast_to(weights, stack.shape).copy()
    w[~np.isfinite(stack)] = 0.0
    total = w.sum(axis=1)
    value = np.nansum(np.where(w > 0, stack, 0.0) * w, axis=1)
    return np.divide(value, total, out=np.full(len(stack), np.nan), where=total > 0)


def calibrate_band(actual: np.ndarray, blended: np.ndarray, frame: pd.DataFrame, level: float) -> float:
    """The ensemble's interval factor from its out-of-sample residuals ``actual - blended``.

    ``frame`` is the meter model's hold-out band (``forecast, lower, upper``) whose shape the
    ensemble keeps: the factor is the ``level`` quantile of how much of that half-width each hour
    needed. The one place where the ensemble's band is calibrated.
    """
    forecast_ = frame["forecast"].to_numpy()
    span = np.where(
        actual >= blended, frame["upper"].to_numpy() - forecast_, forecast_ - frame["lower"].to_numpy()
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.abs(actual - blended) / span
    valid = np.isfinite(need) & (span > 0)
    if valid.sum() < MIN_BLEND_HOURS:
        return 1.0
    return float(np.clip(np.quantile(need[valid], level), 0.25, 4.0))


def blended_forecast(
    model: ForecastModel,
    fleet_model: ForecastModel | None,
    weights: BlendWeights,
    history: pd.Series,
    temperature: pd.Series | None,
    origin: pd.Timestamp,
    horizon_hours: int,
    *,
    own: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The blend of the three forecasts from ``origin``; columns ``forecast, lower, upper``.

    ``own`` is the meter model's forecast when the caller has it (a memoised one). Without a fleet
    model its weight goes to the other two in proportion (renormalised).
    """
    own = forecast(model, history, temperature, origin, horizon_hours) if own is None else own
    fleet_values = None
    if fleet_model is not None and weights.fleet > 0:
        fleet_values = forecast(fleet_model, history, temperature, origin, horizon_hours)[
            "forecast"
        ].to_numpy()
    baseline = None
    if weights.baseline > 0:
        baseline = baselines_at(history, origin, horizon_hours)[weights.baseline_name].to_numpy()
    return blend_frame(own, fleet_values, baseline, weights)


def blend_frame(
    own: pd.DataFrame, fleet_values: np.ndarray | None, baseline: np.ndarray | None, weights: BlendWeights
) -> pd.DataFrame:
    """Combine the meter model's frame with the fleet's and the baseline's values (either may be absent)."""
    columns = [own["forecast"].to_numpy()]
    w = [weights.model]
    if fleet_values is not None and weights.fleet > 0:
        columns.append(fleet_values)
        w.append(weights.fleet)
    if baseline is not None and weights.baseline > 0:
        columns.append(baseline)
        w.append(weights.baseline)
    total = sum(w)
    if total <= 0:
        return own
    value = combine_members(np.array(w) / total, columns)
    value = np.where(np.isfinite(value), value, own["forecast"].to_numpy())
    return _blend_band(own, value, weights)


def _blend_band(own: pd.DataFrame, value: np.ndarray, weights: BlendWeights) -> pd.DataFrame:
    """The blend's median, 80 % band and the ``p..`` columns ``own`` carries, never crossing."""
    levels = frame_levels(own.columns)
    wanted = reported_levels(levels)
    if weights.quantiles:
        width = np.maximum((own["upper"] - own["lower"]).to_numpy(dtype="float64"), 0.0)
        offsets = QuantileOffsets.from_dict(weights.quantiles)
        values = quantile_columns(value, width, offsets, wanted)
    else:  # older bundle: the meter model's quantiles re-centred on the blend, scaled
        point = own["forecast"].to_numpy(dtype="float64")
        named = {0.5: point, 0.1: own["lower"].to_numpy(), 0.9: own["upper"].to_numpy()}
        named.update({q: own[quantile_key(q)].to_numpy() for q in levels})
        table = np.column_stack([value + (named[q] - point) * weights.interval_scale for q in wanted])
        table = np.maximum.accumulate(np.maximum(table, 0.0), axis=1)
        values = {q: table[:, i] for i, q in enumerate(wanted)}
    columns = {"forecast": values[0.5], "lower": values[0.1], "upper": values[0.9]}
    columns.update({quantile_key(q): values[q] for q in levels})
    return pd.DataFrame(columns, index=own.index)
