"""From a meter's readings at its native interval to the hourly values the store keeps.

One meter at a time, on UTC stamps already validated and sorted (``csv_formats``):

- the interval is the declared ``interval_minutes``, else the most common spacing of the stamps
  (an hourly meter with gaps still reads as hourly); it must divide an hour and every stamp must
  sit on its grid;
- ``interval`` readings: a stamp marks its interval's start (default) or end; amounts (kWh, m³)
  are summed into the hour, rates (kW, L/s) averaged;
- ``register`` readings: a read is the index at that instant; an interval's consumption is the
  difference of the reads at its two ends. A drop (rollover or meter exchange) leaves that span
  a gap and is reported: it never becomes negative consumption;
- sufficiency: an hour with more than half of its intervals missing is a gap (the 50 % hourly
  coverage rule of OpenDSM/CalTRACK). A partly complete hour's sum is scaled up by its coverage
  (mean of the intervals present times the intervals in an hour), so it is never silently low.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import INTERVALS_MINUTES, Meter, ReadingKind
from energy_forecast.domain.units import KNOWN_UNITS, UnitKind, parse_unit
from energy_forecast.errors import InputDataError

HOUR_NS = 3_600_000_000_000
MINUTE_NS = 60_000_000_000
STAMPS = ("start", "end")


@dataclass(frozen=True, slots=True)
class Drop:
    """A register read lower than the one before it."""

    at: pd.Timestamp
    before: float
    after: float


@dataclass
class Hourly:
    """One meter's hourly values and what it took to make them."""

    stamps: np.ndarray  # int64 ns, UTC, whole hours, increasing
    values: np.ndarray
    interval_minutes: int
    method: str  # "as is", "sum", "mean" or "difference"
    incomplete_hours: int = 0  # dropped: more than half of the intervals missing
    scaled_hours: int = 0  # kept, sum scaled up by coverage
    unspanned_hours: int = 0  # register: reads too far apart to split into hours
    drops: list[Drop] = field(default_factory=list)


