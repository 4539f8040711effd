"""Parse and validate reading and temperature tables before anything is written.

Every check names the source, the row and the problem, so a user can fix the file. Rows are
numbered like a spreadsheet shows them: the header is row 1, the first data row is row 2.
Empty values are gaps and are dropped, never filled; exact duplicates collapse; duplicates with
different values are refused.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.errors import InputDataError
from energy_forecast.services import local_time

EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2100-01-01", tz="UTC")
_SLUG = re.compile(SLUG_PATTERN)
FIRST_DATA_ROW = 2  # a spreadsheet's numbering: the header is row 1


@dataclass(frozen=True, slots=True)
class ParsedTable:
    """A validated long table: ``timestamp`` (UTC), ``key`` (meter or site id), ``value``, ``row``.

    ``naive_as_utc`` counts, per key, the rows whose stamps had no offset and no time zone to be
    read in, so were read as UTC.
    """

    frame: pd.DataFrame
    source: str
    empty_rows: int
    naive_as_utc: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)


def reject_first(
    bad: np.ndarray | pd.Series, problem: Callable[[int], str], source: str, first_row: int
) -> None:
    """Raise for the first flagged row, naming it; ``problem(pos)`` words the message."""
    flags = np.asarray(bad, dtype=bool)
    if flags.any():
        pos = int(np.flatnonzero(flags)[0])
        raise InputDataError(problem(pos), source=source, row=pos + first_row)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns)) or 'none'}",
            source=source,
        )


def parse_timestamps(
    raw: pd.Series, source: str, *, first_row: int = FIRST_DATA_ROW, hourly: bool = True
) -> pd.DatetimeIndex:
    """ISO-8601 (or pandas-readable) stamps to UTC; naive stamps are read as UTC.

    ``hourly=False`` lets sub-hourly stamps through (readings are put on hours later).

    Raises:
        InputDataError: first unparseable, out-of-range or off-the-hour stamp, with its row.
    """
    return parse_stamps(raw, source, first_row=first_row, hourly=hourly)[0]


def _parse_uniform(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """One vectorised ISO-8601 parse of a column written all with offsets or all without (the
    usual file): UTC stamps, and which were naive. Mixed columns raise ``ValueError``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' notes on mixed offsets: the row path handles them
        parsed = pd.to_datetime(raw, format="ISO8601")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC"), np.zeros(len(raw), dtype=bool)
    if parsed.dtype.kind == "M":
        return parsed.dt.tz_localize("UTC"), np.ones(len(raw), dtype=bool)
    raise ValueError("mixed offsets")


