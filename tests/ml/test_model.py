from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_forecast.features import build_features
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.model import BOOSTER_ARTIFACT, METADATA_ARTIFACT, ForecastModel
from energy_forecast.ml.training import TrainingResult


def test_artifacts_reload_to_bit_identical_predictions(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    artifacts = trained.model.to_artifacts()
    restored = ForecastModel.from_artifacts(artifacts)
    features = build_features(consumption, temperature, trained.model.spec)
    np.testing.assert_array_equal(trained.model.predict(features), restored.predict(features))
    origin = consumption.index[-24 * 3]
    pd.testing.assert_frame_equal(
        forecast(trained.model, consumption, temperature, origin, 168),
        forecast(restored, consumption, temperature, origin, 168),
        check_exact=True,
    )


def test_artifacts_are_native_xgboost_and_plain_json(trained: TrainingResult) -> None:
    artifacts = trained.model.to_artifacts()
    assert set(artifacts) == {BOOSTER_ARTIFACT, METADATA_ARTIFACT}
    assert artifacts[BOOSTER_ARTIFACT][:1] == b"{"  # UBJSON object marker, not a pickle
    document = json.loads(artifacts[METADATA_ARTIFACT])
    assert document["spec"]["timezone"] == "Europe/Rome"
    assert document["scaler"]["kind"] == "robust"
    assert document["metadata"]["meter_id"] == "synthetic"
    assert set(document["versions"]) >= {"xgboost", "sklearn", "pandas", "numpy"}
    assert len(document["intervals"]["lower"]) == 24


def test_incomplete_artifacts_are_refused(trained: TrainingResult) -> None:
    artifacts = trained.model.to_artifacts()
    del artifacts[BOOSTER_ARTIFACT]
    with pytest.raises(ValueError, match="missing"):
        ForecastModel.from_artifacts(artifacts)
