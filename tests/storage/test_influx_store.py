"""InfluxDB-specific behaviour; the shared contract lives in ``test_series_store.py``.

Unit tests talk to an ``httpx.MockTransport`` (no server); integration tests use the InfluxDB from
``scripts/servers.sh`` (``EF_TEST_INFLUX_URL``), each in its own database, dropped afterwards.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series, validate_series
from energy_forecast.errors import InvalidIdentifierError, StorageError
from energy_forecast.storage.influx_store import InfluxSeriesStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
TOKEN = "tok-3f9a1c-secret"
PASSWORD = "pw-77d2e0-secret"


# --- unit: a fake InfluxDB behind httpx.MockTransport ------------------------------------------------


class FakeInflux:
    """Records requests; answers writes with 204 and queries with an empty result."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self._respond is not None:
            return self._respond(request)
        if request.url.path == "/write":
            return httpx.Response(204)
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    def store(self, **kwargs: object) -> InfluxSeriesStore:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return InfluxSeriesStore("http://influx.test:8086", "energy", client=client, **kwargs)  # type: ignore[arg-type]

    def writes(self) -> list[str]:
        return [r.content.decode() for r in self.requests if r.url.path == "/write"]

    def statements(self) -> list[str]:
        return [
            parse_qs(r.content.decode()).get("q", [""])[0] for r in self.requests if r.url.path == "/query"
        ]


def test_a_token_is_sent_as_a_token_header_on_every_request() -> None:
    fake = FakeInflux()
    store = fake.store(token=TOKEN)

    store.write_readings(ELEC, "m1", hourly_series(hours=3))
    store.read_readings(ELEC, "m1")

    assert fake.requests
    assert {r.headers.get("authorization") for r in fake.requests} == {f"Token {TOKEN}"}
    assert all(TOKEN not in str(r.url) for r in fake.requests)


def test_a_username_is_sent_as_basic_auth_never_in_the_url() -> None:
    fake = FakeInflux()
    store = fake.store(username="ef", password=PASSWORD)

    store.ping()

    (request,) = fake.requests
    assert request.headers["authorization"].startswith("Basic ")
    assert PASSWORD not in str(request.url)


def test_lines_carry_escaped_tags_and_fields_in_whole_seconds() -> None:
    fake = FakeInflux()
    store = fake.store()
    meter = Meter("m-1.a", ELEC, site_id="site_1", unit='k"W h,=\\', latitude=45.0)

    store.upsert_meters([meter])
    store.write_readings(ELEC, "m-1.a", make_series(pd.DatetimeIndex(["2024-01-01T00:00Z"]), [1.5], "c"))

    registry, readings = fake.writes()
    assert registry == (
        'meter_registry,meter_id=m-1.a meter_type="electricity",site_id="site_1",'
        'unit="k\\"W h,=\\\\",timezone="UTC",reading_kind="interval",latitude=45.0 0'
    )
    assert readings == "electricity_consumption,meter_id=m-1.a consumption=1.5 1704067200"
    assert all("precision=s" in str(r.url) for r in fake.requests if r.url.path == "/write")


@pytest.mark.parametrize(
    "bad_id",
    [
        pytest.param("x' OR 1=1 --", id="quote"),
        pytest.param('m1"; DROP DATABASE energy', id="double-quote"),
        pytest.param("m1\nDROP DATABASE energy", id="newline"),
        pytest.param("m1,meter_id=m2", id="line-protocol-tag"),
        pytest.param("../m1", id="path"),
    ],
)
def test_unsafe_ids_are_refused_before_any_request(bad_id: str) -> None:
    fake = FakeInflux()
    store = fake.store()
    start, end = pd.Timestamp("2024-01-01T00:00Z"), pd.Timestamp("2024-01-02T00:00Z")

    calls: list[Callable[[], object]] = [
        lambda: store.get_meter(bad_id),
        lambda: store.read_readings(ELEC, bad_id),
        lambda: store.write_readings(ELEC, bad_id, hourly_series(hours=2)),
        lambda: store.delete_readings(ELEC, bad_id, start, end),
        lambda: store.read_temperature(bad_id),
        lambda: store.write_temperature(bad_id, hourly_series(hours=2)),
        lambda: store.delete_temperature(bad_id, start, end),
    ]
    for call in calls:
        with pytest.raises(InvalidIdentifierError):
            call()

    assert fake.requests == []


