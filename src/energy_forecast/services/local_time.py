"""Stamps without an offset, read in a meter's time zone the way meter exports write them.

A stamp with an offset (``Z``, ``+01:00``) is taken as given. A naive stamp is wall-clock time
in the meter's zone, when one is known; otherwise it is read as UTC and the import says so.
Clock changes follow the rules of meter (AMI) exports:

- autumn: the repeated hour appears twice, in order; its first occurrence is daylight-saving
  time, the second standard time. A file that marks them instead has an ``is_dst`` column
  (``true``/``false``, ``1``/``0``, ``yes``/``no``), read for the repeated hour's rows;
- spring: the skipped hour does not exist, and a row stamped inside it is refused.

The zone arithmetic is pandas' (``tz_localize`` over the IANA database); only the order rule
is ours.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from energy_forecast.errors import InputDataError

_TIME_THEN_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")
_UTC_SUFFIXES = ("Z", "z", "+00:00")
_TRUE = {"true", "1", "yes", "y", "t", "dst"}
_FALSE = {"false", "0", "no", "n", "f", "std", "standard"}


def naive_mask(raw: pd.Series) -> np.ndarray:
    """True where a stamp carries no offset (read as wall-clock time), row by row: for columns
    that mix both (``csv_formats`` tells uniform columns from one parse)."""
    cells = raw.to_numpy(dtype=object)
    aware = np.fromiter(
        (isinstance(c, str) and c.rstrip().endswith(_UTC_SUFFIXES) for c in cells),
        dtype=bool,
        count=len(cells),
    )
    rest = np.flatnonzero(~aware)
    if len(rest):
        # A date alone ("2024-01-31") ends in "-31": an offset only counts after a time of day.
        aware[rest] = [isinstance(c, str) and _TIME_THEN_OFFSET.search(c) is not None for c in cells[rest]]
    return ~aware


def parse_is_dst(raw: pd.Series, source: str, first_row: int) -> np.ndarray:
    """The ``is_dst`` column as 1 (daylight time), 0 (standard time) or -1 (empty)."""
    text = raw.astype("string").str.strip().str.lower().fillna("")
    out = np.full(len(text), -1, dtype=np.int8)
    out[text.isin(_TRUE).to_numpy()] = 1
    out[text.isin(_FALSE).to_numpy()] = 0
    bad = (out == -1) & (text != "").to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"is_dst {raw.iloc[pos]!r} is not true/false (or 1/0, yes/no)",
            source=source,
            row=pos + first_row,
        )
    return out


def localize(
    wall: pd.DatetimeIndex,
    zones: np.ndarray,
    keys: np.ndarray,
    is_dst: np.ndarray | None,
    source: str,
    rows_in_file: np.ndarray,
) -> pd.DatetimeIndex:
    """UTC instants of naive wall-clock stamps, each in its row's zone (file order kept).

    ``wall`` holds the stamps as naive datetimes, ``zones`` an IANA zone per row, ``keys`` the
    meter per row (the repeated hour's order is counted per meter), ``rows_in_file`` the row
    numbers that messages name.

    Raises:
        InputDataError: a stamp inside the skipped spring hour, or a repeated-hour stamp
            appearing more than twice for one meter, or marked against its position.
    """
    out = np.empty(len(wall), dtype="int64")
    for zone in pd.unique(zones):
        rows = np.flatnonzero(zones == zone)
        local = wall[rows]
        as_dst = local.tz_localize(zone, ambiguous=np.ones(len(rows), dtype=bool), nonexistent="NaT")
        as_std = local.tz_localize(zone, ambiguous=np.zeros(len(rows), dtype=bool), nonexistent="NaT")
        missing = np.asarray(as_dst.isna())
        if missing.any():
            pos = int(rows[np.flatnonzero(missing)[0]])
            raise InputDataError(
                f"timestamp {wall[pos].isoformat(sep=' ')} does not exist in {zone}: the clocks skip "
                "that hour when daylight-saving time starts; fix the stamp, drop the row, or give "
                "stamps with their UTC offset",
                source=source,
                row=int(rows_in_file[pos]),
            )
        dst_i8, std_i8 = as_dst.asi8, as_std.asi8
        repeated = dst_i8 != std_i8
        chosen = dst_i8.copy()
        if repeated.any():
            at = rows[repeated]
            first = _first_occurrence(wall[at], keys[at], source, rows_in_file[at])
            if is_dst is not None:
                flags = is_dst[rows][repeated]
                first = np.where(flags == -1, first, flags == 1)
            chosen[repeated] = np.where(first, dst_i8[repeated], std_i8[repeated])
        out[rows] = chosen
    return pd.DatetimeIndex(out, tz="UTC").as_unit("ns")


def _first_occurrence(
    wall: pd.DatetimeIndex, keys: np.ndarray, source: str, rows_in_file: np.ndarray
) -> np.ndarray:
    """True for a repeated-hour stamp's first appearance for its meter, False for its second."""
    frame = pd.DataFrame({"key": keys, "t": wall.asi8})
    seen = frame.groupby(["key", "t"], sort=False).cumcount().to_numpy()
    if (seen > 1).any():
        pos = int(np.flatnonzero(seen > 1)[0])
        raise InputDataError(
            f"timestamp {wall[pos].isoformat(sep=' ')} of {keys[pos]!r} appears more than twice; "
            "the repeated hour of a clock change appears at most twice (first daylight time, then "
            "standard time)",
            source=source,
            row=int(rows_in_file[pos]),
        )
    return seen == 0
