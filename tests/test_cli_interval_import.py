"""``energy-forecast import`` of interval, register and local-time files, and its warnings summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.domain.meters import MeterType
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.services import interval_files as files

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def stored(home: Path) -> dict[str, dict[str, float]]:
    store = DuckDBSeriesStore(home / "energy.duckdb")
    try:
        return {
            meter_id: {
                t.isoformat(): float(v)
                for t, v in store.read_readings(MeterType(files.TYPES[meter_id]), meter_id).items()
            }
            for meter_id in files.EXPECTED
        }
    finally:
        store.close()


def test_import_puts_every_file_on_hand_computed_hours_and_summarises(home: Path, tmp_path: Path) -> None:
    files.write_data_dir(tmp_path / "d")

    result = runner.invoke(app, ["import", "--data-dir", str(tmp_path / "d")])

    assert result.exit_code == 0, result.output
    values = stored(home)
    for meter_id, expected in files.EXPECTED.items():
        assert values[meter_id] == pytest.approx(expected), meter_id
    assert "warning(s):" in result.output
    assert "10-minute readings of 'feeder_10' (kW) averaged (time-weighted mean) into hours" in result.output
    assert "1 hour of 'feeder_10' dropped as incomplete (more than half of their 10-minute" in result.output
    assert "register 'house_reg' went down once (rollover or meter exchange)" in result.output
    assert "site 'rome' (meters 'feeder_10', 'house_reg', 'pump_flow', 'rome_ami')" in result.output
    listed = {m["meter_id"]: m for m in json.loads(runner.invoke(app, ["meters", "--json"]).stdout)}
    assert listed["house_reg"]["reading_kind"] == "register"
    assert listed["feeder_10"]["interval_minutes"] == 10 and listed["feeder_10"]["unit"] == "kW"
    table = runner.invoke(app, ["meters"]).stdout
    assert "15-min register" in table and "10-min" in table


def test_stamps_end_and_a_file_wide_zone_are_options(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "meters.csv").write_text("meter_id,meter_type,unit\nm1,electricity,kWh\n", encoding="utf-8")
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-07-01 00:30,m1,1\n2024-07-01 01:00,m1,2\n", encoding="utf-8"
    )

    result = runner.invoke(
        app, ["import", "--data-dir", str(data), "--stamps", "end", "--timezone", "Europe/Rome"]
    )

    assert result.exit_code == 0, result.output
    store = DuckDBSeriesStore(home / "energy.duckdb")
    try:
        # (00:00, 01:00] local CEST is the hour starting 2024-06-30 22:00 UTC.
        assert store.read_readings(MeterType.ELECTRICITY, "m1").to_dict() == {
            pd.Timestamp("2024-06-30T22:00Z"): 3.0
        }
    finally:
        store.close()
    assert "read as UTC" not in result.output
    listed = json.loads(runner.invoke(app, ["meters", "--json"]).stdout)
    assert [(m["meter_id"], m["timezone"], m["interval_minutes"]) for m in listed] == [
        ("m1", "Europe/Rome", 30)
    ]


def test_naive_stamps_without_a_zone_are_named_in_the_summary(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "electricity.csv").write_text(
        "timestamp,meter_id,consumption\n2024-01-01 00:00,m1,1\n", encoding="utf-8"
    )

    result = runner.invoke(app, ["import", "--data-dir", str(data)])

    assert result.exit_code == 0, result.output
    assert (
        "1 stamp of 'm1' had no UTC offset and no time zone was given, so they were read as UTC"
        in result.output
    )


def test_a_bad_option_value_is_one_line(home: Path, tmp_path: Path) -> None:
    files.write_data_dir(tmp_path / "d")

    bad_stamps = runner.invoke(app, ["import", "--data-dir", str(tmp_path / "d"), "--stamps", "middle"])
    bad_zone = runner.invoke(app, ["import", "--data-dir", str(tmp_path / "d"), "--timezone", "Mars/Base"])

    assert bad_stamps.exit_code == 1 and "stamps 'middle' must be 'start' or 'end'" in bad_stamps.output
    assert bad_zone.exit_code == 1 and "unknown IANA time zone 'Mars/Base'" in bad_zone.output
