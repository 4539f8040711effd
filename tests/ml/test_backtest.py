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
    assert list(table.columns[:7]) == [
        "timestamp",
        "origin",
        "forecast",
        "lower",
        "upper",
        "naive_1d",
        "naive_7d",
    ]
    assert len(table) == 5 * 24
    assert ((table["timestamp"] - table["origin"]) < pd.Timedelta(hours=24)).all()
    np.testing.assert_array_equal(table["actual"], consumption.reindex(table["timestamp"]).to_numpy())
    assert set(result.metrics) == {"model", "naive_1d", "naive_7d", "mean_7d"}
    assert result.metrics["model"]["coverage_percent"] is not None
    assert result.skill_ratio is not None
    assert result.skill_ratio < 1.0
