"""The written-back forecast layout both stores share (and Grafana reads).

InfluxDB: measurement ``forecast``, tags ``meter_id``, ``meter_type``, ``model_version``; fields
``value``, ``lower``, ``upper`` (kWh or m³ per hour, the meter's unit); time = start of the hour,
UTC. DuckDB: table ``forecast`` with the same names. A point is keyed by (meter, model version,
hour): re-writing replaces it, and forecasts of different model versions stand side by side.
``model_version`` is ``v{n}`` for a trained model or ``substituted`` for the same-hour fallback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import validate_slug

MEASUREMENT = "forecast"
COLUMNS = ("model_version", "value", "lower", "upper")


def check_forecast(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a frame to write: UTC hourly index, finite ``value``, optional ``lower``/``upper``.

    Raises:
        ValueError: says which rule the frame breaks.
    """
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("forecast index must be a tz-aware DatetimeIndex (UTC)")
    if "value" not in frame:
        raise ValueError("forecast frame needs a 'value' column")
    out = pd.DataFrame(index=index.tz_convert("UTC"))
    for column in ("value", "lower", "upper"):
        out[column] = frame[column].to_numpy(dtype="float64") if column in frame else np.nan
    if not np.isfinite(out["value"].to_numpy()).all():
        raise ValueError("forecast values must be finite (no gaps in a forecast)")
    if (out.index != out.index.floor("h")).any():
        raise ValueError("forecast timestamps must be whole hours")
    return out[~out.index.duplicated(keep="last")]


def model_version_tag(version: int | None) -> str:
    return "substituted" if version is None else f"v{version}"


def check_version(model_version: str) -> str:
    return validate_slug(model_version, "model_version")


def empty_forecast() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model_version": pd.Series(dtype="object"),
            "value": pd.Series(dtype="float64"),
            "lower": pd.Series(dtype="float64"),
            "upper": pd.Series(dtype="float64"),
        },
        index=pd.DatetimeIndex([], tz="UTC", name="timestamp"),
    )
    return frame