def detect_interval(stamps: np.ndarray) -> int | None:
    """The most common spacing (minutes) of sorted stamps, at most 60; None for a single stamp."""
    if len(stamps) < 2:
        return None
    minutes, counts = np.unique(np.diff(stamps) // MINUTE_NS, return_counts=True)
    common = int(minutes[np.argmax(counts)])  # ties: the smallest spacing (np.unique sorts)
    return min(common, 60)


def _interval(meter: Meter, stamps: np.ndarray, source: str) -> int:
    declared = meter.interval_minutes
    interval = declared if declared is not None else detect_interval(stamps)
    if interval is None:
        interval = 60
    if interval not in INTERVALS_MINUTES:
        raise InputDataError(
            f"readings of meter {meter.meter_id!r} come every {interval} minutes, which does not divide "
            f"an hour; use one of {', '.join(map(str, INTERVALS_MINUTES))} minutes",
            source=source,
        )
    return interval


def _check_grid(meter: Meter, stamps: np.ndarray, rows: np.ndarray, interval: int, source: str) -> None:
    off = stamps % (interval * MINUTE_NS) != 0
    if off.any():
        pos = int(np.flatnonzero(off)[0])
        at = pd.Timestamp(int(stamps[pos]), tz="UTC").isoformat()
        if interval == 60:
            problem = f"timestamp {at} is not on a whole hour (meter {meter.meter_id!r} reads hourly)"
        else:
            problem = (
                f"timestamp {at} is not on the {interval}-minute grid of meter {meter.meter_id!r}'s "
                "other readings"
            )
        raise InputDataError(
            problem + "; fix the stamp, or declare the meter's interval_minutes",
            source=source,
            row=int(rows[pos]),
        )


def to_hourly(
    meter: Meter, stamps: np.ndarray, values: np.ndarray, rows: np.ndarray, *, stamps_mark: str, source: str
) -> Hourly:
    """One meter's hourly values from its readings (see the module's rules).

    Raises:
        InputDataError: an interval that does not divide an hour, a stamp off its grid, or a
            sub-hourly meter whose unit cannot say whether to sum or to average.
    """
    interval = _interval(meter, stamps, source)
    _check_grid(meter, stamps, rows, interval, source)
    step = interval * MINUTE_NS
    if meter.reading_kind is ReadingKind.REGISTER:
        return _register(meter, stamps, values, interval, source)
    starts = stamps - step if stamps_mark == "end" else stamps
    if interval == 60:
        return Hourly(starts, values.astype("float64"), 60, "as is")
    unit = _unit_kind(meter, interval, source)
    return _aggregate(
        starts, values, np.ones(len(values)), interval, "sum" if unit is UnitKind.AMOUNT else "mean"
    )


def _unit_kind(meter: Meter, interval: int, source: str) -> UnitKind:
    try:
        unit = parse_unit(meter.unit)
    except ValueError as exc:
        raise InputDataError(f"meter {meter.meter_id!r}: {exc}", source=source) from None
    if unit is None:
        raise InputDataError(
            f"meter {meter.meter_id!r} has {interval}-minute readings but no unit, so the import cannot "
            "tell whether to sum them (energy, volume) or average them (power, flow) into hours; "
            f"declare its unit in meters.csv (one of {KNOWN_UNITS})",
            source=source,
        )
    return unit.kind


def _aggregate(
    starts: np.ndarray, amounts: np.ndarray, covered: np.ndarray, interval: int, method: str
) -> Hourly:
    """Hourly sums (scaled by coverage) or means of intervals covering ``covered`` intervals each."""
    per_hour = 60 // interval
    hours, inverse = np.unique(starts - starts % HOUR_NS, return_inverse=True)
    total = np.bincount(inverse, weights=amounts, minlength=len(hours))
    count = np.bincount(inverse, weights=covered, minlength=len(hours))
    enough = count * 2 >= per_hour  # more than half missing is a gap
    if method == "mean":
        value = total / np.where(count > 0, count, 1)
    else:
        value = total * per_hour / np.where(count > 0, count, 1)
    return Hourly(
        stamps=hours[enough],
        values=value[enough],
        interval_minutes=interval,
        method=method,
        incomplete_hours=int((~enough).sum()),
        scaled_hours=int((enough & (count < per_hour)).sum()) if method != "mean" else 0,
    )


def _register(meter: Meter, stamps: np.ndarray, values: np.ndarray, interval: int, source: str) -> Hourly:
    try:
        unit = parse_unit(meter.unit)
    except ValueError as exc:
        raise InputDataError(f"meter {meter.meter_id!r}: {exc}", source=source) from None
    if unit is not None and unit.kind is UnitKind.RATE:
        raise InputDataError(
            f"meter {meter.meter_id!r} is a register, which accumulates an amount, but its unit "
            f"{meter.unit!r} is a rate; give an energy or volume unit (kWh, m3, ...)",
            source=source,
        )
    start, end = stamps[:-1], stamps[1:]
    used = np.diff(values.astype("float64"))
    dropped = used < 0
    drops = [
        Drop(pd.Timestamp(int(end[i]), tz="UTC"), float(values[i]), float(values[i + 1]))
        for i in np.flatnonzero(dropped)
    ]
    # A span between two reads belongs to one hour only when it does not cross an hour's end.
    within = (start - start % HOUR_NS) == ((end - 1) - (end - 1) % HOUR_NS)
    keep = within & ~dropped
    spans = (end - start) // (interval * MINUTE_NS)
    hourly = _aggregate(start[keep], used[keep], spans[keep].astype("float64"), interval, "difference")
    hourly.unspanned_hours = _hours_touched(start[~within & ~dropped], end[~within & ~dropped])
    hourly.drops = drops
    return hourly


def _hours_touched(start: np.ndarray, end: np.ndarray) -> int:
    """How many hours spans crossing hour boundaries touch (reads too far apart to split)."""
    if len(start) == 0:
        return 0
    first = start - start % HOUR_NS
    last = (end - 1) - (end - 1) % HOUR_NS
    return int(((last - first) // HOUR_NS + 1).sum())
