"""Fleet-health metrics read from Redis at scrape time: scheduler, model freshness, publications.

Cardinality stays bounded whatever the fleet size: every family here is a fleet summary (counts,
ages of the oldest and newest publication, medians of live and hold-out CV(RMSE)), except
``ef_meter_live_to_holdout_ratio``, which names only the ``WORST_METERS`` meters whose live
accuracy drifted most. At 100,000 meters that is still about 40 series; per-meter figures for
every meter are on the dashboard and in ``/forecasts/{type}/{id}/latest``, not in Prometheus.
Each read is O(log N) on sorted sets (``tasks/publications.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from energy_forecast.settings import Settings
from energy_forecast.tasks.lease import read_leader
from energy_forecast.tasks.publications import HOLDOUT_KEY, LIVE_KEY, PublicationIndex
from energy_forecast.tasks.schedule_jobs import read_fleet
from energy_forecast.tasks.scheduler import run_counts

WORST_METERS = 20


def fleet_families(client: redis.Redis, settings: Settings, scheduler: Any | None) -> Iterator[Metric]:
    """Every fleet-health family; raises redis errors for the caller to report the source down."""
    runs = CounterMetricFamily(
        "ef_scheduler_runs",
        "Scheduler job runs by job and outcome (success, failure).",
        labels=["job", "outcome"],
    )
    for (job, outcome), count in sorted(run_counts(client).items()):
        runs.add_metric([job, outcome], count)
    yield runs
    yield GaugeMetricFamily(
        "ef_scheduler_leader",
        "1 when this process's scheduler holds the lease and acts, else 0.",
        value=1 if scheduler is not None and scheduler.leading else 0,
    )
    yield GaugeMetricFamily(
        "ef_scheduler_lease_held",
        "1 when some scheduler (any process) holds the leader lease.",
        value=1 if read_leader(client) is not None else 0,
    )
    fleet = read_fleet(client)
    for name, key, doc in (
        (
            "ef_models_stale",
            "models_stale",
            "Meters whose active model is older than EF_SCHEDULE__MODEL_MAX_AGE.",
        ),
        ("ef_meters_without_model", "meters_without_model", "Meters with readings and no active model."),
        (
            "ef_meters_drifted",
            "meters_drifted",
            "Meters whose live CV(RMSE) exceeds the drift factor x hold-out.",
        ),
    ):
        if key in fleet:
            yield GaugeMetricFamily(
                name, doc + " (counted by the scheduler's last train run)", value=fleet[key]
            )
    index = PublicationIndex(client)
    stale_after = 2 * settings.schedule.forecast_every.total_seconds()
    fresh = index.freshness(stale_after)
    yield GaugeMetricFamily(
        "ef_forecast_published_meters", "Meters with a published forecast.", value=fresh.published_meters
    )
    age = GaugeMetricFamily(
        "ef_forecast_age_seconds",
        "Age of the newest published forecast of the stalest (oldest) and the freshest (newest) meter.",
        labels=["which"],
    )
    if fresh.oldest_age_s is not None and fresh.newest_age_s is not None:
        age.add_metric(["oldest"], fresh.oldest_age_s)
        age.add_metric(["newest"], fresh.newest_age_s)
    yield age
    yield GaugeMetricFamily(
        "ef_forecasts_stale",
        "Meters whose newest published forecast is older than twice EF_SCHEDULE__FORECAST_EVERY.",
        value=fresh.older_than,
    )
    accuracy = GaugeMetricFamily(
        "ef_fleet_cv_rmse_percent",
        "Fleet median CV(RMSE), percent: live (published forecasts vs later readings) and hold-out.",
        labels=["kind"],
    )
    for kind, key in (("live", LIVE_KEY), ("holdout", HOLDOUT_KEY)):
        median = index.median(key)
        if median is not None:
            accuracy.add_metric([kind], median)
    yield accuracy
    worst = GaugeMetricFamily(
        "ef_meter_live_to_holdout_ratio",
        f"Live / hold-out CV(RMSE) of the {WORST_METERS} most drifted meters only (bounded cardinality).",
        labels=["meter_id", "meter_type"],
    )
    for meter_type, meter_id, ratio in index.worst(WORST_METERS):
        worst.add_metric([meter_id, meter_type.value], ratio)
    yield worst
