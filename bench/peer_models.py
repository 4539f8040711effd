"""The peers that ``bench/peers.py`` runs beside our forecaster, each configured once, as its docs say.

Every peer answers the same two questions the backtest asks: *fit* on the readings before the
first origin, then *forecast* the 24 hours from an origin using only readings strictly before it
(observed temperature standing in for the weather forecast, as for our model). Each forecast is a
frame indexed by the target hours (``timestamp``) with the point ``forecast`` and the quantiles
``p10``, ``p50``, ``p90``. The libraries are imported inside the functions, so this module (and
``bench/peers.py``) imports without them; ``bench/peers-setup.sh`` installs them.

How each is configured (once, from its own documentation; nothing tuned on the scored days):

- **OpenSTEF 4.x**: the ``xgboost`` workflow preset (``create_forecasting_workflow``), quantiles
  P10/P50/P90 as in its presets tutorial, one horizon of 24 h (a day-ahead forecast from 00:00),
  hourly samples, the rolling load aggregates its Liander benchmark example enables, the site's
  coordinate and country for its daylight, radiation and holiday features, no MLflow storage. Its
  forecast takes the 14 days of history the preset reads (``predict_history``) plus the
  forecast hours with the load unknown, and ``forecast_start`` at the origin, the way its own
  backtest adapter (``openstef_beam`` ``OpenSTEF4BacktestForecaster``) calls it. Point = P50.
- **mlforecast + LightGBM**: one global model per meter type and training cutoff over every meter
  of the type, as its docs recommend for many related series: per-series target scaling (each
  series divided by its training mean), lags 1..24 and 168, rolling means of the last day and
  week, hour and day-of-week date features, temperature as a dynamic exogenous feature,
  recursive forecasts, and conformal intervals (``PredictionIntervals(n_windows=7, h=24)``: a
  week of day-ahead windows; 80 % level), its documented probabilistic recipe. Point = the
  model's forecast = P50.
- **skforecast + LightGBM**: one ``ForecasterRecursive`` per meter after its energy-demand
  example: lags 1-3, 23-25 and 167-169 hours, rolling mean/min/max of the last 24 h,
  ``CalendarFeatures`` (month, week, day of week, hour), temperature as exogenous variable, and
  conformal intervals from binned in-sample residuals (``predict_interval(method="conformal")``).
  Point = its forecast = P50.

mlforecast and skforecast need a gap-free hourly series: their inputs (never the scored actuals)
get gaps filled by time interpolation, which is what their docs tell a user to do first.
OpenSTEF takes the gaps as they are (its preset checks completeness itself).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_COLUMNS = ("p10", "p50", "p90")
HORIZON = 24


@dataclass(frozen=True)
class Meter:
    """What a peer may know about a meter besides its readings."""

    meter_id: str
    meter_type: str
    site_id: str
    timezone: str
    country: str
    latitude: float
    longitude: float


Forecast = Callable[[pd.Series, pd.Timestamp], pd.DataFrame]
"""``forecast(readings, origin)``: the 24 target hours, from readings strictly before ``origin``."""


def target_index(origin: pd.Timestamp, hours: int = HORIZON) -> pd.DatetimeIndex:
    return pd.date_range(origin, periods=hours, freq="h", name="timestamp")


def filled(series: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """``series`` on every hour of ``[start, end]``, gaps filled by time interpolation, ends held."""
    grid = pd.date_range(start, end, freq="h", name="timestamp")
    values = series.reindex(grid)
    if values.notna().any():
        values = values.interpolate(method="time", limit_direction="both")
    return values.astype("float64")


def frame(point: np.ndarray, p10: np.ndarray, p90: np.ndarray, origin: pd.Timestamp) -> pd.DataFrame:
    """A peer's answer in the benchmark's columns; P50 is the point where a tool gives no median."""
    return pd.DataFrame(
        {"forecast": point, "lower": p10, "upper": p90, "p10": p10, "p50": point, "p90": p90},
        index=target_index(origin, len(point)),
    )


# --- OpenSTEF 4.x -----------------------------------------------------------------------------


def openstef_fit(train: pd.Series, temperature: pd.Series | None, meter: Meter) -> Forecast:
    """Fit OpenSTEF's XGBoost workflow preset on ``train``; return its day-ahead forecaster."""
    from openstef_core.datasets import TimeSeriesDataset
    from openstef_core.types import LeadTime, Q
    from openstef_models.presets import ForecastingWorkflowConfig, create_forecasting_workflow
    from openstef_models.presets.forecasting_workflow import LocationConfig
    from pydantic_extra_types.coordinate import Coordinate

    config = ForecastingWorkflowConfig(
        model_id=meter.meter_id.replace("_", "-"),
        model="xgboost",
        quantiles=[Q(0.1), Q(0.5), Q(0.9)],
        horizons=[LeadTime.from_string("PT24H")],
        sample_interval=timedelta(hours=1),
        rolling_aggregate_features=["mean", "median", "max", "min"],
        location=LocationConfig(
            name=meter.meter_id,
            coordinate=Coordinate(latitude=meter.latitude, longitude=meter.longitude),
            country_code=meter.country,
        ),
        temperature_column="temperature",
        mlflow_storage=None,
        verbosity=0,
    )
    workflow = create_forecasting_workflow(config)

    def dataset(readings: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> TimeSeriesDataset:
        grid = pd.date_range(start, end, freq="h", name="timestamp")
        data = pd.DataFrame({"load": readings.reindex(grid).astype("float64")}, index=grid)
        temp = temperature.reindex(grid) if temperature is not None else np.nan
        data["temperature"] = temp
        return TimeSeriesDataset(data, sample_interval=timedelta(hours=1))

    workflow.fit(dataset(train, train.index[0], train.index[-1]))
    history = config.predict_history

    def forecast(readings: pd.Series, origin: pd.Timestamp) -> pd.DataFrame:
        past = readings[(readings.index < origin) & (readings.index >= origin - history)]
        result = workflow.predict(
            dataset(past, origin - history, origin + (HORIZON - 1) * HOUR),
            forecast_start=origin.to_pydatetime(),
        ).data
        result = result[(result.index >= origin)].iloc[:HORIZON]
        quant = {q: result[f"quantile_P{round(q * 100):02d}"].to_numpy(dtype="float64") for q in QUANTILES}
        out = frame(quant[0.5], quant[0.1], quant[0.9], origin)
        return out.reindex(target_index(origin))

    return forecast


# --- mlforecast + LightGBM (one global model per meter type and cutoff) -----------------------


def mlforecast_fit(
    trains: dict[str, pd.Series], temperatures: dict[str, pd.Series | None]
) -> Callable[[str], Forecast]:
    """Fit one mlforecast LightGBM model over every series in ``trains`` (same type, same cutoff)."""
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.utils import PredictionIntervals

    # Each meter's target on its own scale (divided by its training mean), as LocalStandardScaler
    # would do inside mlforecast; done outside it so that one meter's new readings can be appended
    # to the fitted model (``update``) without the others'.
    scale = {meter_id: float(series.mean()) or 1.0 for meter_id, series in trains.items()}

    def long(meter_id: str, readings: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        y = filled(readings, start, end) / scale.get(meter_id, 1.0)
        temp = temperatures.get(meter_id)
        t = filled(temp, start, end) if temp is not None else pd.Series(0.0, index=y.index)
        return pd.DataFrame(
            {
                "unique_id": meter_id,
                "ds": y.index.tz_convert(None),
                "y": y.to_numpy(),
                "temperature": t.to_numpy(),
            }
        )

    model = MLForecast(
        models={"lgbm": LGBMRegressor(verbosity=-1, random_state=0)},
        freq="h",
        lags=[*range(1, 25), 168],
        lag_transforms={1: [RollingMean(window_size=24)], 24: [RollingMean(window_size=168)]},
        date_features=["hour", "dayofweek"],
    )
    train_df = pd.concat([long(m, s, s.index[0], s.index[-1]) for m, s in trains.items()], ignore_index=True)
    model.fit(
        train_df,
        static_features=[],
        prediction_intervals=PredictionIntervals(n_windows=7, h=HORIZON),
    )
    # The model keeps each series' latest readings; at each origin the readings since then are
    # appended (``MLForecast.update``) and the forecast reads them: the documented way to forecast
    # from a fitted model at a later time, with its fit-time conformal scores.
    seen = {meter_id: series.index[-1] for meter_id, series in trains.items()}

    def for_meter(meter_id: str) -> Forecast:
        def forecast(readings: pd.Series, origin: pd.Timestamp) -> pd.DataFrame:
            last = seen[meter_id]
            if origin - HOUR > last:
                past = readings[(readings.index < origin) & (readings.index >= last - 7 * 24 * HOUR)]
                new = long(meter_id, past, last - 7 * 24 * HOUR, origin - HOUR)
                new = new[new["ds"] > last.tz_convert(None)]
                model.update(new[["unique_id", "ds", "y"]])
                seen[meter_id] = origin - HOUR
            future = long(meter_id, pd.Series(dtype="float64"), origin, origin + (HORIZON - 1) * HOUR)
            temp = temperatures.get(meter_id)
            if temp is not None:
                future["temperature"] = (
                    filled(temp, origin - 7 * 24 * HOUR, origin + (HORIZON - 1) * HOUR)
                    .iloc[-HORIZON:]
                    .to_numpy()
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = model.predict(
                    HORIZON, X_df=future[["unique_id", "ds", "temperature"]], level=[80], ids=[meter_id]
                )
            unit = scale[meter_id]
            return frame(
                result["lgbm"].to_numpy(dtype="float64") * unit,
                result["lgbm-lo-80"].to_numpy(dtype="float64") * unit,
                result["lgbm-hi-80"].to_numpy(dtype="float64") * unit,
                origin,
            )

        return forecast

    return for_meter


# --- skforecast + LightGBM (one recursive model per meter) ------------------------------------


def skforecast_fit(train: pd.Series, temperature: pd.Series | None, meter: Meter) -> Forecast:
    """Fit one skforecast ``ForecasterRecursive`` with LightGBM on ``train``."""
    from lightgbm import LGBMRegressor
    from skforecast.preprocessing import CalendarFeatures, RollingFeatures
    from skforecast.recursive import ForecasterRecursive

    lags = [1, 2, 3, 23, 24, 25, 167, 168, 169]
    forecaster = ForecasterRecursive(
        estimator=LGBMRegressor(random_state=0, verbose=-1),
        lags=lags,
        window_features=RollingFeatures(stats=["mean", "min", "max"], window_sizes=24),
        calendar_features=CalendarFeatures(features=["month", "week", "day_of_week", "hour"]),
    )

    def exog(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        grid = pd.date_range(start, end, freq="h", name="timestamp")
        temp = filled(temperature, start, end) if temperature is not None else pd.Series(0.0, index=grid)
        return pd.DataFrame({"temperature": temp.to_numpy()}, index=grid)

    start, end = train.index[0], train.index[-1]
    y = filled(train, start, end).asfreq("h")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster.fit(y=y, exog=exog(start, end), store_in_sample_residuals=True)
    window = forecaster.window_size

    def forecast(readings: pd.Series, origin: pd.Timestamp) -> pd.DataFrame:
        first = origin - window * HOUR
        past = readings[(readings.index < origin) & (readings.index >= first - 30 * 24 * HOUR)]
        last_window = filled(past, first, origin - HOUR).asfreq("h")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = forecaster.predict_interval(
                steps=HORIZON,
                last_window=last_window,
                exog=exog(origin, origin + (HORIZON - 1) * HOUR),
                method="conformal",
                interval=[0.1, 0.9],
                use_in_sample_residuals=True,
                use_binned_residuals=True,
            )
        return frame(
            result["pred"].to_numpy(dtype="float64"),
            result["lower_bound"].to_numpy(dtype="float64"),
            result["upper_bound"].to_numpy(dtype="float64"),
            origin,
        )

    return forecast