def test_a_refused_create_database_is_tolerated_as_on_influxdb_2() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if b"CREATE+DATABASE" in request.content:
            return httpx.Response(403, json={"error": "CREATE DATABASE is not supported"})
        return httpx.Response(204)

    fake = FakeInflux(respond)

    written = fake.store(token=TOKEN).write_readings(ELEC, "m1", hourly_series(hours=2))

    assert written == 2
    assert len(fake.writes()) == 1


def test_a_rejected_token_is_a_storage_error_that_hides_the_token() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": f"authorization failed for token {TOKEN}"})

    store = FakeInflux(respond).store(token=TOKEN)

    with pytest.raises(StorageError) as caught:
        store.write_readings(ELEC, "m1", hourly_series(hours=2))

    assert "HTTP 401" in caught.value.message
    assert TOKEN not in str(caught.value)


def test_large_writes_are_split_into_batches_of_batch_size_lines() -> None:
    fake = FakeInflux()
    store = fake.store(batch_size=10)

    written = store.write_readings(ELEC, "m1", hourly_series(hours=25))

    assert written == 25
    assert [len(body.splitlines()) for body in fake.writes()] == [10, 10, 5]


def test_empty_values_are_refused_not_written() -> None:
    fake = FakeInflux()
    readings = hourly_series(hours=3)
    readings.iloc[1] = np.nan

    with pytest.raises(ValueError, match="empty values"):
        fake.store().write_readings(ELEC, "m1", readings)

    assert fake.writes() == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_a_storage_error_without_secrets() -> None:
    port = _closed_port()
    store = InfluxSeriesStore(
        f"http://ef:{PASSWORD}@127.0.0.1:{port}", "energy", token=TOKEN, password=PASSWORD, timeout_s=2
    )

    with pytest.raises(StorageError) as caught:
        store.ping()
    with pytest.raises(StorageError):
        store.read_readings(ELEC, "m1")
    store.close()

    message = str(caught.value)
    assert message.startswith(f"InfluxDB at http://127.0.0.1:{port} unreachable")
    assert TOKEN not in message and PASSWORD not in message


# --- integration: a real InfluxDB ----------------------------------------------------------------


@pytest.fixture
def influx_store(influx_url: str, influx_database: str) -> Iterator[InfluxSeriesStore]:
    store = InfluxSeriesStore(influx_url, influx_database, batch_size=1_000)
    yield store
    store.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "start",
    [
        pytest.param("2024-03-31T00:00Z", id="dst-change-week"),
        pytest.param("1999-12-31T20:00Z", id="millennium"),
        pytest.param("2038-01-19T00:00Z", id="past-int32-seconds"),
    ],
)
def test_timestamps_and_values_round_trip_exactly(influx_store: InfluxSeriesStore, start: str) -> None:
    readings = hourly_series(start=start, hours=72, seed=7)

    influx_store.write_readings(ELEC, "m1", readings)
    back = influx_store.read_readings(ELEC, "m1")

    validate_series(back)
    assert back.index.dtype == "datetime64[ns, UTC]"
    assert back.index.name == "timestamp"
    assert back.index[0] == pd.Timestamp(start)  # not 1970: seconds stayed seconds
    pd.testing.assert_index_equal(back.index, readings.index.as_unit("ns"), check_freq=False)
    np.testing.assert_array_equal(back.to_numpy(), readings.to_numpy())


@pytest.mark.integration
def test_rewriting_the_same_points_changes_no_count(influx_store: InfluxSeriesStore) -> None:
    readings = hourly_series(hours=2_500)  # several batches of 1000 lines
    influx_store.write_readings(ELEC, "m1", readings)
    influx_store.write_temperature("site", readings.rename("temperature"))

    with influx_store.batch():
        influx_store.write_readings(ELEC, "m1", readings)
        influx_store.write_temperature("site", readings.rename("temperature"))

    assert influx_store.readings_stats()["m1"].count == 2_500
    assert influx_store.temperature_stats()["site"].count == 2_500
    assert len(influx_store.read_readings(ELEC, "m1")) == 2_500


