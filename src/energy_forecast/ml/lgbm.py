"""LightGBM behind the small booster interface the rest of ``ml`` uses (XGBoost's names).

The global ensemble member is a LightGBM model: leaf-wise trees grow faster than XGBoost's
depth-wise ones on the few hundred thousand rows a fleet gives, and a second library makes
errors that differ more from the per-meter XGBoost model's than a second XGBoost would, which is
what an ensemble lives on. ``ForecastModel`` and ``FleetModel`` call ``inplace_predict``,
``save_raw`` and ``set_param``; this adapter answers them, so neither needs to know which library
a booster comes from. The model is stored as LightGBM's own text format, never pickled.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from energy_forecast.errors import TrainingError
from energy_forecast.ml.params import ModelParams

LIBRARY = "lightgbm"
# The global member's settings: mlforecast's LightGBM defaults (31 leaves, rate 0.1) with twice
# the trees at half the rate, a slight feature and row sub-sampling and ``min_data_in_leaf`` raised
# for rows pooled from many meters. Deterministic, so a retrain on the same data is the same model.
GLOBAL_PARAMS = ModelParams(
    n_estimators=300,
    max_depth=-1,
    learning_rate=0.05,
    min_child_weight=50.0,
    subsample=0.8,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    max_bin=63,
)
NUM_LEAVES = 31


class LightGBMBooster:
    """A trained ``lightgbm.Booster`` answering the XGBoost booster calls ``ml`` makes."""

    def __init__(self, booster: lgb.Booster, threads: int = 2) -> None:
        self.booster = booster
        self.threads = threads

    def inplace_predict(self, matrix: np.ndarray, validate_features: bool = False) -> np.ndarray:
        del validate_features  # columns are always in training order (ForecastModel.design_matrix)
        return np.asarray(self.booster.predict(matrix, num_threads=self.threads), dtype="float64")

    def save_raw(self, raw_format: str = "ubj") -> bytes:
        del raw_format  # LightGBM has one portable format: its text model
        return self.booster.model_to_string().encode("utf-8")

    def set_param(self, params: dict[str, Any]) -> None:
        self.threads = int(params.get("nthread") or self.threads)

    @classmethod
    def load(cls, raw: bytes, threads: int = 2) -> LightGBMBooster:
        return cls(lgb.Booster(model_str=raw.decode("utf-8")), threads)


def lightgbm_settings(params: ModelParams) -> dict[str, Any]:
    """``params`` in LightGBM's names (rows are already sub-sampled per meter by the caller)."""
    return {
        "objective": "regression",
        "learning_rate": params.learning_rate,
        "num_leaves": NUM_LEAVES,
        "max_depth": params.max_depth,
        "min_data_in_leaf": int(params.min_child_weight),
        "feature_fraction": params.colsample_bytree,
        "bagging_fraction": params.subsample,
        "bagging_freq": 1,
        "lambda_l2": params.reg_lambda,
        "max_bin": params.max_bin,
        "seed": params.random_state,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": params.n_jobs or 0,
        "verbosity": -1,
    }


def train_lightgbm(matrix: np.ndarray, encoded: np.ndarray, params: ModelParams) -> LightGBMBooster:
    """Fit ``params.n_estimators`` rounds on prepared rows.

    Raises:
        TrainingError: LightGBM refused the data or failed while fitting.
    """
    try:
        data = lgb.Dataset(matrix, label=encoded, params={"max_bin": params.max_bin, "verbosity": -1})
        booster = lgb.train(lightgbm_settings(params), data, num_boost_round=params.n_estimators)
    except (lgb.basic.LightGBMError, ValueError) as exc:
        raise TrainingError(f"LightGBM failed to fit the global model: {exc}") from exc
    return LightGBMBooster(booster, params.n_jobs or 2)
