"""The fleet model: one booster per meter type, trained across meters on scale-free targets.

Every meter's rows are built by its own recipe (its time zone and holidays) plus the scale-free
descriptors of ``features/descriptors.py``; the target is the reading over the meter's trailing
level (the per-meter ``ratio`` mode), and every consumption feature is divided by that level, so
meters of any size share one model. The meter id is never a feature: a meter the model has never
seen gets a forecast from its first week.

**Cross-fitting.** The meters are split into ``folds`` groups (round robin over sorted ids; the id
only assigns the split). Fold model ``k`` is trained on every meter outside group ``k``, so:
each trained meter is forecast by a model that never saw it (its blend weights and backtests are
honest about how the fleet does on a meter it does not know), and the fold models' errors on the
meters they did not see are out-of-sample residuals "on other meters" that calibrate the fleet's
quantiles (``ml.quantiles``). A ``full`` model on every meter serves meters outside the training set.

**Memory.** Rows are built meter by meter and at most ``max_rows / meters`` rows are kept of each
(uniform sample, seeded), stacked as float32: ~45 columns x 4 bytes x ``max_rows``, 72 MB at the
default 400k, whatever the fleet size. Time grows with the meters (features, ~20-60 ms per meter-year)
plus ``folds + 1`` fits on at most ``max_rows`` rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import TrainingError
from energy_forecast.features.spec import FeatureSpec, build_features
from energy_forecast.ml.forecasting import calibrate_widening
from energy_forecast.ml.lgbm import GLOBAL_PARAMS, LightGBMBooster, train_lightgbm
from energy_forecast.ml.model import ForecastModel, IntervalOffsets, TargetScaler, library_versions
from energy_forecast.ml.params import YEAR_END_TYPES, ModelParams, default_params, default_spec
from energy_forecast.ml.quantiles import QuantileOffsets
from energy_forecast.ml.training import clean_readings, multi_day_origins, train_booster, training_frame

FLEET_MODEL_ID = "fleet-model"
FLEET_ARTIFACT = "fleet.json"
MIN_FLEET_DAYS = 7
MAX_ROWS = 400_000
FOLDS = 3
WIDEN_METERS = 6


@dataclass(frozen=True)
class FleetMember:
    """One meter's readings and calendar, as the fleet trainer needs them."""

    meter_id: str
    consumption: pd.Series
    temperature: pd.Series | None
    timezone: str = "UTC"
    country: str | None = None


def fleet_spec(meter_type: MeterType, timezone: str = "UTC", country: str | None = None) -> FeatureSpec:
    """The per-meter recipe plus descriptors, in the meter's own zone and holiday calendar.

    Every meter of a type gets the same columns: ``year_end`` is there for the whole type (all
    zeros where the calendar has no Christmas), so meters of every country stack into one matrix.
    """
    spec = replace(default_spec(meter_type, timezone, country), descriptors=True)
    if MeterType(meter_type) in YEAR_END_TYPES and "year_end" not in spec.calendar:
        spec = replace(spec, calendar=(*spec.calendar, "year_end"))
    return spec


def has_fleet_history(readings: pd.Series) -> bool:
    """At least ``MIN_FLEET_DAYS`` days between first and last reading, half of the hours present.

    Counts what the fleet model needs (a week for the trailing level and the descriptors), not an
    exact number of hours: a missing hour or two never turns a forecast into a refusal.
    """
    values = readings.dropna()
    if values.empty:
        return False
    span_hours = (values.index[-1] - values.index[0]) / pd.Timedelta(hours=1) + 1
    return span_hours >= 24 * MIN_FLEET_DAYS - 1 and len(values) >= 0.5 * span_hours


