"""How ``energy-forecast forecast`` shows forecasts: a table to read, the points as JSON, or CSV.

Each row handed here is one meter's export (``ExportedForecast.to_dict()`` plus ``points``), or
``{"meter_id", "error"}`` for a meter that could not be forecast.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pandas as pd

Row = dict[str, Any]
CSV_COLUMNS = ("meter_id", "meter_type", "timestamp", "value", "lower", "upper", "source")


def source_of(row: Row) -> str:
    """What made the points: the model version, or the same-hour fallback when none could."""
    version = str(row.get("model_version") or "")
    if version == "group":
        members = row.get("members")
        return f"sum of {members} meter{'' if members == 1 else 's'}"
    return "same-hour fallback" if row.get("substituted") or version == "substituted" else f"model {version}"


def points_of(frame: pd.DataFrame | None, source: str) -> list[dict[str, Any]]:
    """The frame's hours as JSON-ready points: ISO-8601 UTC stamp, value and band (None when absent)."""
    if frame is None:
        return []
    points = []
    for stamp, values in zip(frame.index, frame.to_dict("records"), strict=True):
        point: dict[str, Any] = {"timestamp": pd.Timestamp(stamp).isoformat()}
        for name, value in values.items():
            point[str(name)] = (
                None if value is None or (isinstance(value, float) and math.isnan(value)) else value
            )
        point["source"] = source
        points.append(point)
    return points


def readable(value: float | None) -> str:
    """A value with as many decimals as its size deserves (``2,080,705``, ``12.4``, ``0.532``)."""
    if value is None:
        return "\u2013"
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:,.{digits}f}"


def table(rows: list[Row], units: dict[str, str | None]) -> str:
    """One block per meter: a heading, then timestamp, value, band and source per hour."""
    blocks = []
    for row in rows:
        if "error" in row:
            blocks.append(f"{row['meter_id']}: error: {row['error']}")
            continue
        unit = units.get(row["meter_id"]) or ""
        lines = [
            f"{row['meter_id']} ({row['meter_type']}{', ' + unit if unit else ''}): "
            f"{len(row['points'])} hours from {source_of(row)}"
        ]
        header = ("timestamp (UTC)", f"value{' ' + unit if unit else ''}", "80 % band", "source")
        body = [
            (
                pd.Timestamp(p["timestamp"]).strftime("%Y-%m-%d %H:%M"),
                readable(p.get("value")),
                _band(p.get("lower"), p.get("upper")),
                p["source"],
            )
            for p in row["points"]
        ]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
        for cells in [header, *body]:
            lines.append(
                "  ".join(
                    cell.rjust(width) if i in (1, 2) else cell.ljust(width)
                    for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
                ).rstrip()
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _band(lower: float | None, upper: float | None) -> str:
    return "\u2013" if lower is None or upper is None else f"{readable(lower)} \u2013 {readable(upper)}"


def csv_text(rows: list[Row]) -> str:
    """Every point of every meter as CSV (one header); meters in error are left out (see stderr)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for point in row.get("points", []):
            writer.writerow(
                [row["meter_id"], row["meter_type"], point["timestamp"]]
                + ["" if point.get(k) is None else point[k] for k in ("value", "lower", "upper")]
                + [point["source"]]
            )
    return buffer.getvalue()
