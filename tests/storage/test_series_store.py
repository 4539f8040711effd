"""One contract suite, run against every SeriesStore (DuckDB and a real InfluxDB)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType, ReadingKind
from energy_forecast.domain.series import make_series, validate_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import InvalidIdentifierError
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY


def test_written_readings_read_back_exactly_in_utc(series_store: SeriesStore) -> None:
    readings = hourly_series(hours=96)

    written = series_store.write_readings(ELEC, "m1", readings)
    back = series_store.read_readings(ELEC, "m1")

    assert written == 96
    validate_series(back)
    assert str(back.index.tz) == "UTC"
    assert back.index[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    pd.testing.assert_index_equal(back.index, readings.index, check_names=False, check_freq=False)
    np.testing.assert_allclose(back.to_numpy(), readings.to_numpy(), rtol=1e-12)


def test_rewriting_the_same_readings_changes_nothing(series_store: SeriesStore) -> None:
    readings = hourly_series(hours=48)
    series_store.write_readings(ELEC, "m1", readings)

    series_store.write_readings(ELEC, "m1", readings)

    assert series_store.readings_stats()["m1"].count == 48


def test_a_rewrite_with_new_values_replaces_them(series_store: SeriesStore) -> None:
    readings = hourly_series(hours=24)
    series_store.write_readings(ELEC, "m1", readings)

    series_store.write_readings(ELEC, "m1", readings.iloc[:2] * 0 + 7.5)

    back = series_store.read_readings(ELEC, "m1")
    assert len(back) == 24
    assert back.iloc[0] == 7.5 and back.iloc[1] == 7.5
    assert back.iloc[2] == pytest.approx(readings.iloc[2])


def test_gaps_stay_gaps_and_are_counted(series_store: SeriesStore) -> None:
    readings = hourly_series(hours=48).drop(pd.date_range("2024-01-01T05:00Z", periods=3, freq="h"))

    series_store.write_readings(ELEC, "m1", readings)

    back = series_store.read_readings(ELEC, "m1")
    stats = series_store.readings_stats()["m1"]
    assert len(back) == 45
    assert stats.count == 45 and stats.gap_hours == 3
    assert stats.first == pd.Timestamp("2024-01-01T00:00Z")
    assert stats.last == pd.Timestamp("2024-01-02T23:00Z")


def test_reads_are_bounded_start_inclusive_end_exclusive(series_store: SeriesStore) -> None:
    series_store.write_readings(ELEC, "m1", hourly_series(hours=48))

    back = series_store.read_readings(
        ELEC, "m1", pd.Timestamp("2024-01-01T10:00Z"), pd.Timestamp("2024-01-01T20:00Z")
    )

    assert len(back) == 10
    assert back.index[0] == pd.Timestamp("2024-01-01T10:00Z")
    assert back.index[-1] == pd.Timestamp("2024-01-01T19:00Z")


def test_meters_and_types_are_kept_apart(series_store: SeriesStore) -> None:
    series_store.write_readings(ELEC, "m1", hourly_series(hours=10))
    series_store.write_readings(MeterType.WATER, "w1", hourly_series(hours=20, seed=1))

    assert set(series_store.readings_stats()) == {"m1", "w1"}
    assert set(series_store.readings_stats(MeterType.WATER)) == {"w1"}
    assert series_store.read_readings(MeterType.WATER, "m1").empty
    assert len(series_store.read_readings(MeterType.WATER, "w1")) == 20


def test_stats_can_be_limited_to_some_meters(series_store: SeriesStore) -> None:
    for i in range(3):
        series_store.write_readings(ELEC, f"m{i}", hourly_series(hours=10 + i, seed=i))
    series_store.write_readings(MeterType.WATER, "w1", hourly_series(hours=5))

    some = series_store.readings_stats(ELEC, ["m2", "m0", "absent"])

    assert list(some) == ["m0", "m2"] and (some["m0"].count, some["m2"].count) == (10, 12)
    assert some["m2"] == series_store.readings_stats(ELEC)["m2"]
    assert set(series_store.readings_stats(None, ["w1", "m1"])) == {"m1", "w1"}
    assert series_store.readings_stats(ELEC, []) == {}


def test_unknown_meter_reads_empty_contract_series(series_store: SeriesStore) -> None:
    back = series_store.read_readings(ELEC, "nobody")

    assert back.empty
    assert str(back.index.tz) == "UTC"


def test_delete_removes_only_the_window(series_store: SeriesStore) -> None:
    series_store.write_readings(ELEC, "m1", hourly_series(hours=48))

    series_store.delete_readings(
        ELEC, "m1", pd.Timestamp("2024-01-01T00:00Z"), pd.Timestamp("2024-01-02T00:00Z")
    )

    assert series_store.readings_stats()["m1"].count == 24


def test_temperature_round_trips_per_site(series_store: SeriesStore) -> None:
    index = pd.date_range("2023-06-01", periods=72, freq="h", tz="UTC")
    temps = make_series(index, np.linspace(-5.5, 30.25, 72), "temperature")

    assert series_store.write_temperature("site_a", temps) == 72
    series_store.write_temperature("site_a", temps)

    back = series_store.read_temperature("site_a", start=index[24])
    assert len(back) == 48
    np.testing.assert_allclose(back.to_numpy(), temps.to_numpy()[24:])
    assert series_store.temperature_stats()["site_a"].count == 72
    assert series_store.read_temperature("site_b").empty


def test_registry_keeps_reading_kind_and_native_interval_and_can_drop_it(series_store: SeriesStore) -> None:
    register = Meter("w1", MeterType.WATER, unit="m3", reading_kind=ReadingKind.REGISTER, interval_minutes=15)
    series_store.upsert_meters([register])
    assert series_store.get_meter("w1") == register

    series_store.upsert_meters([Meter("w1", MeterType.WATER, unit="L/s")])

    assert series_store.get_meter("w1") == Meter("w1", MeterType.WATER, unit="L/s")
    assert series_store.list_meters()[0].interval_minutes is None


def test_a_registry_made_before_reading_kinds_opens_with_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE meters (meter_id VARCHAR PRIMARY KEY, meter_type VARCHAR NOT NULL, "
            "site_id VARCHAR NOT NULL, unit VARCHAR NOT NULL, timezone VARCHAR NOT NULL, "
            "latitude DOUBLE, longitude DOUBLE)"
        )
        con.execute("INSERT INTO meters VALUES ('m1', 'electricity', 's1', 'kWh', 'UTC', NULL, NULL)")

    store = DuckDBSeriesStore(path)

    assert store.get_meter("m1") == Meter("m1", ELEC, "s1", "kWh")
    store.upsert_meters([Meter("m2", ELEC, interval_minutes=30)])
    assert store.get_meter("m2") == Meter("m2", ELEC, interval_minutes=30)
    store.close()


def test_registry_upserts_and_lists_sorted(series_store: SeriesStore) -> None:
    series_store.upsert_meters(
        [
            Meter("zeta", MeterType.WATER, "site_a", "m3", "Europe/Rome", 45.1, 11.9),
            Meter("alpha", MeterType.ELECTRICITY, "site_b", "kWh"),
        ]
    )
    series_store.upsert_meters([Meter("alpha", MeterType.ELECTRICITY, "site_c", "kW", "Europe/London")])

    meters = series_store.list_meters()
    assert [m.meter_id for m in meters] == ["alpha", "zeta"]
    assert series_store.get_meter("alpha") == Meter(
        "alpha", MeterType.ELECTRICITY, "site_c", "kW", "Europe/London"
    )
    assert series_store.get_meter("zeta") == Meter(
        "zeta", MeterType.WATER, "site_a", "m3", "Europe/Rome", 45.1, 11.9
    )
    assert series_store.get_meter("missing") is None


@pytest.mark.parametrize(
    "bad_id",
    [
        pytest.param("../../etc", id="path-traversal"),
        pytest.param("m1' OR '1'='1", id="quote-injection"),
        pytest.param('m1" ; DROP', id="double-quote"),
        pytest.param("a/b", id="slash"),
        pytest.param("", id="empty"),
        pytest.param("x" * 65, id="too-long"),
    ],
)
def test_unsafe_ids_are_refused_before_any_query(series_store: SeriesStore, bad_id: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        series_store.read_readings(ELEC, bad_id)
    with pytest.raises(InvalidIdentifierError):
        series_store.write_readings(ELEC, bad_id, hourly_series(hours=2))
    with pytest.raises(InvalidIdentifierError):
        series_store.read_temperature(bad_id)


def test_large_writes_keep_every_point(series_store: SeriesStore) -> None:
    readings = hourly_series(hours=24 * 365 * 2, seed=3)

    series_store.write_readings(ELEC, "big", readings)

    stats = series_store.readings_stats()["big"]
    assert stats.count == len(readings)
    assert stats.gap_hours == 0
    back = series_store.read_readings(ELEC, "big")
    np.testing.assert_allclose(back.to_numpy(), readings.to_numpy(), rtol=1e-12)


def test_a_failed_batch_writes_nothing(series_store: SeriesStore) -> None:
    series_store.write_readings(ELEC, "m1", hourly_series(hours=24))

    with pytest.raises(RuntimeError), series_store.batch():
        series_store.write_readings(ELEC, "m2", hourly_series(hours=24))
        raise RuntimeError("disk full half-way")

    assert set(series_store.readings_stats()) in ({"m1"}, {"m1", "m2"})
    if isinstance(series_store, DuckDBSeriesStore):  # transactional backend: all or nothing
        assert set(series_store.readings_stats()) == {"m1"}


def test_sites_upsert_replace_every_field_and_list_sorted(series_store: SeriesStore) -> None:
    turin = Site("polito_it", 45.0625, 7.6625, "Turin", "Europe/Rome", "IT")
    series_store.upsert_site(Site("tetouan_ma", 35.5785, -5.3684, "Tetouan", "Africa/Casablanca", "MA"))
    series_store.upsert_site(turin)

    series_store.upsert_site(Site("tetouan_ma", 35.57, -5.36))

    assert [s.site_id for s in series_store.list_sites()] == ["polito_it", "tetouan_ma"]
    assert series_store.get_site("polito_it") == turin
    assert series_store.get_site("tetouan_ma") == Site("tetouan_ma", 35.57, -5.36, None, "UTC", None)
    assert series_store.get_site("nowhere") is None


def test_site_lookups_refuse_unsafe_ids(series_store: SeriesStore) -> None:
    with pytest.raises(InvalidIdentifierError):
        series_store.get_site("x' OR '1'='1")


def _forecast(start: str, hours: int, base: float, *, bounds: bool = True) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    values = base + np.arange(hours, dtype="float64") * 0.5
    frame = pd.DataFrame({"value": values}, index=index)
    if bounds:
        frame["lower"] = values - 1.25
        frame["upper"] = values + 1.25
    return frame


def test_forecasts_round_trip_per_model_version_and_rewrites_replace(series_store: SeriesStore) -> None:
    v1 = _forecast("2024-03-01", 48, 10.0)
    v2 = _forecast("2024-03-01T12:00", 24, 20.0, bounds=False)

    assert series_store.write_forecast(MeterType.ELECTRICITY, "m1", "v1", v1) == 48
    series_store.write_forecast(MeterType.ELECTRICITY, "m1", "v1", v1.iloc[:6] + 100)  # replaces 6 hours
    series_store.write_forecast(MeterType.ELECTRICITY, "m1", "v2", v2)
    series_store.write_forecast(MeterType.WATER, "m1", "v1", v1)  # another type: kept apart
    got = series_store.read_forecast(MeterType.ELECTRICITY, "m1")

    assert list(got.columns) == ["model_version", "value", "lower", "upper"]
    assert str(got.index.tz) == "UTC"
    first = got[got["model_version"] == "v1"]
    assert len(first) == 48
    np.testing.assert_allclose(first["value"].to_numpy()[:6], v1["value"].to_numpy()[:6] + 100)
    np.testing.assert_allclose(first["upper"].to_numpy()[6:], v1["upper"].to_numpy()[6:])
    second = got[got["model_version"] == "v2"]
    assert second.index.equals(v2.index)
    assert second["lower"].isna().all()
    assert got.index.is_monotonic_increasing


def test_forecast_reads_are_bounded_and_unknown_meters_read_empty(series_store: SeriesStore) -> None:
    series_store.write_forecast(MeterType.WATER, "w1", "substituted", _forecast("2024-03-01", 24, 5.0))

    window = series_store.read_forecast(
        MeterType.WATER, "w1", pd.Timestamp("2024-03-01T03:00Z"), pd.Timestamp("2024-03-01T05:00Z")
    )
    nothing = series_store.read_forecast(MeterType.WATER, "nobody")

    assert list(window.index.hour) == [3, 4]
    assert nothing.empty and list(nothing.columns) == ["model_version", "value", "lower", "upper"]


def test_forecasts_with_gaps_or_unsafe_versions_are_refused(series_store: SeriesStore) -> None:
    gappy = _forecast("2024-03-01", 3, 1.0)
    gappy.iloc[1, 0] = np.nan

    with pytest.raises(ValueError, match="finite"):
        series_store.write_forecast(MeterType.WATER, "w1", "v1", gappy)
    with pytest.raises(InvalidIdentifierError):
        series_store.write_forecast(MeterType.WATER, "w1", "v1 OR 1=1", _forecast("2024-03-01", 3, 1.0))


def test_a_data_version_if_given_changes_when_the_readings_do(series_store: SeriesStore) -> None:
    before = series_store.data_version(ELEC, "m1", "s1")

    series_store.write_readings(ELEC, "m1", hourly_series(hours=24))

    after = series_store.data_version(ELEC, "m1", "s1")
    if isinstance(series_store, DuckDBSeriesStore):
        assert before is not None and after is not None and after != before
    else:  # other processes write to a server store: it must not claim to know
        assert before is None and after is None


def test_a_site_without_coordinates_round_trips_and_gets_them_later(series_store: SeriesStore) -> None:
    series_store.upsert_site(Site("tetouan_ma"))

    registered = series_store.get_site("tetouan_ma")
    series_store.upsert_site(Site("tetouan_ma", 35.57, -5.36, "Tetouan"))

    assert registered == Site("tetouan_ma") and registered is not None and not registered.has_coordinates
    assert series_store.get_site("tetouan_ma") == Site("tetouan_ma", 35.57, -5.36, "Tetouan")


def test_forecast_quantiles_round_trip_as_fields_named_by_key(series_store: SeriesStore) -> None:
    with_quantiles = _forecast("2024-04-01", 24, 10.0)
    with_quantiles["p2.5"] = with_quantiles["value"] - 3.0
    with_quantiles["p10"] = with_quantiles["lower"]
    with_quantiles["p50"] = with_quantiles["value"]
    with_quantiles["p90"] = with_quantiles["upper"]
    series_store.write_forecast(MeterType.ELECTRICITY, "q1", "v1", with_quantiles)
    series_store.write_forecast(MeterType.ELECTRICITY, "q1", "v0", _forecast("2024-04-01", 24, 9.0))

    got = series_store.read_forecast(MeterType.ELECTRICITY, "q1")

    assert list(got.columns) == ["model_version", "value", "lower", "upper", "p2.5", "p10", "p50", "p90"]
    written = got[got["model_version"] == "v1"]
    for key in ("p2.5", "p10", "p50", "p90"):
        np.testing.assert_allclose(written[key].to_numpy(), with_quantiles[key].to_numpy())
    assert got.loc[got["model_version"] == "v0", ["p2.5", "p10", "p50", "p90"]].isna().all().all()


def test_a_duckdb_file_from_before_quantiles_gets_the_column(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE forecast (meter_type VARCHAR NOT NULL, meter_id VARCHAR NOT NULL, "
            "model_version VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, lower DOUBLE, upper DOUBLE, "
            "value DOUBLE NOT NULL)"
        )
        con.execute("INSERT INTO forecast VALUES ('electricity', 'old', 'v1', '2024-01-01 00:00', 1, 3, 2)")
    store = DuckDBSeriesStore(path)
    try:
        old = store.read_forecast(MeterType.ELECTRICITY, "old")
        assert list(old.columns) == ["model_version", "value", "lower", "upper"]
        frame = _forecast("2024-01-01T01:00", 2, 5.0)
        frame["p50"] = frame["value"]
        store.write_forecast(MeterType.ELECTRICITY, "old", "v1", frame)
        got = store.read_forecast(MeterType.ELECTRICITY, "old")
        assert got["p50"].isna().tolist() == [True, False, False]
    finally:
        store.close()