def parse_stamps(
    raw: pd.Series, source: str, *, first_row: int = FIRST_DATA_ROW, hourly: bool = True
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """``parse_timestamps``, and a mask of the stamps written without an offset."""
    naive: np.ndarray | None = None
    try:
        try:
            parsed, naive = _parse_uniform(raw)
        except ValueError:
            parsed, naive = pd.to_datetime(raw, utc=True, format="ISO8601"), None
        if parsed.isna().any():  # empty cells parse to NaT without an error
            raise ValueError("empty timestamp")
    except (ValueError, TypeError, OverflowError):
        parsed, naive = _parse_timestamps_slowly(raw, source, first_row), None
    text = raw
    index = pd.DatetimeIndex(parsed).as_unit("ns")
    out_of_range = (index < EARLIEST) | (index >= LATEST)
    reject_first(
        out_of_range, lambda pos: f"timestamp {text.iloc[pos]!r} outside 1970..2099", source, first_row
    )
    off_hour = index != index.floor("h") if hourly else np.zeros(len(index), dtype=bool)
    reject_first(
        off_hour,
        lambda pos: (
            f"timestamp {text.iloc[pos]!r} is not on a whole hour; aggregate readings to hourly first"
        ),
        source,
        first_row,
    )
    return index, (naive if naive is not None else local_time.naive_mask(raw))


def _parse_timestamps_slowly(raw: pd.Series, source: str, first_row: int) -> pd.Series:
    """Cell by cell tolerance (whitespace, mixed formats), to name the first bad row."""
    text = raw.astype("string").str.strip()
    empty = text.isna() | (text == "")
    reject_first(empty.to_numpy(), lambda pos: "empty timestamp", source, first_row)
    parsed = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    bad = parsed.isna().to_numpy()
    reject_first(
        bad,
        lambda pos: f"cannot parse timestamp {text.iloc[pos]!r}; use ISO-8601 like 2024-01-31T13:00:00Z",
        source,
        first_row,
    )
    return parsed


def parse_values(
    raw: pd.Series, source: str, *, column: str, allow_negative: bool, first_row: int = FIRST_DATA_ROW
) -> pd.Series:
    """Numbers as float64 with NaN for empty cells (gaps).

    Raises:
        InputDataError: first non-numeric, non-finite or (when not allowed) negative value.
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and raw.dtype != bool:
        array = raw.to_numpy(dtype="float64")
        text = raw  # only read for the message of a bad row
    else:
        cells = raw.to_numpy(dtype=object)
        empty = pd.isna(cells) | (cells == "")
        text = pd.Series(cells, index=raw.index)
        try:
            # Fast path: numpy parses the whole column at once; "nan" text is caught below.
            array = np.where(empty, "nan", cells).astype("float64")
        except (ValueError, TypeError):
            array = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype="float64")
        bad = np.isnan(array) & ~empty
        reject_first(bad, lambda pos: f"{column} {text.iloc[pos]!r} is not a number", source, first_row)
    non_finite = np.isinf(array)
    reject_first(non_finite, lambda pos: f"{column} {text.iloc[pos]!r} is not finite", source, first_row)
    if not allow_negative:
        negative = array < 0
        reject_first(
            negative,
            lambda pos: f"{column} {float(array[pos]):g} is negative; consumption must be >= 0",
            source,
            first_row,
        )
    return pd.Series(array, index=raw.index, name=column)


def parse_ids(raw: pd.Series, source: str, *, column: str, first_row: int = FIRST_DATA_ROW) -> pd.Series:
    """Meter or site ids, validated as slugs (they reach paths and queries).

    Only distinct values are matched against the pattern: a file holds few ids in many rows.
    """
    cells = raw.to_numpy(dtype=object)
    stripped = {value: (value.strip() if isinstance(value, str) else "") for value in pd.unique(cells)}
    invalid = [value for value, clean in stripped.items() if not _SLUG.fullmatch(clean)]
    if invalid:
        pos = int(np.flatnonzero(pd.Series(cells).isin(invalid).to_numpy())[0])
        raise InputDataError(
            f"{column} {cells[pos]!r} is not a valid id (letters, digits, '_', '.', '-'; 1-64 chars)",
            source=source,
            row=pos + first_row,
        )
    if all(value == clean for value, clean in stripped.items()):
        return pd.Series(cells, index=raw.index)
    return pd.Series([stripped[v] for v in cells], index=raw.index, dtype=object)


def build_table(
    timestamps: pd.DatetimeIndex,
    keys: pd.Series,
    values: pd.Series,
    source: str,
    *,
    key_column: str,
    value_column: str,
    first_row: int = FIRST_DATA_ROW,
) -> ParsedTable:
    """Drop gaps, collapse exact duplicates, refuse conflicting duplicates; sort by key and time."""
    value_array = values.to_numpy(dtype="float64")
    keep = ~np.isnan(value_array)
    rows = np.flatnonzero(keep) + first_row
    codes, uniques = pd.factorize(keys.to_numpy()[keep], sort=True)
    stamps = timestamps.asi8[keep]
    value_array = value_array[keep]
    order = np.lexsort((stamps, codes))
    codes, stamps, value_array, rows = codes[order], stamps[order], value_array[order], rows[order]
    same = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    if same.any():
        conflict = same & (value_array[1:] != value_array[:-1])
        if conflict.any():
            pos = int(np.flatnonzero(conflict)[0])
            at = pd.Timestamp(stamps[pos], tz="UTC").isoformat()
            raise InputDataError(
                f"duplicate {key_column} {uniques[codes[pos]]!r} at {at} "
                f"with different {value_column} values (rows {min(rows[pos], rows[pos + 1])}, "
                f"{max(rows[pos], rows[pos + 1])})",
                source=source,
                row=int(max(rows[pos], rows[pos + 1])),
            )
        first = np.r_[True, ~same]
        codes, stamps, value_array, rows = codes[first], stamps[first], value_array[first], rows[first]
    frame = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(stamps, tz="UTC"),
            "key": np.asarray(uniques, dtype=object)[codes],
            "value": value_array,
            "row": rows,
        }
    )
    return ParsedTable(frame=frame, source=source, empty_rows=int((~keep).sum()))


def parse_long_readings(
    frame: pd.DataFrame,
    source: str,
    *,
    meter_id: str | None = None,
    first_row: int = FIRST_DATA_ROW,
    zones: Mapping[str, str] | None = None,
    default_zone: str | None = None,
) -> ParsedTable:
    """``timestamp,meter_id,consumption`` (``meter_id`` optional when given by the caller).

    ``reading`` is accepted for ``consumption`` (a register's index goes there). Stamps may be
    sub-hourly. Naive stamps are read in ``zones[meter_id]`` or ``default_zone`` (``local_time``),
    as UTC without either;
    an optional ``is_dst`` column marks the repeated autumn hour.
    """
    if "consumption" not in frame.columns and "reading" in frame.columns:
        frame = frame.rename(columns={"reading": "consumption"})
    columns = ["timestamp", "consumption"] if meter_id else ["timestamp", "meter_id", "consumption"]
    require_columns(frame, columns, source)
    if meter_id is not None:
        if "meter_id" in frame.columns:
            ids = parse_ids(frame["meter_id"], source, column="meter_id", first_row=first_row)
            other = ids != meter_id
            reject_first(
                other.to_numpy(),
                lambda pos: f"meter_id {ids.iloc[pos]!r} differs from {meter_id!r} in the URL",
                source,
                first_row,
            )
        keys = pd.Series([meter_id] * len(frame), index=frame.index)
    else:
        keys = parse_ids(frame["meter_id"], source, column="meter_id", first_row=first_row)
    timestamps, naive = parse_stamps(frame["timestamp"], source, first_row=first_row, hourly=False)
    timestamps, naive_as_utc = _local_stamps(
        frame, keys, timestamps, naive, zones or {}, default_zone, source, first_row
    )
    values = parse_values(
        frame["consumption"], source, column="consumption", allow_negative=False, first_row=first_row
    )
    try:
        table = build_table(
            timestamps,
            keys,
            values,
            source,
            key_column="meter_id",
            value_column="consumption",
            first_row=first_row,
        )
    except InputDataError as exc:
        if not naive_as_utc or not exc.problem.startswith("duplicate"):
            raise
        raise InputDataError(
            exc.problem + "; the stamps have no UTC offset and were read as UTC: "
            "if they are local time (a repeated hour when clocks go back), give the meter's timezone",
            source=source,
            row=exc.row,
        ) from None
    return ParsedTable(table.frame, source, table.empty_rows, naive_as_utc)


def _local_stamps(
    frame: pd.DataFrame,
    keys: pd.Series,
    timestamps: pd.DatetimeIndex,
    naive: np.ndarray,
    zones: Mapping[str, str],
    default_zone: str | None,
    source: str,
    first_row: int,
) -> tuple[pd.DatetimeIndex, dict[str, int]]:
    """Naive stamps moved from "read as UTC" to their meter's zone; rows left as UTC, per meter."""
    if not naive.any():
        return timestamps, {}
    key_array = keys.to_numpy(dtype=object)
    zone_per_row = pd.Series(key_array).map(dict(zones)).astype(object)
    if default_zone is not None:
        zone_per_row = zone_per_row.fillna(default_zone)
    zone_per_row = zone_per_row.to_numpy(dtype=object)
    unzoned = naive & pd.isna(zone_per_row)
    counts = pd.Series(key_array[unzoned]).value_counts()
    naive_as_utc = {str(k): int(v) for k, v in counts.items()}
    local = naive & ~pd.isna(zone_per_row)
    if local.any():
        is_dst = (
            local_time.parse_is_dst(frame["is_dst"], source, first_row)[local]
            if "is_dst" in frame.columns
            else None
        )
        wall = timestamps[local].tz_localize(None)
        rows_in_file = np.flatnonzero(local) + first_row
        utc = local_time.localize(wall, zone_per_row[local], key_array[local], is_dst, source, rows_in_file)
        i8 = timestamps.asi8.copy()
        i8[local] = utc.asi8
        timestamps = pd.DatetimeIndex(i8, tz="UTC").as_unit("ns")
    return timestamps, naive_as_utc


def parse_long_temperature(
    frame: pd.DataFrame,
    source: str,
    *,
    zones: Mapping[str, str] | None = None,
    default_zone: str | None = None,
) -> ParsedTable:
    """``timestamp,site_id,temperature_c``; temperatures outside -90..65 °C are refused.

    Stamps without an offset are wall-clock time of their site's zone (``zones``, by site id, or
    ``default_zone``), as a meter's readings are; a site with neither is read as UTC and counted
    in ``naive_as_utc``.
    """
    require_columns(frame, ["timestamp", "site_id", "temperature_c"], source)
    keys = parse_ids(frame["site_id"], source, column="site_id")
    timestamps, naive = parse_stamps(frame["timestamp"], source)
    timestamps, naive_as_utc = _local_stamps(
        frame, keys, timestamps, naive, zones or {}, default_zone, source, FIRST_DATA_ROW
    )
    values = parse_values(frame["temperature_c"], source, column="temperature_c", allow_negative=True)
    check_temperature_bounds(values, source)
    table = build_table(timestamps, keys, values, source, key_column="site_id", value_column="temperature_c")
    return ParsedTable(table.frame, source, table.empty_rows, naive_as_utc)


def check_temperature_bounds(values: pd.Series, source: str, *, first_row: int = FIRST_DATA_ROW) -> None:
    array = values.to_numpy()
    absurd = (array < -90) | (array > 65)
    reject_first(
        absurd,
        lambda pos: f"temperature {float(array[pos]):g} °C is outside physical bounds (-90..65)",
        source,
        first_row,
    )


def parse_meter_types(raw: pd.Series, source: str, *, first_row: int = FIRST_DATA_ROW) -> pd.Series:
    text = raw.astype("string").str.strip().str.lower()
    allowed = {t.value for t in MeterType}
    bad = ~text.isin(allowed)
    reject_first(
        bad.to_numpy(),
        lambda pos: f"unknown meter_type {raw.iloc[pos]!r}; use one of {', '.join(sorted(allowed))}",
        source,
        first_row,
    )
    return text.astype(object)


_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def parser_problem(exc: Exception) -> str:
    """pandas' parser error in the user's words (``row 5 has 4 fields, the header has 3``), not its C."""
    text = str(exc)
    match = _PANDAS_FIELDS.search(text)
    if match:
        expected, line, saw = match.groups()
        return (
            f"malformed CSV: line {line} has {saw} fields where the header has {expected}; "
            "check that line for an extra separator or an unquoted comma"
        )
    text = re.sub(r"^Error tokenizing data\.\s*", "", text).replace("C error: ", "").strip()
    return f"malformed CSV: {text or 'the file could not be split into rows and columns'}"
