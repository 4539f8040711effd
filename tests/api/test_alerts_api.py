"""GET /alerts/, the ef_alerts_active gauge and the scheduler's alerts job against the real app."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.domain.tasks import utc_now
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.tasks.alert_job import alert_job
from tests.conftest import hourly_series


@pytest.fixture
def app_parts(
    settings_factory: Callable[..., Settings],
) -> Iterator[tuple[DuckDBSeriesStore, TestClient, Settings]]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    settings = settings_factory(home=home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters(
        [Meter("shop", MeterType.ELECTRICITY, "s1", unit="kWh"), Meter("quiet", MeterType.ELECTRICITY, "s1")]
    )
    now = pd.Timestamp(utc_now()).floor("h")
    for meter_id, step in (("shop", 60.0), ("quiet", 0.0)):
        expected = hourly_series(str(now - pd.Timedelta(days=5)).replace("+00:00", ""), hours=24 * 5, seed=2)
        actual = expected.copy()
        actual.iloc[-5:] += step  # the last five hours jump (a chiller left on)
        store.write_readings(
            MeterType.ELECTRICITY, meter_id, make_series(actual.index, actual, "consumption")
        )
        forecast = pd.DataFrame(
            {
                "value": expected,
                "lower": expected - 5,
                "upper": expected + 5,
                "p1": expected - 10,
                "p99": expected + 10,
            }
        )
        store.write_forecast(MeterType.ELECTRICITY, meter_id, "v1", forecast)
    try:
        with TestClient(create_app(settings, store=store)) as client:
            yield store, client, settings
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)


def gauge(client: TestClient) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "ef_alerts_active")
    return {(s.labels["meter_type"], s.labels["rule"]): s.value for s in family.samples}


def test_job_raises_and_the_api_and_metric_show_it(
    app_parts: tuple[DuckDBSeriesStore, TestClient, Settings],
) -> None:
    store, client, settings = app_parts
    assert client.get("/alerts/").json() == {"count": 0, "active": 0, "alerts": []}
    assert gauge(client)[("electricity", "band")] == 0
    assert "No alert" in client.get("/dashboard/alerts").text

    redis_client = client.app.state.tasks.client  # type: ignore[attr-defined]
    job = alert_job(store, redis_client, settings.alerts)
    outcome = job.run()
    assert outcome.extra == {"raised": 1, "cleared": 0, "active": 1}
    assert job.name == "alerts" and job.interval == settings.alerts.every

    body = client.get("/alerts/").json()
    assert body["count"] == 1 and body["active"] == 1
    [alert] = body["alerts"]
    assert alert["meter_id"] == "shop" and alert["rule"] == "band" and alert["state"] == "active"
    assert alert["direction"] == "above" and alert["unit"] == "kWh"
    assert alert["worst_excess"] == pytest.approx(50.0, abs=1e-6)  # 60 over a P99 10 above the median
    assert alert["worst_excess_bands"] == pytest.approx(2.5, abs=1e-6)  # band P1-P99 is 20 wide
    assert alert["detail"]["band"] == "p1-p99"
    assert client.get("/alerts/", params={"meter_id": "quiet"}).json()["count"] == 0
    assert client.get("/alerts/", params={"state": "cleared"}).json()["count"] == 0
    assert client.get("/alerts/", params={"rule": "band", "meter_type": "electricity"}).json()["count"] == 1
    assert gauge(client)[("electricity", "band")] == 1
    assert gauge(client)[("water", "night_trend")] == 0

    page = client.get("/dashboard/alerts")
    assert page.status_code == 200 and page.headers["content-security-policy"]
    assert 'id="active-alerts">1<' in page.text and "/dashboard/meters/electricity/shop" in page.text
    assert "outside forecast" in page.text and "p1-p99" in page.text and "50.00 kWh above" in page.text

    refused = client.get("/alerts/", params={"state": "open"})
    assert refused.status_code == 422 and "state" in refused.text
    assert job.run().extra == {"raised": 0, "cleared": 0, "active": 1}  # the next tick: nothing new


def test_an_import_of_readings_evaluates_that_meters_alerts_at_once(
    app_parts: tuple[DuckDBSeriesStore, TestClient, Settings],
) -> None:
    store, client, _ = app_parts
    stored = store.read_readings(MeterType.ELECTRICITY, "quiet")
    stepped = [
        {"timestamp": t.isoformat(), "consumption": float(v) + 60.0} for t, v in stored.iloc[-5:].items()
    ]

    answer = client.post("/meters/electricity/quiet/readings", json=stepped)

    assert answer.status_code == 201, answer.text
    found = client.get("/alerts/", params={"meter_id": "quiet"}).json()["alerts"]  # no job has run
    assert [(a["rule"], a["state"], a["direction"]) for a in found] == [("band", "active", "above")]
    back = [{"timestamp": t.isoformat(), "consumption": float(v)} for t, v in stored.iloc[-5:].items()]
    assert client.post("/meters/electricity/quiet/readings", json=back).status_code == 201
    assert client.get("/alerts/", params={"meter_id": "quiet", "state": "active"}).json()["count"] == 0
