from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.backtest import rolling_origin_backtest
from tests.ml.conftest import synthetic_meter


def test_backtest_trains_before_the_first_origin_and_scores_every_hour() -> None:
    consumption, temperature = synthetic_meter(24 * 35)
    result = rolling_origin_backtest(
        consumption,
        temperature,
        meter_id="synthetic",
        meter_type=MeterType.ELECTRICITY,
        timezone="Europe/London",
        country="GB",
        horizon_hours=24,
        days=5,
    )
    table = result.forecasts
    origins = sorted(table["origin"].unique())
    assert len(origins) == 5
    assert all(pd.Timestamp(o).hour == 0 for o in origins)
    assert result.training.training_window[1] < origins[0]
    assert list(table.columns[:10]) == [
        "timestamp",
        "origin",
        "forecast",
        "lower",
        "upper",
        "p10",
        "p50",
        "p90",
        "naive_1d",
        "naive_7d",
    ]
    assert len(table) == 5 * 24
    assert ((table["timestamp"] - table["origin"]) < pd.Timedelta(hours=24)).all()
    np.testing.assert_array_equal(table["actual"], consumption.reindex(table["timestamp"]).to_numpy())
    assert set(result.metrics) == {"model", "naive_1d", "naive_7d", "mean_7d"}
    scored = result.metrics["model"]
    for key in ("p10", "p50", "p90"):
        assert scored[f"pinball_{key}"] is not None and scored[f"pinball_{key}"] >= 0
        assert 0 <= scored[f"coverage_{key}_percent"] <= 100
    assert scored["coverage_p10_percent"] <= scored["coverage_p50_percent"] <= scored["coverage_p90_percent"]
    assert scored["crps"] > 0 and 0 < scored["rcrps"] < 1
    assert result.metrics["model"]["coverage_percent"] is not None
    assert result.skill_ratio is not None
    assert result.skill_ratio < 1.0
