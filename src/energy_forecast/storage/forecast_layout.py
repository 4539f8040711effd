"""The written-back forecast layout both stores share (and Grafana reads).

InfluxDB: measurement ``forecast``, tags ``meter_id``, ``meter_type``, ``model_version``; fields
``value``, ``lower``, ``upper`` and one field per forecast quantile named by its key (``p10``,
``p50``, ``p90``, ``p2.5``: ``ml.quantiles.quantile_key``), all in the meter's unit (kWh or m³ per
hour); time = start of the hour, UTC. DuckDB: table ``forecast`` with the same names, the
quantiles as one JSON object column ``quantiles`` (``{"p10": ..}``). A point is keyed by (meter,
model version, hour): re-writing replaces it, and forecasts of different model versions stand side by side.
``model_version`` is ``v{n}`` for a trained model or ``substituted`` for the same-hour fallback.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import validate_slug
from energy_forecast.ml.quantiles import frame_levels, quantile_key

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
    for key in quantile_columns(frame):
        out[key] = frame[key].to_numpy(dtype="float64")
    if not np.isfinite(out["value"].to_numpy()).all():
        raise ValueError("forecast values must be finite (no gaps in a forecast)")
    if (out.index != out.index.floor("h")).any():
        raise ValueError("forecast timestamps must be whole hours")
    return out[~out.index.duplicated(keep="last")]


def quantile_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's quantile columns (``p10`` ..), in level order."""
    return [quantile_key(q) for q in frame_levels(frame.columns)]


def quantiles_json(points: pd.DataFrame) -> list[str]:
    """One JSON object per row of a checked frame: its finite quantiles by key (DuckDB column)."""
    keys = quantile_columns(points)
    columns = [points[k].tolist() for k in keys]
    return [
        json.dumps(
            {k: values[row] for k, values in zip(keys, columns, strict=True) if np.isfinite(values[row])}
        )
        for row in range(len(points))
    ]


def quantiles_from_json(texts: list[str | None]) -> pd.DataFrame:
    """Inverse of ``quantiles_json``: one float column per key (NaN where a row lacks it)."""
    rows = [json.loads(t) if isinstance(t, str) and t else {} for t in texts]
    frame = pd.DataFrame.from_records(rows, index=range(len(rows))).astype("float64")
    return frame[quantile_columns(frame)]


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
