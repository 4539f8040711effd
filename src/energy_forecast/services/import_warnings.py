"""What an import did that the user should know: the summary printed (and answered) at its end.

Nothing here stops an import; every warning names the meter or site and what to do about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from energy_forecast.domain.meters import Meter
from energy_forecast.services.intervals import Hourly

# How many register drops are listed one by one before the rest are counted.
_DROPS_LISTED = 3


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """One line of the end-of-import summary."""

    code: str  # unknown_meter, naive_utc, aggregated, incomplete_hours, scaled_hours, ...
    subject: str  # the meter or site id it is about
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _count(n: int, word: str) -> str:
    """``1 hour``, ``3 hours``: the summary reads as sentences."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known id ``name`` most likely misspells (case first, then similarity), or None."""
    candidates = list(known)
    for candidate in candidates:
        if candidate.lower() == name.lower():
            return candidate
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_meters(ids: Iterable[str], listed: Iterable[str], source: str) -> list[ImportWarning]:
    """Readings of meters neither ``meters.csv`` nor the registry lists (registered with defaults)."""
    known = sorted(set(listed))
    out = []
    for meter_id in ids:
        guess = closest(meter_id, known)
        hint = f"; did you mean {guess!r}?" if guess else "; add it to meters.csv to give its site and unit"
        out.append(
            ImportWarning(
                "unknown_meter",
                meter_id,
                f"{source}: meter {meter_id!r} is not in meters.csv; registered with default site and "
                f"no unit{hint}",
            )
        )
    return out


def naive_stamps(naive_as_utc: Mapping[str, int], source: str, *, site: bool = False) -> list[ImportWarning]:
    fix = (
        "give its meters a timezone (meters.csv), or --timezone, if they are local time"
        if site
        else "give the meter's timezone (meters.csv or --timezone) if they are local time"
    )
    return [
        ImportWarning(
            "naive_utc",
            key,
            f"{source}: {_count(count, 'stamp')} of {key!r} had no UTC offset and no time zone was given, so "
            f"they were read as UTC; {fix}",
        )
        for key, count in sorted(naive_as_utc.items())
    ]


def hourly_notes(meter: Meter, hourly: Hourly, source: str) -> list[ImportWarning]:
    """Aggregation, sufficiency and register findings of one meter."""
    out: list[ImportWarning] = []
    mid, every = meter.meter_id, f"{hourly.interval_minutes}-minute"
    how = {"sum": "summed", "mean": "averaged (time-weighted mean)", "difference": "differenced and summed"}
    if hourly.method in how and (hourly.interval_minutes < 60 or hourly.method == "difference"):
        unit = f" ({meter.unit})" if meter.unit else ""
        what = "register reads" if hourly.method == "difference" else "readings"
        out.append(
            ImportWarning(
                "aggregated",
                mid,
                f"{source}: {every} {what} of {mid!r}{unit} {how[hourly.method]} into hours",
            )
        )
    if hourly.incomplete_hours:
        out.append(
            ImportWarning(
                "incomplete_hours",
                mid,
                f"{source}: {_count(hourly.incomplete_hours, 'hour')} of {mid!r} dropped as incomplete "
                f"(more than half of their {every} intervals missing); they stay gaps",
            )
        )
    if hourly.scaled_hours:
        out.append(
            ImportWarning(
                "scaled_hours",
                mid,
                f"{source}: {_count(hourly.scaled_hours, 'hour')} of {mid!r} had some intervals missing; "
                "the sum was scaled up by the share of intervals present",
            )
        )
    if hourly.unspanned_hours:
        out.append(
            ImportWarning(
                "register_unspanned",
                mid,
                f"{source}: {_count(hourly.unspanned_hours, 'hour')} of {mid!r} between register reads that "
                "span an hour's end (a missing read); they stay gaps",
            )
        )
    if hourly.drops:
        listed = ", ".join(
            f"{d.at.isoformat()} ({d.before:.12g} -> {d.after:.12g})" for d in hourly.drops[:_DROPS_LISTED]
        )
        more = len(hourly.drops) - _DROPS_LISTED
        times = "once" if len(hourly.drops) == 1 else f"{len(hourly.drops)} times"
        out.append(
            ImportWarning(
                "register_drop",
                mid,
                f"{source}: register {mid!r} went down {times} (rollover or meter "
                f"exchange) at {listed}{f' and {more} more' if more > 0 else ''}; each such interval is "
                "a gap, never negative consumption",
            )
        )
    return out


def sites_without_temperature(
    meters: Iterable[Meter], sites_with_temperature: Iterable[str]
) -> list[ImportWarning]:
    have = set(sites_with_temperature)
    by_site: dict[str, list[str]] = {}
    for meter in meters:
        if meter.site_id not in have:
            by_site.setdefault(meter.site_id, []).append(meter.meter_id)
    out = []
    for site_id, meter_ids in sorted(by_site.items()):
        names = ", ".join(repr(m) for m in sorted(meter_ids)[:5]) + (" ..." if len(meter_ids) > 5 else "")
        out.append(
            ImportWarning(
                "no_temperature",
                site_id,
                f"site {site_id!r} (meters {names}) has no temperatures: import temperature.csv rows "
                "for it, or set its location (POST /location/) so forecasts can fetch weather",
            )
        )
    return out


def summary_lines(warnings: list[ImportWarning], per_code: int = 5) -> list[str]:
    """The summary as lines: at most ``per_code`` of each kind, then how many more (a fleet of
    15-minute meters would otherwise print one "aggregated" line per meter)."""
    by_code: dict[str, list[ImportWarning]] = {}
    for warning in warnings:
        by_code.setdefault(warning.code, []).append(warning)
    lines = []
    for code, group in by_code.items():
        lines += [w.message for w in group[:per_code]]
        if len(group) > per_code:
            lines.append(f"... and {len(group) - per_code} more {code} warnings (for other meters or sites)")
    return lines
