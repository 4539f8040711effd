"""Champion/challenger: a retrained model becomes active only if it is not clearly worse.

The challenger (the model just trained) is scored by its hold-out model's predictions, which never
saw those hours. The champion (the active version) is scored on the same hours, but only on those
after its own training window ended: on hours it was fitted to it would look better than it is,
and every retrain on unchanged data would then be rejected. With at least ``MIN_COMPARE_HOURS``
such hours the two are compared there (``same_hours``); otherwise (retrained on the same
readings, or too few new ones) each model's recorded hold-out CV(RMSE) is compared
(``recorded_holdout``), both out of sample though on different hours. The challenger wins unless
its CV(RMSE) exceeds the champion's by more than the margin (5 % by default), as OpenSTEF's
penalty factor lets a slightly worse but fresher model in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import ModelNotFoundError
from energy_forecast.ml.metrics import cv_rmse_percent
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.training import TrainingResult, clean_readings, training_frame
from energy_forecast.storage.base import ModelStore

MIN_COMPARE_HOURS = 24


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a challenger was (not) made active; saved in the version's metadata as ``acceptance``."""

    accepted: bool
    reason: str
    basis: str  # first_model, same_hours, recorded_holdout, champion_unreadable, forced
    margin: float
    challenger_cv_rmse_percent: float | None = None
    champion_cv_rmse_percent: float | None = None
    champion_version: int | None = None
    compared_hours: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_worse(challenger: float | None, champion: float | None, margin: float) -> bool:
    """Accept unless both figures exist and the challenger's exceeds the champion's by the margin."""
    if challenger is None or champion is None:
        return True
    return challenger <= champion * (1.0 + margin)


def challenge(
    model_store: ModelStore,
    meter_type: MeterType,
    meter_id: str,
    readings: pd.Series,
    temperature: pd.Series | None,
    result: TrainingResult,
    *,
    margin: float,
    force: bool = False,
) -> Verdict:
    """Compare the challenger in ``result`` with the meter's active version (see module docstring)."""
    try:
        info = model_store.get_version(meter_type, meter_id)
    except ModelNotFoundError:
        return Verdict(True, "first model of this meter", "first_model", margin)
    holdout = None if result.holdout is None else result.holdout["forecast"]
    unseen = _unseen(holdout, info.metadata)
    challenger_cv = champion_cv = None
    hours = 0
    if len(unseen) >= MIN_COMPARE_HOURS:  # only then is the champion worth loading
        try:
            champion = ForecastModel.from_artifacts(model_store.load(meter_type, meter_id, info.version)[1])
        except ValueError as exc:
            text = f"the active version {info.version} cannot be loaded ({exc}); the new one replaces it"
            return Verdict(True, text, "champion_unreadable", margin, champion_version=info.version)
        challenger_cv, champion_cv, hours = _same_hours(champion, unseen, readings, temperature)
    basis = "same_hours"
    if hours < MIN_COMPARE_HOURS:
        challenger_cv = _number(result.metrics.get("cv_rmse_percent"))
        champion_cv = _number((info.metadata.get("metrics") or {}).get("cv_rmse_percent"))
        basis, hours = "recorded_holdout", 0
    wins = not_worse(challenger_cv, champion_cv, margin)
    where = f"on {hours} hours unseen by both" if hours else "on their recorded hold-out figures"
    figures = f"CV(RMSE) {_text(challenger_cv)} % vs {_text(champion_cv)} % of v{info.version} {where}"
    if force:
        accepted, reason, basis = True, f"forced by the request ({figures})", "forced"
    elif wins:
        accepted, reason = True, f"not worse than the active model by more than {margin:.0%}: {figures}"
    else:
        accepted, reason = False, f"worse than the active model by more than {margin:.0%}: {figures}"
    return Verdict(accepted, reason, basis, margin, challenger_cv, champion_cv, info.version, hours)


def _unseen(holdout: pd.Series | None, metadata: dict[str, Any]) -> pd.Series:
    """The challenger's hold-out predictions on hours after the champion's training window."""
    end = (metadata.get("training_window") or {}).get("end")
    if holdout is None or holdout.empty or not end:
        return pd.Series(dtype="float64")
    return holdout[holdout.index > pd.Timestamp(end)]


def _same_hours(
    champion: ForecastModel, unseen: pd.Series, readings: pd.Series, temperature: pd.Series | None
) -> tuple[float | None, float | None, int]:
    """Both models' CV(RMSE) on the ``unseen`` hours (day-ahead basis for both)."""
    features, target = training_frame(clean_readings(readings), temperature, champion.spec)
    keep = features.index.isin(unseen.index)
    rows, actual = features.loc[keep], target[keep]
    if len(rows) < MIN_COMPARE_HOURS:
        return None, None, len(rows)
    champion_cv = cv_rmse_percent(actual, champion.predict(rows))
    challenger_cv = cv_rmse_percent(actual, unseen.reindex(rows.index).to_numpy())
    return challenger_cv, champion_cv, len(rows)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def version_status(active: bool, metadata: dict[str, Any]) -> tuple[str, str | None]:
    """``active``, ``rejected`` (never made active by its training) or ``previous``, and why."""
    acceptance = metadata.get("acceptance") or {}
    reason = acceptance.get("reason")
    if active:
        return "active", reason
    if acceptance.get("accepted") is False:
        return "rejected", reason
    return "previous", reason
