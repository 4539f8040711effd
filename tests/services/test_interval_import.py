"""Interval, register and local-time readings imported into the hourly values worked out by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType, ReadingKind
from energy_forecast.errors import InputDataError
from energy_forecast.services.ingestion import import_directory, ingest_meter_readings
from energy_forecast.storage.base import SeriesStore
from tests.services import interval_files as files


def stored(store: SeriesStore, meter_id: str) -> dict[str, float]:
    series = store.read_readings(MeterType(files.TYPES[meter_id]), meter_id)
    return {t.isoformat(): float(v) for t, v in series.items()}


def codes(warnings: list, subject: str) -> set[str]:
    return {w.code for w in warnings if w.subject == subject}


def test_a_directory_of_interval_register_and_local_time_files_lands_on_hand_computed_hours(
    tmp_path: Path, series_store: SeriesStore
) -> None:
    files.write_data_dir(tmp_path / "d")

    report = import_directory(series_store, tmp_path / "d")

    for meter_id, expected in files.EXPECTED.items():
        assert stored(series_store, meter_id) == pytest.approx(expected), meter_id
    meters = {m.meter_id: m for m in series_store.list_meters()}
    assert {m: meters[m].interval_minutes for m in files.EXPECTED} == {
        "rome_ami": 30,
        "nyc_ami": 30,
        "feeder_10": 10,
        "pump_flow": 15,
        "house_reg": 15,
    }
    assert meters["house_reg"].reading_kind is ReadingKind.REGISTER
    assert meters["pump_flow"].unit == "L/s"
    warnings = report.warnings
    assert codes(warnings, "feeder_10") == {"aggregated", "incomplete_hours"}
    assert codes(warnings, "pump_flow") == {"aggregated", "incomplete_hours"}
    assert codes(warnings, "house_reg") == {"aggregated", "scaled_hours", "register_drop"}
    drop = next(w for w in warnings if w.code == "register_drop")
    assert "2024-01-01T01:30:00+00:00 (9998 -> 2)" in drop.message
    assert codes(warnings, "rome") == {"no_temperature"}  # a site without temperatures is named
    assert not any(w.code == "naive_utc" for w in warnings)  # every naive stamp had a zone


def test_reimporting_the_same_files_changes_nothing(tmp_path: Path, series_store: SeriesStore) -> None:
    files.write_data_dir(tmp_path / "d")
    import_directory(series_store, tmp_path / "d")

    import_directory(series_store, tmp_path / "d")

    assert stored(series_store, "rome_ami") == files.ROME_HOURLY
    assert series_store.readings_stats()["house_reg"].count == 2


def test_one_bad_meter_writes_nothing_of_the_whole_import(tmp_path: Path, series_store: SeriesStore) -> None:
    files.write_data_dir(tmp_path / "d")
    with (tmp_path / "d" / "water.csv").open("a", encoding="utf-8") as handle:
        handle.write("2024-01-01T00:07:00Z,pump_flow,1.0\n")  # off the 15-minute grid

    with pytest.raises(InputDataError, match=r"water.csv, row \d+: timestamp 2024-01-01T00:07:00\+00:00 "):
        import_directory(series_store, tmp_path / "d")

    assert series_store.readings_stats() == {}
    assert series_store.list_meters() == []


def test_a_stamp_in_the_skipped_spring_hour_is_refused_by_row(
    tmp_path: Path, series_store: SeriesStore
) -> None:
    files.write_data_dir(tmp_path / "d")
    with (tmp_path / "d" / "electricity.csv").open("a", encoding="utf-8") as handle:
        handle.write("2024-03-31 02:30,rome_ami,9\n")

    with pytest.raises(InputDataError) as caught:
        import_directory(series_store, tmp_path / "d")

    assert caught.value.row == 2 + len(files.ROME_ROWS) + len(files.NYC_ROWS) + len(files.FEEDER_ROWS)
    assert "2024-03-31 02:30:00 does not exist in Europe/Rome" in str(caught.value)
    assert series_store.readings_stats() == {}


def test_without_a_zone_naive_stamps_are_utc_and_the_summary_says_so(
    tmp_path: Path, series_store: SeriesStore
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-01-01 00:00,m1,1\n2024-01-01 01:00,m1,2\n", encoding="utf-8"
    )

    report = import_directory(series_store, data)

    assert stored_keys(series_store, "m1") == ["2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+00:00"]
    naive = [w for w in report.warnings if w.code == "naive_utc"]
    assert len(naive) == 1 and "2 stamps of 'm1' had no UTC offset" in naive[0].message


def test_naive_temperature_stamps_take_their_sites_zone_as_readings_do(
    tmp_path: Path, series_store: SeriesStore
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "meters.csv").write_text(
        "meter_id,meter_type,site_id,timezone\nm1,electricity,rome,Europe/Rome\nm2,electricity,far,\n",
        encoding="utf-8",
    )
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-07-01 00:00,m1,1\n2024-07-01 00:00,m2,1\n", encoding="utf-8"
    )
    (data / "temperature.csv").write_text(
        "timestamp,site_id,temperature_c\n2024-07-01 00:00,rome,21.5\n2024-07-01 00:00,far,9\n",
        encoding="utf-8",
    )

    report = import_directory(series_store, data)

    rome = series_store.read_temperature("rome")
    assert [t.isoformat() for t in rome.index] == ["2024-06-30T22:00:00+00:00"]  # local midnight, CEST
    assert [t.isoformat() for t in series_store.read_temperature("far").index] == [
        "2024-07-01T00:00:00+00:00"
    ]
    naive = sorted((w.subject, w.message) for w in report.warnings if w.code == "naive_utc")
    assert [subject for subject, _ in naive] == ["far", "m2"]  # no zone named for them: read as UTC
    assert "give its meters a timezone" in naive[0][1]


def stored_keys(store: SeriesStore, meter_id: str) -> list[str]:
    return [t.isoformat() for t in store.read_readings(MeterType.ELECTRICITY, meter_id).index]


def test_a_file_wide_zone_applies_to_meters_that_name_none(tmp_path: Path, series_store: SeriesStore) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-07-01 00:00,m1,1\n", encoding="utf-8"
    )

    report = import_directory(series_store, data, timezone="Europe/Rome")

    assert stored_keys(series_store, "m1") == ["2024-06-30T22:00:00+00:00"]
    assert not [w for w in report.warnings if w.code == "naive_utc"]


def test_stamps_marking_the_interval_end_shift_into_the_hour_before(store: SeriesStore) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-01-01T00:30:00Z", "2024-01-01T01:00:00Z", "2024-01-01T01:30:00Z"],
            "consumption": [1.0, 2.0, 4.0],
        }
    )
    meter = Meter("m1", MeterType.ELECTRICITY, unit="kWh")

    report = ingest_meter_readings(store, meter, frame, "body", stamps="end")

    # (00:00, 00:30] + (00:30, 01:00] make hour 00; (01:00, 01:30] alone is half of hour 01, scaled.
    assert store.read_readings(MeterType.ELECTRICITY, "m1").to_dict() == {
        pd.Timestamp("2024-01-01T00:00Z"): 3.0,
        pd.Timestamp("2024-01-01T01:00Z"): 8.0,
    }
    assert {w.code for w in report.warnings} >= {"aggregated", "scaled_hours"}


def test_is_dst_column_overrides_file_order_in_the_repeated_hour(store: SeriesStore) -> None:
    # Standard time listed first, but marked: the flags win over the order rule.
    frame = pd.DataFrame(
        {
            "timestamp": ["2024-10-27 02:00", "2024-10-27 02:30", "2024-10-27 02:00", "2024-10-27 02:30"],
            "consumption": [5.0, 6.0, 3.0, 4.0],
            "is_dst": ["false", "false", "true", "true"],
        }
    )
    meter = Meter("m1", MeterType.ELECTRICITY, unit="kWh", timezone="Europe/Rome")

    ingest_meter_readings(store, meter, frame, "body")

    assert store.read_readings(MeterType.ELECTRICITY, "m1").to_dict() == {
        pd.Timestamp("2024-10-27T00:00Z"): 7.0,  # 02:00 CEST
        pd.Timestamp("2024-10-27T01:00Z"): 11.0,  # 02:00 CET
    }


def test_a_repeated_stamp_seen_three_times_is_refused(store: SeriesStore) -> None:
    frame = pd.DataFrame({"timestamp": ["2024-10-27 02:00"] * 3, "consumption": [1.0, 2.0, 3.0]})
    meter = Meter("m1", MeterType.ELECTRICITY, unit="kWh", timezone="Europe/Rome")

    with pytest.raises(InputDataError, match="appears more than twice"):
        ingest_meter_readings(store, meter, frame, "body", first_row=2)


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        pytest.param("", "no unit, so the import cannot tell whether to sum", id="no-unit"),
        pytest.param("furlongs", "unknown unit 'furlongs'; use one of energy (Wh, kWh", id="unknown"),
    ],
)
def test_sub_hourly_readings_need_a_known_unit(store: SeriesStore, unit: str, problem: str) -> None:
    frame = pd.DataFrame({"timestamp": ["2024-01-01T00:00Z", "2024-01-01T00:15Z"], "consumption": [1.0, 2.0]})

    with pytest.raises(InputDataError, match=re.escape(problem)):
        ingest_meter_readings(store, Meter("m1", MeterType.ELECTRICITY, unit=unit), frame, "body")

    assert store.list_meters() == []


def test_unknown_meter_ids_are_named_with_the_closest_listed_one(tmp_path: Path, store: SeriesStore) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "meters.csv").write_text("meter_id,meter_type,unit\nBldg_01,electricity,kWh\n", encoding="utf-8")
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-01-01T00:00Z,bldg_01,1\n2024-01-01T00:00Z,Bldg_01,1\n",
        encoding="utf-8",
    )

    report = import_directory(store, data)

    unknown = [w for w in report.warnings if w.code == "unknown_meter"]
    assert [w.subject for w in unknown] == ["bldg_01"]
    assert "did you mean 'Bldg_01'?" in unknown[0].message


@pytest.fixture
def store(series_store: SeriesStore) -> SeriesStore:
    return series_store


def test_readings_without_meters_csv_keep_what_the_registry_says(tmp_path: Path, store: SeriesStore) -> None:
    store.upsert_meters([Meter("m1", MeterType.ELECTRICITY, "plant", "kW", "Europe/Rome")])
    data = tmp_path / "d"
    data.mkdir()
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-07-01 00:00,m1,2\n2024-07-01 00:30,m1,4\n", encoding="utf-8"
    )

    report = import_directory(store, data)

    assert store.get_meter("m1") == Meter(
        "m1", MeterType.ELECTRICITY, "plant", "kW", "Europe/Rome", interval_minutes=30
    )
    # The registry's zone and unit apply: 00:00 CEST is 22:00 UTC, kW averaged.
    assert store.read_readings(MeterType.ELECTRICITY, "m1").to_dict() == {
        pd.Timestamp("2024-06-30T22:00Z"): 3.0
    }
    assert not [w for w in report.warnings if w.code in {"unknown_meter", "naive_utc"}]
