"""``energy-forecast forecast``: forecasts printed, and with --write stored where Grafana reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.domain.meters import MeterType
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "meters.csv").write_text("meter_id,meter_type,site_id,unit\nm1,electricity,s1,kWh\n")
    rows = [f"2024-01-{d:02d}T{h:02d}:00:00Z,m1,{h + 1}" for d in (1, 2) for h in range(24)]
    (data / "electricity.csv").write_text("timestamp,meter_id,consumption\n" + "\n".join(rows) + "\n")
    assert runner.invoke(app, ["import", "--data-dir", str(data)]).exit_code == 0
    return tmp_path / "home"


def test_forecast_write_stores_one_day_per_meter(home: Path) -> None:
    dry = runner.invoke(app, ["forecast", "--meter-id", "m1", "--days", "1", "--json"])
    written = runner.invoke(app, ["forecast", "--all", "--days", "1", "--write", "--json"])

    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)[0]["points_written"] == 0
    assert written.exit_code == 0, written.output
    row = json.loads(written.stdout)[0]
    assert row["model_version"] == "substituted"  # never trained: the same-hour fallback
    assert row["points_written"] == 24
    assert row["first_hour"] == "2024-01-03T00:00:00+00:00"
    store = DuckDBSeriesStore(home / "energy.duckdb")
    try:
        stored = store.read_forecast(MeterType.ELECTRICITY, "m1")
    finally:
        store.close()
    assert len(stored) == 24
    assert stored["value"].iloc[5] == pytest.approx(6.0)  # mean of hour 05 over the two days


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["forecast"], "give --all or one or more --meter-id", id="no-meter"),
        pytest.param(["forecast", "--meter-id", "ghost"], "unknown meter id(s): ghost", id="unknown"),
        pytest.param(["forecast", "--all", "--days", "40"], "less than or equal to 31", id="too-many-days"),
    ],
)
def test_forecast_refuses_bad_arguments(home: Path, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert fragment in result.output


def test_forecast_prints_a_table_of_the_forecast_by_default(home: Path) -> None:
    result = runner.invoke(app, ["forecast", "--meter-id", "m1", "--days", "1"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "m1 (electricity, kWh): 24 hours from same-hour fallback"
    assert lines[1].split() == ["timestamp", "(UTC)", "value", "kWh", "80", "%", "band", "source"]
    assert lines[2].startswith("2024-01-03 00:00")
    assert "1.00" in lines[2] and "same-hour fallback" in lines[2]
    assert len(lines) == 2 + 24
    assert "points written" not in result.output


def test_forecast_json_carries_the_points(home: Path) -> None:
    result = runner.invoke(app, ["forecast", "--meter-id", "m1", "--days", "1", "--json"])

    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)[0]["points"]
    assert len(points) == 24
    assert points[5]["timestamp"] == "2024-01-03T05:00:00+00:00"
    assert points[5]["value"] == pytest.approx(6.0)
    assert points[5]["source"] == "same-hour fallback"
    assert {"lower", "upper"} <= set(points[5])


def test_forecast_csv_has_one_line_per_hour(home: Path) -> None:
    result = runner.invoke(app, ["forecast", "--meter-id", "m1", "--days", "1", "--csv"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "meter_id,meter_type,timestamp,value,lower,upper,source"
    assert len(lines) == 25
    assert lines[6].startswith("m1,electricity,2024-01-03T05:00:00+00:00,6.0,")


def test_forecast_write_says_what_it_stored_beside_the_table(home: Path) -> None:
    result = runner.invoke(app, ["forecast", "--meter-id", "m1", "--days", "1", "--write"])

    assert result.exit_code == 0, result.output
    assert "24 points stored for 1 meters" in result.stderr
    assert result.stdout.startswith("m1 (electricity, kWh)")


def test_readable_values_round_by_size() -> None:
    from energy_forecast.cli.forecast_output import readable

    assert [readable(v) for v in (2080705.4, 12.44, 1.234, 0.53249, None)] == [
        "2,080,705",
        "12.4",
        "1.23",
        "0.532",
        "\u2013",
    ]


@pytest.fixture
def site_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two untrained meters in one group: each answers its same-hour fallback."""
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    data.mkdir()
    (data / "meters.csv").write_text(
        "meter_id,meter_type,site_id,unit,groups\nm1,electricity,s1,kWh,both\nm2,electricity,s1,kWh,both\n"
    )
    rows = [
        f"2024-01-{d:02d}T{h:02d}:00:00Z,{m},{k * (h + 1)}"
        for d in (1, 2)
        for h in range(24)
        for k, m in ((1, "m1"), (2, "m2"))
    ]
    (data / "electricity.csv").write_text("timestamp,meter_id,consumption\n" + "\n".join(rows) + "\n")
    assert runner.invoke(app, ["import", "--data-dir", str(data)]).exit_code == 0
    return tmp_path / "home"


def test_forecast_group_prints_and_stores_the_members_total(site_home: Path) -> None:
    shown = runner.invoke(app, ["forecast", "--group", "both", "--days", "1"])
    written = runner.invoke(app, ["forecast", "--group", "both", "--days", "1", "--write", "--json"])

    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "both (electricity, kWh): 24 hours from sum of 2 meters"
    assert written.exit_code == 0, written.output
    row = json.loads(written.stdout)[0]
    assert (row["meter_id"], row["model_version"], row["points_written"]) == ("both", "group", 24)
    assert row["substituted"] is True  # both members answer their fallback
    assert row["points"][5]["value"] == pytest.approx(3 * 6.0)  # m1 + m2 at hour 05
    assert row["points"][5]["p10"] <= row["points"][5]["p50"] <= row["points"][5]["p90"]
    store = DuckDBSeriesStore(site_home / "energy.duckdb")
    try:
        stored = store.read_forecast(MeterType.ELECTRICITY, "both")
    finally:
        store.close()
    assert len(stored) == 24 and stored["value"].iloc[5] == pytest.approx(18.0)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        pytest.param(["--group", "both", "--meter-id", "m1"], 2, "not both", id="group-and-meter"),
        pytest.param(["--group", "ghost"], 1, "ghost", id="unknown-group"),
    ],
)
def test_forecast_group_refuses_what_it_cannot_answer(
    site_home: Path, args: list[str], code: int, fragment: str
) -> None:
    result = runner.invoke(app, ["forecast", *args])

    assert result.exit_code == code
    assert fragment in result.output
