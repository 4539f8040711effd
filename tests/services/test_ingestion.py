"""Import: validate everything first, write nothing from a rejected file, re-import changes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import ConflictError, InputDataError
from energy_forecast.services.ingestion import import_directory, import_meter_readings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

METERS = "meter_id,meter_type,site_id,unit,source\nm_e,electricity,s1,kWh,test\nm_w,water,s1,m3,test\n"
ELEC = (
    "timestamp,meter_id,consumption\n"
    "2024-01-01T00:00:00Z,m_e,10.5\n"
    "2024-01-01T01:00:00Z,m_e,\n"
    "2024-01-01T02:00:00Z,m_e,12\n"
    "2024-01-01T02:00:00Z,m_e,12\n"
)
WATER = "timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,m_w,0\n2024-01-01T01:00:00Z,m_w,3.25\n"
TEMPS = "timestamp,site_id,temperature_c\n2024-01-01T00:00:00Z,s1,-3.5\n2024-01-01T01:00:00Z,s1,\n"


@pytest.fixture
def store(tmp_path: Path) -> DuckDBSeriesStore:
    return DuckDBSeriesStore(tmp_path / "s.duckdb")


def write_dir(path: Path, **files: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / f"{name}.csv").write_text(text, encoding="utf-8")
    return path


def test_long_format_import_stores_exactly_the_non_empty_rows(
    tmp_path: Path, store: DuckDBSeriesStore
) -> None:
    data = write_dir(tmp_path / "d", meters=METERS, electricity=ELEC, water=WATER, temperature=TEMPS)

    report = import_directory(store, data)

    assert report.readings_written == {"m_e": 2, "m_w": 2}
    assert report.temperature_written == {"s1": 1}
    assert report.empty_rows_skipped == 2
    stats = store.readings_stats()
    assert stats["m_e"].count == 2 and stats["m_e"].gap_hours == 1
    assert store.get_meter("m_w") == Meter("m_w", MeterType.WATER, "s1", "m3", interval_minutes=60)


def test_importing_twice_changes_no_count(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    data = write_dir(tmp_path / "d", meters=METERS, electricity=ELEC, water=WATER, temperature=TEMPS)
    import_directory(store, data)

    import_directory(store, data)

    assert {k: v.count for k, v in store.readings_stats().items()} == {"m_e": 2, "m_w": 2}
    assert store.temperature_stats()["s1"].count == 1


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        pytest.param("2024-13-45T00:00:00Z,m_e,1", "cannot parse timestamp", id="bad-timestamp"),
        pytest.param("2024-01-01T05:00:00Z,m_e,abc", "is not a number", id="non-numeric"),
        pytest.param("2024-01-01T05:00:00Z,m_e,-1", "negative", id="negative"),
        pytest.param("2024-01-01T05:00:00Z,m_e,inf", "not finite", id="infinite"),
        pytest.param("2024-01-01T05:00:00Z,m_e,nan", "is not a number", id="nan-text"),
        pytest.param("2024-01-01T05:00:00Z,m_e,12kWh", "is not a number", id="unit-suffix"),
        pytest.param(",m_e,1", "empty timestamp", id="empty-timestamp"),
        pytest.param(
            "2024-01-01T00:00:00Z,m_e,99", "different consumption values", id="conflicting-duplicate"
        ),
        pytest.param("2024-01-01T05:30:00Z,m_e,1", "not on a whole hour", id="off-hour"),
        pytest.param("1850-01-01T00:00:00Z,m_e,1", "outside 1970..2099", id="far-past"),
        pytest.param("2024-01-01T05:00:00Z,../../etc,1", "not a valid id", id="traversal-id"),
    ],
)
def test_one_bad_row_rejects_the_file_with_its_row_and_writes_nothing(
    tmp_path: Path, store: DuckDBSeriesStore, bad_line: str, problem: str
) -> None:
    data = write_dir(tmp_path / "d", meters=METERS, electricity=ELEC + bad_line + "\n", water=WATER)

    with pytest.raises(InputDataError) as caught:
        import_directory(store, data)

    message = str(caught.value)
    assert message.startswith("electricity.csv, row 6: ")
    assert problem in message
    assert caught.value.row == 6
    assert store.readings_stats() == {}
    assert store.list_meters() == []


def test_missing_column_is_named(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    data = write_dir(tmp_path / "d", water="timestamp,meter_id\n2024-01-01T00:00:00Z,m_w\n")

    with pytest.raises(InputDataError, match=r"water.csv: missing column\(s\) consumption"):
        import_directory(store, data)


def test_unknown_meter_type_is_refused(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    data = write_dir(tmp_path / "d", meters="meter_id,meter_type\nm1,gas\n")

    with pytest.raises(InputDataError, match=r"meters\.csv, row 2: unknown meter_type 'gas'"):
        import_directory(store, data)


def test_meter_listed_under_the_wrong_type_is_refused(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    data = write_dir(tmp_path / "d", meters=METERS, water=WATER.replace("m_w", "m_e"))

    with pytest.raises(InputDataError, match=r"meters\.csv lists it as electricity"):
        import_directory(store, data)


def test_non_utf8_file_is_refused(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "electricity.csv").write_bytes(b"timestamp,meter_id,consumption\n2024-01-01,m\xff,1\n")

    with pytest.raises(InputDataError, match="not UTF-8"):
        import_directory(store, data)


def test_seed_initial_datasets_are_understood(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    seed = tmp_path / "data" / "initial_datasets"
    write_dir(
        seed,
        Electricity_Consumption_data="DateTime,Consumption,Temperature,meter_id\n"
        "2023-01-01 00:00:00,5.0,3.0,meter1\n2023-01-01 01:00:00,6.0,3.5,meter1\n",
        Water_Consumption="DateTime,Consumption,Temperature,meter_id\n2023-01-01 00:00:00,1.5,3.0,w1\n",
        Temperature_Data="DateTime,Temperature\n2023-01-01 00:00:00,3.0\n2023-01-01 01:00:00,3.5\n",
    )

    report = import_directory(store, tmp_path / "data")

    assert report.readings_written == {"meter1": 2, "w1": 1}
    assert report.temperature_written == {"default": 2}
    assert store.get_meter("w1").meter_type is MeterType.WATER  # type: ignore[union-attr]
    assert store.read_readings(MeterType.ELECTRICITY, "meter1").index[0] == pd.Timestamp("2023-01-01T00:00Z")


def test_directory_without_known_files_says_what_it_expects(tmp_path: Path, store: DuckDBSeriesStore) -> None:
    (tmp_path / "empty").mkdir()

    with pytest.raises(InputDataError, match=r"expected meters\.csv"):
        import_directory(store, tmp_path / "empty")


def test_meter_readings_conflicting_with_the_registry_are_refused(store: DuckDBSeriesStore) -> None:
    store.upsert_meters([Meter("m1", MeterType.WATER)])
    frame = pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"], "consumption": ["1"]})

    with pytest.raises(ConflictError, match="registered as water"):
        import_meter_readings(store, Meter("m1", MeterType.ELECTRICITY), frame, "body")

    assert store.readings_stats() == {}


def test_row_limit_is_enforced_before_parsing(store: DuckDBSeriesStore) -> None:
    frame = pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"] * 5, "consumption": ["1"] * 5})

    with pytest.raises(InputDataError, match="exceed the limit of 3"):
        import_meter_readings(store, Meter("m1", MeterType.WATER), frame, "body", max_rows=3)
