"""Peak-event scores: how well forecast daily peaks matched the days that followed.

The scores are the ones OpenSTEF's benchmarks report for peaks: a *peak event* is a day whose
maximum exceeds a threshold; the forecast calls the event when its probability of exceedance
reaches ``decision`` (0.5 by default), and precision, recall and F1 count hits, false alarms and
misses over the scored days. Beside them: the Brier score of the probabilities (it rewards
honest probabilities, not only the calls), the error of the peak's value (the P50 of the
day's peak against the actual maximum), the P10-P90 coverage of the peak, and the error of the
peak's hour (the most likely hour against the hour the maximum happened).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from energy_forecast.ml.peaks import day_exceedance, forecast_peaks, period_labels
from energy_forecast.ml.scenarios import Scenarios

HOUR_SECONDS = 3600.0


@dataclass(frozen=True)
class PeakOutcome:
    """One scored local day: what the forecast said at its origin, and what happened."""

    day: str
    threshold: float
    probability: float
    p10: float
    p50: float
    p90: float
    likely_hour: pd.Timestamp
    actual_peak: float
    actual_hour: pd.Timestamp

    @property
    def event(self) -> bool:
        return self.actual_peak > self.threshold


def first_full_day(scenarios: Scenarios, timezone: str) -> str | None:
    """The first local day whose every hour lies in the forecast window (the day-ahead day)."""
    days = period_labels(scenarios.index, timezone, "day")
    for day in dict.fromkeys(days):
        local = pd.Timestamp(str(day), tz=timezone)
        hours = pd.date_range(local, local + pd.Timedelta(days=1), freq="h", inclusive="left")
        inside = scenarios.index.isin(hours.tz_convert("UTC"))
        if inside.sum() == len(hours):
            return str(day)
    return None


def day_outcome(
    scenarios: Scenarios, actual: pd.Series, timezone: str, threshold: float, day: str
) -> PeakOutcome | None:
    """Score the forecast of local ``day`` against ``actual`` (readings after the origin);
    None when the day has no complete actuals (a gap would hide the real peak)."""
    labels = period_labels(pd.DatetimeIndex(actual.index), timezone, "day")
    truth = actual[labels == day].dropna()
    expected = int((scenarios.index.tz_convert(timezone).strftime("%Y-%m-%d") == day).sum())
    if truth.empty or len(truth) < expected:
        return None
    history = actual.iloc[:0]  # the day is wholly ahead of the origin: nothing observed in it
    peak = next(p for p in forecast_peaks(scenarios, history, timezone, "day") if p.label == day)
    chance = next(e for e in day_exceedance(scenarios, history, timezone, threshold) if e.day == day)
    return PeakOutcome(
        day=day,
        threshold=float(threshold),
        probability=chance.probability,
        p10=peak.quantiles["p10"],
        p50=peak.quantiles["p50"],
        p90=peak.quantiles["p90"],
        likely_hour=peak.likely_hour,
        actual_peak=float(truth.max()),
        actual_hour=pd.Timestamp(truth.idxmax()),
    )


def event_scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float | int | None]:
    """Precision, recall and F1 of boolean event calls; None where a ratio has no denominator."""
    predicted, actual = np.asarray(predicted, dtype=bool), np.asarray(actual, dtype=bool)
    hits = int(np.sum(predicted & actual))
    false_alarms = int(np.sum(predicted & ~actual))
    misses = int(np.sum(~predicted & actual))
    precision = hits / (hits + false_alarms) if hits + false_alarms else None
    recall = hits / (hits + misses) if hits + misses else None
    f1 = None  # no events and no calls: nothing to score
    if hits + misses:  # events happened: no call at all (no precision) scores F1 0
        p, r = precision or 0.0, recall or 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "events": hits + misses,
        "called": hits + false_alarms,
        "hits": hits,
        "false_alarms": false_alarms,
        "misses": misses,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def peak_scores(outcomes: Sequence[PeakOutcome], decision: float = 0.5) -> dict[str, float | int | None]:
    """Event scores, Brier score, peak value error and P10-P90 coverage, peak hour error."""
    if not outcomes:
        return {"days": 0}
    probability = np.array([o.probability for o in outcomes])
    event = np.array([o.event for o in outcomes])
    actual = np.array([o.actual_peak for o in outcomes])
    p50 = np.array([o.p50 for o in outcomes])
    inside = (np.array([o.p10 for o in outcomes]) <= actual) & (actual <= np.array([o.p90 for o in outcomes]))
    hour_error = np.array(
        [abs((o.likely_hour - o.actual_hour).total_seconds()) / HOUR_SECONDS for o in outcomes]
    )
    nonzero = actual != 0
    scores: dict[str, float | int | None] = {"days": len(outcomes), "decision": decision}
    scores.update(event_scores(probability >= decision, event))
    scores.update(
        {
            "brier": float(np.mean((probability - event) ** 2)),
            "peak_mae": float(np.mean(np.abs(p50 - actual))),
            "peak_mape_percent": (
                float(np.mean(np.abs(p50 - actual)[nonzero] / np.abs(actual[nonzero])) * 100)
                if nonzero.any()
                else None
            ),
            "peak_bias": float(np.mean(p50 - actual)),
            "peak_p10_p90_coverage": float(np.mean(inside)),
            "hour_mae": float(np.mean(hour_error)),
            "hour_within_1h": float(np.mean(hour_error <= 1.0)),
            "hour_exact": float(np.mean(hour_error == 0.0)),
        }
    )
    return scores


def outcome_records(outcomes: Sequence[PeakOutcome]) -> list[dict[str, object]]:
    """Outcomes as plain dicts (timestamps as ISO text), for a bench's table or a JSON file."""
    records = []
    for outcome in outcomes:
        row = asdict(outcome)
        row["likely_hour"] = outcome.likely_hour.isoformat()
        row["actual_hour"] = outcome.actual_hour.isoformat()
        row["event"] = outcome.event
        records.append(row)
    return records