@dataclass
class FleetModel:
    """Fold models, the full model and which fold each trained meter belongs to."""

    meter_type: MeterType
    params: ModelParams
    scaler: TargetScaler
    feature_names: list[str]
    fold_boosters: list[Any]
    full_booster: Any
    folds: dict[str, int]
    intervals: QuantileOffsets | IntervalOffsets  # IntervalOffsets: a bundle from before quantiles
    metadata: dict[str, Any] = field(default_factory=dict)
    library: str = "xgboost"

    def model_for(
        self, meter_id: str, readings: pd.Series, timezone: str = "UTC", country: str | None = None
    ) -> ForecastModel:
        """A ForecastModel for one meter: the fold model that never saw it, else the full model."""
        fold = self.folds.get(meter_id)
        booster = self.full_booster if fold is None else self.fold_boosters[fold]
        values = readings.dropna()
        fallback = float(values.mean()) if len(values) and values.mean() > 0 else 1.0
        return ForecastModel(
            booster=booster,
            spec=fleet_spec(self.meter_type, timezone, country),
            params=self.params,
            scaler=self.scaler,
            fallback_level=fallback,
            feature_names=self.feature_names,
            intervals=self.intervals,
            metadata={
                "meter_id": meter_id,
                "model": "fleet",
                "fleet_trained_until": self.metadata.get("until"),
            },
        )

    def to_artifacts(self) -> dict[str, bytes]:
        """One UBJSON booster per fold plus ``full.ubj`` and a JSON document; no pickle."""
        document = {
            "meter_type": self.meter_type.value,
            "params": self.params.to_dict(),
            "scaler": self.scaler.to_dict(),
            "feature_names": self.feature_names,
            "folds": self.folds,
            "fold_count": len(self.fold_boosters),
            "intervals": _band_dict(self.intervals),
            "quantiles": self.intervals.to_dict() if isinstance(self.intervals, QuantileOffsets) else None,
            "metadata": self.metadata,
            "versions": library_versions(),
            "library": self.library,
        }
        artifacts = {
            f"fold{k}.ubj": bytes(b.save_raw(raw_format="ubj")) for k, b in enumerate(self.fold_boosters)
        }
        artifacts["full.ubj"] = bytes(self.full_booster.save_raw(raw_format="ubj"))
        artifacts[FLEET_ARTIFACT] = json.dumps(document, sort_keys=True).encode("utf-8")
        return artifacts

    @classmethod
    def from_artifacts(cls, artifacts: dict[str, bytes]) -> FleetModel:
        """Inverse of ``to_artifacts``. Raises ValueError when an artifact is missing."""
        if FLEET_ARTIFACT not in artifacts:
            raise ValueError(f"not a fleet model bundle: {FLEET_ARTIFACT} missing")
        document = json.loads(artifacts[FLEET_ARTIFACT].decode("utf-8"))
        params = ModelParams.from_dict(document["params"])
        library = str(document.get("library", "xgboost"))

        def booster(name: str) -> Any:
            if name not in artifacts:
                raise ValueError(f"fleet model bundle incomplete: {name} missing")
            if library == "lightgbm":
                return LightGBMBooster.load(artifacts[name], params.n_jobs)
            loaded = xgb.Booster()
            loaded.load_model(bytearray(artifacts[name]))
            loaded.set_param({"nthread": params.n_jobs})
            return loaded

        quantiles = document.get("quantiles")
        return cls(
            meter_type=MeterType(document["meter_type"]),
            params=params,
            scaler=TargetScaler(**document["scaler"]),
            feature_names=list(document["feature_names"]),
            fold_boosters=[booster(f"fold{k}.ubj") for k in range(int(document["fold_count"]))],
            full_booster=booster("full.ubj"),
            folds={str(k): int(v) for k, v in document["folds"].items()},
            intervals=(
                QuantileOffsets.from_dict(quantiles)
                if quantiles
                else IntervalOffsets.from_dict(document["intervals"])
            ),
            metadata=document["metadata"],
            library=library,
        )


@dataclass
class _Rows:
    matrix: np.ndarray
    ratio: np.ndarray
    hours: np.ndarray
    member: np.ndarray