@pytest.mark.integration
def test_stats_come_from_aggregates_per_meter_and_type(influx_store: InfluxSeriesStore) -> None:
    influx_store.write_readings(ELEC, "m1", hourly_series(start="2024-01-01", hours=10))
    influx_store.write_readings(MeterType.WATER, "w1", hourly_series(start="2024-02-01", hours=5))

    every = influx_store.readings_stats()
    water = influx_store.readings_stats(MeterType.WATER)

    assert set(every) == {"m1", "w1"} and set(water) == {"w1"}
    assert (every["m1"].count, every["m1"].first, every["m1"].last) == (
        10,
        pd.Timestamp("2024-01-01T00:00Z"),
        pd.Timestamp("2024-01-01T09:00Z"),
    )
    assert water["w1"].first == pd.Timestamp("2024-02-01T00:00Z")


@pytest.mark.integration
def test_an_upsert_without_coordinates_clears_the_stored_ones(influx_store: InfluxSeriesStore) -> None:
    influx_store.upsert_meters([Meter("m1", ELEC, unit="kWh", latitude=45.5, longitude=9.25)])

    influx_store.upsert_meters([Meter("m1", ELEC, unit="MWh")])

    assert influx_store.get_meter("m1") == Meter("m1", ELEC, unit="MWh")
    assert influx_store.list_meters() == [Meter("m1", ELEC, unit="MWh")]


@pytest.mark.integration
def test_delete_removes_only_the_bounded_range_of_one_meter(influx_store: InfluxSeriesStore) -> None:
    influx_store.write_readings(ELEC, "m1", hourly_series(hours=24))
    influx_store.write_readings(ELEC, "m2", hourly_series(hours=24))

    influx_store.delete_readings(
        ELEC, "m1", pd.Timestamp("2024-01-01T05:00Z"), pd.Timestamp("2024-01-01T10:00Z")
    )

    stats = influx_store.readings_stats()
    assert (stats["m1"].count, stats["m2"].count) == (19, 24)
    assert stats["m1"].gap_hours == 5


class _Recording(httpx.HTTPTransport):
    """The real transport, noting each query's statements (what this host asked the server)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/query":
            request.read()
            self.queries.append(parse_qs(request.content.decode()).get("q", [""])[0])
        return super().handle_request(request)


@pytest.mark.integration
def test_a_kept_site_temperature_follows_every_write_of_another_host(
    influx_url: str, influx_database: str
) -> None:
    writer = InfluxSeriesStore(influx_url, influx_database)  # an import on the API host
    transport = _Recording()
    reader = InfluxSeriesStore(influx_url, influx_database, client=httpx.Client(transport=transport))
    temperature = hourly_series(hours=24 * 120, seed=3).rename("temperature")
    writer.write_temperature("site", temperature)
    start, end = temperature.index[24 * 10], temperature.index[-1] + pd.Timedelta(hours=1)

    first = reader.read_temperature("site", start, end)
    asked = len(transport.queries)
    again = reader.read_temperature("site", start, end)

    pd.testing.assert_series_equal(again, first)
    np.testing.assert_array_equal(first.to_numpy(), temperature.iloc[24 * 10 :].to_numpy())
    assert len(transport.queries) == asked + 1 and "count(temperature)" in transport.queries[-1]

    later = pd.Timestamp(temperature.index[-1]) + pd.Timedelta(hours=1)
    writer.write_temperature("site", make_series([later], [99.5], "temperature"))  # appended
    assert reader.read_temperature("site", start, later + pd.Timedelta(hours=1)).iloc[-1] == 99.5
    writer.write_temperature("site", make_series([start], [-40.25], "temperature"))  # corrected
    assert reader.read_temperature("site", start, end).iloc[0] == -40.25
    writer.delete_temperature("site", start, start + pd.Timedelta(hours=5))  # deleted
    assert reader.read_temperature("site", start, end).index[0] == start + pd.Timedelta(hours=5)

    narrow = reader.read_temperature("site", end - pd.Timedelta(days=7), end)  # a forecast's window
    assert len(narrow) == 24 * 7 and "time >=" in transport.queries[-1]
    writer.close()
    reader.close()
