"""ForecastModel: an XGBoost booster with everything needed to use it again, and nothing pickled.

The bundle is the booster, the FeatureSpec that builds its input rows, a target scaler, the
calibrated interval offsets and metadata. ``to_artifacts`` writes the booster in XGBoost's native
UBJSON and everything else as JSON, so a model can be inspected, diffed and loaded by a newer
library without unpickling code; ``from_artifacts`` reproduces predictions bit for bit.

The scaler (RobustScaler for electricity, StandardScaler for water, as the seed had it) acts on the
target, not on the features: trees are invariant to monotone rescaling of inputs, but the target's
scale sets how much XGBoost's L2 penalty and ``min_child_weight`` bite, so scaling it makes one set
of hyper-parameters fit meters from 1 kWh to 50 MWh. In ``ratio`` mode the target (and every
consumption feature) is first divided by the trailing weekly mean, so the trees learn shapes and
follow level shifts they could not extrapolate.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.preprocessing import RobustScaler, StandardScaler

from energy_forecast.features.spec import FeatureSpec
from energy_forecast.ml.params import ModelParams
from energy_forecast.ml.quantiles import (
    BAND,
    DEFAULT_LEVELS,
    QuantileOffsets,
    quantile_columns,
    quantile_key,
    reported_levels,
)

FORMAT_VERSION = 1
BOOSTER_ARTIFACT = "booster.ubj"
METADATA_ARTIFACT = "metadata.json"
LEVEL_COLUMN = "roll_mean_168h"
FALLBACK_LEVEL_COLUMN = "roll_mean_24h"
_CONSUMPTION_PREFIXES = ("lag_", "roll_", "same_hour_", "last_obs", "anchor_mean_")


@dataclass(frozen=True)
class TargetScaler:
    """``(y - center) / scale`` with parameters fitted by sklearn and stored as plain floats."""

    kind: str
    center: float
    scale: float

    @classmethod
    def fit(cls, kind: str, target: np.ndarray) -> TargetScaler:
        column = np.asarray(target, dtype="float64").reshape(-1, 1)
        if kind == "robust":
            robust = RobustScaler().fit(column)
            center, scale = float(robust.center_[0]), float(robust.scale_[0])
        elif kind == "standard":
            standard = StandardScaler().fit(column)
            center, scale = float(standard.mean_[0]), float(standard.scale_[0])
        else:
            raise ValueError(f"unknown scaler {kind!r}; use 'robust' or 'standard'")
        return cls(kind, center, scale if np.isfinite(scale) and scale > 0 else 1.0)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.center) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.center

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "center": self.center, "scale": self.scale}


@dataclass(frozen=True)
class IntervalOffsets:
    """The 80 % band's residual quantiles in scaled-target units, one per local hour of day.

    Kept as the ``intervals`` entry of a bundle (older readers use it) and as a view of the
    model's ``QuantileOffsets``; the quantiles are what forecasts are made from.
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    level: float = 0.8
    # Factor on the offsets per recursive forecast block (1 = the first day), calibrated on
    # multi-day hold-out forecasts; empty for bundles written before they were (see forecasting).
    widen: tuple[float, ...] = ()
    # The quantile offsets this band is a view of (``ForecastModel.intervals``): copying the band
    # from one model to another (or ``replace``-ing its widening) keeps every level. Not saved.
    source: QuantileOffsets | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lower": list(self.lower),
            "upper": list(self.upper),
            "level": self.level,
            "widen": list(self.widen),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntervalOffsets:
        """Bundles written before the widening factors carry no ``widen`` (sqrt(k) then applies)."""
        return cls(tuple(data["lower"]), tuple(data["upper"]), data["level"], tuple(data.get("widen", ())))