def _sampled_frame(
    readings: pd.Series, temperature: pd.Series | None, spec: FeatureSpec, cap: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """``training_frame`` on at most ``cap`` hours drawn at random (seeded), built only for those.

    Features are built for the drawn hours alone (``build_features`` takes any target index), so a
    meter costs the same whatever its length once it has more than ``cap`` readings.
    """
    if len(readings) <= cap:
        return training_frame(readings, temperature, spec)
    chosen = np.sort(np.random.default_rng(seed).choice(len(readings), cap, replace=False))
    index = pd.DatetimeIndex(readings.index[chosen])
    features = build_features(readings, temperature, spec, index)
    target = readings.to_numpy(dtype="float64")[chosen]
    history_columns = [c for c in features.columns if c.startswith(("lag_", "roll_", "same_hour_"))]
    keep = np.isfinite(target) & features[history_columns].notna().any(axis=1).to_numpy()
    return features.loc[keep], target[keep]


def _member_rows(
    member: FleetMember, index: int, meter_type: MeterType, params: ModelParams, cap: int, seed: int
) -> tuple[_Rows, list[str]] | None:
    readings = clean_readings(member.consumption)
    if not has_fleet_history(readings):
        return None
    spec = fleet_spec(meter_type, member.timezone, member.country)
    features, target = _sampled_frame(readings, member.temperature, spec, cap, seed + index)
    if len(target) < 24:
        return None
    fallback = float(np.mean(target)) if np.mean(target) > 0 else 1.0
    template = ForecastModel(
        booster=xgb.Booster(),
        spec=spec,
        params=params,
        scaler=TargetScaler("standard", 0.0, 1.0),
        fallback_level=fallback,
        feature_names=list(features.columns),
    )
    level = ForecastModel.level_of(features, fallback, params.level_column)
    matrix = template.design_matrix(features, level).astype(np.float32)
    hours = (
        features["hour"].to_numpy().astype(np.int64) % 24
        if "hour" in features
        else np.zeros(len(target), int)
    )
    rows = _Rows(matrix, target / level, hours, np.full(len(target), index))
    return rows, list(features.columns)


def _fit(matrix: np.ndarray, encoded: np.ndarray, params: ModelParams, library: str) -> Any:
    if library == "lightgbm":
        return train_lightgbm(matrix, encoded, params)
    return train_booster(matrix, encoded, params, what="fit the fleet model")


def global_params(meter_type: MeterType, library: str = "lightgbm") -> ModelParams:
    """The global member's settings: the type's target treatment, the library's tree settings."""
    own = default_params(meter_type)
    if library != "lightgbm":
        return own
    return replace(
        GLOBAL_PARAMS, scaler=own.scaler, target_mode=own.target_mode, level_column=own.level_column
    )


def fit_fleet(
    meter_ids: Sequence[str],
    load: Callable[[str], FleetMember | None],
    meter_type: MeterType,
    *,
    until: pd.Timestamp | None = None,
    max_rows: int = MAX_ROWS,
    folds: int = FOLDS,
    params: ModelParams | None = None,
    progress: Callable[[str, float], None] | None = None,
    seed: int = 0,
    library: str = "lightgbm",
) -> FleetModel:
    """Train the fleet model of one type on readings strictly before ``until`` (None: all).

    ``load`` returns one meter's readings (None: skip it); meters are loaded one at a time and
    only their sampled rows are kept, so memory is bounded by ``max_rows``, not by the fleet.

    Raises:
        TrainingError: fewer than two meters with a week of readings, or XGBoost failed.
    """
    meter_type = MeterType(meter_type)
    params = params or global_params(meter_type, library)
    report = progress or (lambda _message, _share: None)
    ordered = sorted(meter_ids)

    def loaded(meter_id: str) -> FleetMember | None:
        member = load(meter_id)
        if member is None or until is None:
            return member
        return replace(member, consumption=member.consumption[member.consumption.index < until])

    cap = max(24, max_rows // max(1, len(ordered)))
    parts: list[_Rows] = []
    used: list[str] = []
    names: list[str] = []
    for i, meter_id in enumerate(ordered):
        member = loaded(meter_id)
        built = _member_rows(member, len(used), meter_type, params, cap, seed) if member is not None else None
        if built is not None:
            parts.append(built[0])
            names = built[1]
            used.append(meter_id)
        if i % 25 == 0:
            report(f"features of {i + 1}/{len(ordered)} meters", 0.6 * (i + 1) / len(ordered))
    if len(used) < 2:
        raise TrainingError(
            f"fleet model ({meter_type.value}): {len(used)} meters with a week of readings, 2 needed"
        )
    matrix = np.concatenate([p.matrix for p in parts])
    ratio = np.concatenate([p.ratio for p in parts])
    hours = np.concatenate([p.hours for p in parts])
    member = np.concatenate([p.member for p in parts])
    del parts
    scaler = TargetScaler.fit(params.scaler, ratio)
    encoded = scaler.transform(ratio)
    k = min(folds, len(used))
    group = np.arange(len(used)) % k
    row_group = group[member]
    fold_boosters: list[Any] = []
    residuals = np.full(len(encoded), np.nan)
    for fold in range(k):
        report(f"fold model {fold + 1}/{k}", 0.6 + 0.3 * fold / (k + 1))
        train = row_group != fold
        booster = _fit(matrix[train], encoded[train], params, library)
        held = ~train
        residuals[held] = encoded[held] - booster.inplace_predict(matrix[held], validate_features=False)
        fold_boosters.append(booster)
    report("full model", 0.6 + 0.3 * k / (k + 1))
    full = _fit(matrix, encoded, params, library)
    intervals = _pooled_intervals(residuals, hours)
    model = FleetModel(
        meter_type=meter_type,
        params=params,
        scaler=scaler,
        feature_names=names,
        fold_boosters=fold_boosters,
        full_booster=full,
        folds={meter_id: int(group[i]) for i, meter_id in enumerate(used)},
        intervals=intervals,
        metadata={
            "kind": "fleet",
            "meter_type": meter_type.value,
            "meters": len(used),
            "rows": len(encoded),
            "max_rows": max_rows,
            "folds": k,
            "until": until.isoformat() if until is not None else None,
            "library": library,
        },
        library=library,
    )
    report("interval widening", 0.95)
    model.intervals = replace(intervals, widen=_fleet_widening(model, used, loaded))
    return model


def fit_fleet_members(members: Sequence[FleetMember], meter_type: MeterType, **options: Any) -> FleetModel:
    """``fit_fleet`` on meters already in memory."""
    by_id = {m.meter_id: m for m in members}
    return fit_fleet(list(by_id), by_id.get, meter_type, **options)


def _pooled_intervals(residuals: np.ndarray, hours: np.ndarray) -> QuantileOffsets:
    """Split-conformal quantiles of the out-of-fold residuals, pooled over hours."""
    return QuantileOffsets.from_residuals(residuals[np.isfinite(residuals)])


def _band_dict(offsets: QuantileOffsets | IntervalOffsets) -> dict[str, Any]:
    """The 80 % band in the older ``intervals`` form, for readers of bundles from before quantiles."""
    if isinstance(offsets, IntervalOffsets):
        return offsets.to_dict()
    low, high = offsets.at((0.1, 0.9))
    return IntervalOffsets((float(low),) * 24, (float(high),) * 24, 0.8, offsets.widen).to_dict()


def _fleet_widening(
    model: FleetModel, meter_ids: list[str], load: Callable[[str], FleetMember | None]
) -> tuple[float, ...]:
    """Per-day factors: the median over a few meters of their out-of-fold multi-day calibration."""
    chosen = meter_ids[:: max(1, len(meter_ids) // WIDEN_METERS)][:WIDEN_METERS]
    found: list[tuple[float, ...]] = []
    for meter_id in chosen:
        member = load(meter_id)
        if member is None:
            continue
        readings = clean_readings(member.consumption)
        start = readings.index[-1] - pd.Timedelta(days=28)
        origins = multi_day_origins(
            max(start, readings.index[0] + pd.Timedelta(days=8)), readings.index[-1], count=2
        )
        if not origins:
            continue
        one = model.model_for(member.meter_id, readings, member.timezone, member.country)
        factors = calibrate_widening(one, readings, member.temperature, origins)
        if factors:
            found.append(factors)
    if not found:
        return ()
    return tuple(float(np.median([f[d] for f in found])) for d in range(len(found[0])))
