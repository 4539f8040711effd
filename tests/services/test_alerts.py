"""Alerts end to end: real readings replayed through the store, state in a real Redis, the webhook
posted to a local receiver (signature checked, a 500 retried)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.ml.quantiles import QuantileOffsets
from energy_forecast.services.alert_webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    verify,
)
from energy_forecast.services.alerts import ALERTS_KEY, AlertService, active_counts, latest_forecast
from energy_forecast.settings import AlertSettings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

pytestmark = pytest.mark.integration

REPLAY = Path(__file__).resolve().parents[1] / "data" / "alerts_replay.csv"
SECRET = "test-secret"


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.posts: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(owner.posts) < owner.fail_first else 204
                owner.posts.append((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[dict[str, Any]]:
        """Bodies the receiver accepted, each checked against its signature."""
        out = []
        for headers, body, status in self.posts:
            assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
            if status < 300:
                out.append(json.loads(body))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    connection.delete(ALERTS_KEY)
    yield connection
    connection.delete(ALERTS_KEY)
    connection.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=1)
    yield server
    server.close()


def load(meter_id: str) -> pd.Series:
    data = pd.read_csv(REPLAY, parse_dates=["timestamp"])
    return data[data.meter_id == meter_id].set_index("timestamp")["consumption"].asfreq("h")


def published_band(series: pd.Series) -> pd.DataFrame:
    """What publication would have stored: a median (same hour last week) with calibrated P1/P50/P99
    (split-conformal offsets of the two weeks before the replayed ones)."""
    naive = series.shift(168)
    offsets = QuantileOffsets.from_residuals((series - naive).iloc[168:504].dropna())
    p1, p10, p50, p90, p99 = offsets.at([0.01, 0.1, 0.5, 0.9, 0.99])
    frame = pd.DataFrame(
        {
            "value": naive + p50,
            "lower": naive + p10,
            "upper": naive + p90,
            "p1": naive + p1,
            "p50": naive + p50,
            "p99": naive + p99,
        }
    ).iloc[504:]
    return frame.clip(lower=0).dropna()


def test_step_change_raised_cleared_and_posted(
    tmp_path: Path, client: redis.Redis, receiver: Receiver
) -> None:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    store.upsert_meters(
        [Meter("tetouan_zone1", MeterType.ELECTRICITY, unit="kW", timezone="Africa/Casablanca")]
    )
    series = load("tetouan_zone1")
    fault = pd.date_range("2017-03-10 08:00", periods=10, freq="h", tz="UTC")
    series[fault] *= 1.4  # a feeder switched onto this zone for ten hours
    store.write_readings(
        MeterType.ELECTRICITY, "tetouan_zone1", make_series(series.index, series, "consumption")
    )
    store.write_forecast(MeterType.ELECTRICITY, "tetouan_zone1", "v1", published_band(series))
    notifier = WebhookNotifier(receiver.url, SECRET, retries=2, backoff_s=0.01)
    service = AlertService(store, client, AlertSettings(), notifier)

    # the first two faulty hours are not enough (three in a row are needed)
    assert service.evaluate(MeterType.ELECTRICITY, "tetouan_zone1", fault[2], wait=True) == []
    [raised] = service.evaluate(MeterType.ELECTRICITY, "tetouan_zone1", fault[3], wait=True)
    assert raised["event"] == "alert.raised"
    alert = raised["alert"]
    assert alert["since"] == fault[0].isoformat() and alert["state"] == "active"
    assert alert["direction"] == "above" and alert["unit"] == "kW"
    assert alert["worst_excess"] > 0 and alert["worst_excess_bands"] > 0
    assert alert["detail"]["band"] == "p1-p99"
    assert active_counts(client) == {("electricity", "band"): 1}
    # evaluating again (another host, the next tick) raises nothing new
    assert service.evaluate(MeterType.ELECTRICITY, "tetouan_zone1", fault[6], wait=True) == []
    [listed] = service.list(state="active")
    assert listed["hours_outside"] >= 6 and listed["id"] == alert["id"]

    [cleared] = service.evaluate(
        MeterType.ELECTRICITY, "tetouan_zone1", fault[-1] + pd.Timedelta(hours=5), wait=True
    )
    assert cleared["event"] == "alert.cleared" and cleared["alert"]["id"] == alert["id"]
    assert cleared["alert"]["cleared_at"] is not None
    assert active_counts(client) == {}
    assert [a["state"] for a in service.list(meter_id="tetouan_zone1")] == ["cleared"]
    assert service.list(meter_id="other") == [] and service.list(rule="night_trend") == []

    delivered = receiver.delivered()
    assert [d["event"] for d in delivered] == ["alert.raised", "alert.cleared"]
    assert [status for _, _, status in receiver.posts] == [500, 204, 204]  # the 500 was retried
    store.close()


def test_night_flow_rise_on_a_water_district(tmp_path: Path, client: redis.Redis) -> None:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    store.upsert_meters([Meter("bwdf_dma01", MeterType.WATER, unit="m3", timezone="Europe/Rome")])
    series = load("bwdf_dma01")
    leak = (series.index >= pd.Timestamp("2022-03-08", tz="UTC")) & (
        series.index < pd.Timestamp("2022-03-13 12:00", tz="UTC")
    )
    series[leak] += 4.0  # a burst main leaking 4 m3/h until it is repaired
    series = series.dropna()  # the district's real gaps stay gaps
    store.write_readings(MeterType.WATER, "bwdf_dma01", make_series(series.index, series, "consumption"))
    service = AlertService(store, client, AlertSettings())

    assert service.evaluate(MeterType.WATER, "bwdf_dma01", pd.Timestamp("2022-03-08 12:00", tz="UTC")) == []
    events = service.evaluate(MeterType.WATER, "bwdf_dma01", pd.Timestamp("2022-03-12 12:00", tz="UTC"))
    [raised] = [e for e in events if e["alert"]["rule"] == "night_trend"]
    assert raised["event"] == "alert.raised"
    assert raised["alert"]["detail"]["baseline"] > 0
    assert raised["alert"]["worst_value"] > raised["alert"]["detail"]["raise_level"]
    assert active_counts(client) == {("water", "night_trend"): 1}
    events = service.evaluate(MeterType.WATER, "bwdf_dma01", pd.Timestamp("2022-03-17 12:00", tz="UTC"))
    assert [(e["event"], e["alert"]["rule"]) for e in events] == [("alert.cleared", "night_trend")]
    assert active_counts(client) == {}
    store.close()


def test_webhook_gives_up_after_bounded_retries_and_never_raises() -> None:
    server = Receiver(fail_first=100)
    try:
        slept: list[float] = []
        notifier = WebhookNotifier(server.url, SECRET, retries=3, backoff_s=0.5, sleep=slept.append)
        assert notifier.deliver({"event": "alert.raised", "alert": {"id": "x"}}) is False
        assert len(server.posts) == 4 and slept == [0.5, 1.0, 2.0]
        refused = WebhookNotifier(
            "http://127.0.0.1:9/unreachable", retries=1, backoff_s=0, sleep=slept.append
        )
        assert refused.deliver({"event": "alert.cleared"}) is False
    finally:
        server.close()


def test_an_alert_waits_for_data_and_cleared_ones_expire(tmp_path: Path, client: redis.Redis) -> None:
    """Readings that stop arriving do not clear an alert; a cleared alert leaves the list later."""
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    index = pd.date_range("2026-03-01", periods=24 * 4, freq="h", tz="UTC")
    expected = pd.Series(50.0, index)
    forecast = pd.DataFrame({"value": expected, "p1": expected - 5, "p99": expected + 5})
    store.write_forecast(MeterType.ELECTRICITY, "m1", "v1", forecast)
    actual = expected.copy()
    actual[index[30:36]] = 80.0
    store.write_readings(MeterType.ELECTRICITY, "m1", make_series(index[:36], actual[:36], "consumption"))
    service = AlertService(store, client, AlertSettings(keep_cleared="P1D"))

    [raised] = service.evaluate(MeterType.ELECTRICITY, "m1", index[36])
    assert (
        raised["alert"]["since"] == index[30].isoformat() and "derived_from" not in raised["alert"]["detail"]
    )
    # a day later no reading has come since: nothing to judge, the alert stays active
    assert service.evaluate(MeterType.ELECTRICITY, "m1", index[60]) == []
    assert [a["state"] for a in service.list()] == ["active"]
    store.write_readings(MeterType.ELECTRICITY, "m1", make_series(index[36:], actual[36:], "consumption"))
    [cleared] = service.evaluate(MeterType.ELECTRICITY, "m1", index[60])
    assert cleared["alert"]["cleared_at"] == index[38].isoformat()  # the third hour back inside
    assert service.evaluate(MeterType.ELECTRICITY, "m1", index[61]) == []  # announced once
    assert len(service.list(state="cleared")) == 1
    # past EF_ALERTS__KEEP_CLEARED but still inside the 3-day replay: kept, or it would be raised again
    assert service.evaluate(MeterType.ELECTRICITY, "m1", index[38] + pd.Timedelta(days=1, hours=2)) == []
    assert len(service.list()) == 1
    assert service.evaluate(MeterType.ELECTRICITY, "m1", index[38] + pd.Timedelta(days=3, hours=1)) == []
    assert service.list() == []
    store.close()


def test_latest_forecast_takes_the_newest_model_of_each_hour() -> None:
    index = pd.DatetimeIndex(
        ["2026-01-01 00:00", "2026-01-01 00:00", "2026-01-01 00:00", "2026-01-01 01:00"], tz="UTC"
    )
    forecast = pd.DataFrame(
        {"model_version": ["substituted", "v10", "v9", "substituted"], "value": [1.0, 10.0, 9.0, 2.0]},
        index=index,
    )
    latest = latest_forecast(forecast)
    assert list(latest["value"]) == [10.0, 2.0] and latest.index.is_unique


def test_a_fault_longer_than_the_replay_window_stays_one_alert(tmp_path: Path, client: redis.Redis) -> None:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    index = pd.date_range("2026-03-01", periods=24 * 8, freq="h", tz="UTC")
    expected = pd.Series(50.0, index)
    store.write_forecast(
        MeterType.ELECTRICITY,
        "m1",
        "v1",
        pd.DataFrame({"value": expected, "p1": expected - 5, "p99": expected + 5}),
    )
    actual = expected.copy()
    actual[index[24:]] = 60.0
    actual[index[25]] = 95.0  # the worst hour, early on
    store.write_readings(MeterType.ELECTRICITY, "m1", make_series(index, actual, "consumption"))
    service = AlertService(store, client, AlertSettings(lookback="P1D"))

    raised = [
        e for h in range(27, 24 * 5, 6) for e in service.evaluate(MeterType.ELECTRICITY, "m1", index[h])
    ]
    assert [e["event"] for e in raised] == ["alert.raised"]  # four days outside, a one-day window: one alert
    [alert] = service.list()
    assert alert["since"] == index[24].isoformat() and alert["state"] == "active"
    assert alert["worst_value"] == 95.0 and alert["worst_excess"] == pytest.approx(40.0)
    assert alert["last_outside"] == index[24 * 5 - 4].isoformat()
    store.close()