class ForecastModel:
    """A trained model that turns feature rows into calibrated quantile forecasts.

    ``quantiles`` are the split-conformal offsets (``ml.quantiles``); ``levels`` are the levels a
    forecast frame carries as ``p..`` columns (the service sets them from ``EF_FORECAST_QUANTILES``).
    """

    def __init__(
        self,
        *,
        booster: xgb.Booster,
        spec: FeatureSpec,
        params: ModelParams,
        scaler: TargetScaler,
        fallback_level: float,
        feature_names: list[str],
        intervals: IntervalOffsets | QuantileOffsets | None = None,
        metadata: dict[str, Any] | None = None,
        levels: tuple[float, ...] = DEFAULT_LEVELS,
    ) -> None:
        self.booster = booster
        self.spec = spec
        self.params = params
        self.scaler = scaler
        self.fallback_level = fallback_level
        self.feature_names = feature_names
        self.quantiles: QuantileOffsets | None = None
        self.intervals = intervals
        self.metadata = metadata or {}
        self.levels = levels

    @property
    def intervals(self) -> IntervalOffsets | None:
        """The 80 % band of ``quantiles`` in the older per-hour form (None: uncalibrated)."""
        if self.quantiles is None:
            return None
        low, high = self.quantiles.at(BAND)
        return IntervalOffsets(
            (float(low),) * 24, (float(high),) * 24, 0.8, self.quantiles.widen, source=self.quantiles
        )

    @intervals.setter
    def intervals(self, value: IntervalOffsets | QuantileOffsets | None) -> None:
        """Quantile offsets as they are; a band that is a view of quantile offsets (another model's
        ``intervals``, its widening possibly replaced) brings those offsets with its widening; any
        other band becomes derived quantiles (``QuantileOffsets.from_band``)."""
        if value is None or isinstance(value, QuantileOffsets):
            self.quantiles = value
            return
        source = value.source
        if source is not None:
            low, high = source.at(BAND)
            if value.lower == (float(low),) * 24 and value.upper == (float(high),) * 24:
                self.quantiles = source.with_widen(value.widen)
                return
        lower, upper = float(np.mean(value.lower)), float(np.mean(value.upper))
        self.quantiles = QuantileOffsets.from_band(lower, upper, value.level, value.widen)

    # -- target and feature transforms -------------------------------------------------------------

    @staticmethod
    def level_of(features: pd.DataFrame, fallback: float, column: str = LEVEL_COLUMN) -> np.ndarray:
        """Trailing weekly mean (then daily mean, then the training mean) used by ``ratio`` mode."""
        level = features[column].to_numpy(dtype="float64", copy=True)
        if FALLBACK_LEVEL_COLUMN in features:
            bad = ~(level > 0)
            level[bad] = features[FALLBACK_LEVEL_COLUMN].to_numpy(dtype="float64")[bad]
        level[~(level > 0)] = fallback
        return level

    def _level(self, features: pd.DataFrame) -> np.ndarray | None:
        if self.params.target_mode != "ratio":
            return None
        return self.level_of(features, self.fallback_level, self.params.level_column)

    def design_matrix(self, features: pd.DataFrame, level: np.ndarray | None) -> np.ndarray:
        """Feature rows in the booster's column order, consumption columns divided by the level."""
        matrix = features[self.feature_names].to_numpy(dtype="float64", copy=True)
        if level is not None:
            for i, name in enumerate(self.feature_names):
                if name.startswith(_CONSUMPTION_PREFIXES):
                    matrix[:, i] /= level
        return matrix

    def encode_target(self, target: np.ndarray, level: np.ndarray | None) -> np.ndarray:
        values = np.asarray(target, dtype="float64")
        return self.scaler.transform(values if level is None else values / level)

    def decode_target(self, encoded: np.ndarray, level: np.ndarray | None) -> np.ndarray:
        values = self.scaler.inverse(np.asarray(encoded, dtype="float64"))
        return values if level is None else values * level

    # -- prediction --------------------------------------------------------------------------------

    def predict_encoded(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw booster output (scaled-target units) and the level used, for calibration."""
        level = self._level(features)
        matrix = self.design_matrix(features, level)
        raw = self.booster.inplace_predict(matrix, validate_features=False)
        return np.asarray(raw, dtype="float64"), level

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Point forecast (the calibrated median) in the meter's unit, never below zero."""
        return self.predict_interval(features)["forecast"].to_numpy()

    def predict_interval(self, features: pd.DataFrame, widen: np.ndarray | float = 1.0) -> pd.DataFrame:
        """Columns ``forecast`` (the median), ``lower``/``upper`` (10 %/90 %) and one ``p..`` column
        per level of ``levels``; ``widen`` scales the spread around the median per row."""
        raw, level = self.predict_encoded(features)
        center = self.decode_target(raw, level)
        wanted = reported_levels(self.levels)
        if self.quantiles is None:
            flat = np.maximum(center, 0.0)
            values = {q: flat for q in wanted}
        else:
            unit = np.full(len(raw), self.scaler.scale) if level is None else self.scaler.scale * level
            values = quantile_columns(center, unit, self.quantiles, wanted, widen)
        columns = {"forecast": values[0.5], "lower": values[BAND[0]], "upper": values[BAND[1]]}
        columns.update({quantile_key(q): values[q] for q in self.levels})
        return pd.DataFrame(columns, index=features.index)

    def residuals(self, features: pd.DataFrame, actual: np.ndarray) -> np.ndarray:
        """``actual - raw forecast`` in scaled-target units (what the quantile offsets are made of)."""
        raw, lvl = self.predict_encoded(features)
        return self.encode_target(actual, lvl) - raw

    def calibrate(self, features: pd.DataFrame, actual: np.ndarray) -> None:
        """Set quantile offsets from out-of-sample residuals (split conformal, ``ml.quantiles``).

        Residuals are taken in scaled-target units so that in ``ratio`` mode the quantiles follow
        the meter's level. They are pooled over all hours: per-local-hour quantiles were sharper
        but under-covered in the backtest (median 74.9 % vs 76.0 % pooled on electricity's 80 %
        band), being estimated from a few dozen residuals each.
        """
        self.quantiles = QuantileOffsets.from_residuals(self.residuals(features, actual))

    # -- artifacts ---------------------------------------------------------------------------------

    def to_artifacts(self) -> dict[str, bytes]:
        """``booster.ubj`` (XGBoost native UBJSON) and ``metadata.json``; no pickle anywhere."""
        document = {
            "format_version": FORMAT_VERSION,
            "spec": self.spec.to_dict(),
            "params": self.params.to_dict(),
            "scaler": self.scaler.to_dict(),
            "fallback_level": self.fallback_level,
            "feature_names": self.feature_names,
            "intervals": None if self.intervals is None else self.intervals.to_dict(),
            "quantiles": None if self.quantiles is None else self.quantiles.to_dict(),
            "metadata": self.metadata,
            "versions": library_versions(),
        }
        return {
            BOOSTER_ARTIFACT: bytes(self.booster.save_raw(raw_format="ubj")),
            METADATA_ARTIFACT: json.dumps(document, indent=2, sort_keys=True).encode("utf-8"),
        }

    @classmethod
    def from_artifacts(cls, artifacts: dict[str, bytes]) -> ForecastModel:
        """Rebuild a model written by ``to_artifacts``.

        Raises:
            ValueError: an artifact is missing or was written by a newer, incompatible format.
        """
        missing = {BOOSTER_ARTIFACT, METADATA_ARTIFACT} - set(artifacts)
        if missing:
            raise ValueError(f"model artifacts incomplete, missing {sorted(missing)}")
        document = json.loads(artifacts[METADATA_ARTIFACT].decode("utf-8"))
        if document.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format {document.get('format_version')!r}")
        params = ModelParams.from_dict(document["params"])
        booster = xgb.Booster()
        booster.load_model(bytearray(artifacts[BOOSTER_ARTIFACT]))
        booster.set_param({"nthread": params.n_jobs})
        intervals = document["intervals"]
        quantiles = document.get("quantiles")  # absent in bundles written before quantiles
        calibrated: IntervalOffsets | QuantileOffsets | None = (
            QuantileOffsets.from_dict(quantiles)
            if quantiles
            else (None if intervals is None else IntervalOffsets.from_dict(intervals))
        )
        return cls(
            booster=booster,
            spec=FeatureSpec.from_dict(document["spec"]),
            params=params,
            scaler=TargetScaler(**document["scaler"]),
            fallback_level=float(document["fallback_level"]),
            feature_names=list(document["feature_names"]),
            intervals=calibrated,
            metadata=document["metadata"],
        )


def library_versions() -> dict[str, str]:
    """Versions that produced a model, stored so a mismatch can be diagnosed later."""
    return {
        "python": platform.python_version(),
        "xgboost": xgb.__version__,
        "sklearn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
