"""Meter files as utilities export them, with the hourly values worked out by hand.

Shared by the service, CLI and HTTP tests, so all three import the same bytes and expect the same
numbers. Every expected value below is written out, not computed by the code under test.
"""

from __future__ import annotations

# meters.csv: the zones, units and kinds these files need.
METERS = (
    "meter_id,meter_type,site_id,unit,timezone,reading_kind,interval_minutes\n"
    "rome_ami,electricity,rome,kWh,Europe/Rome,,\n"
    "nyc_ami,electricity,nyc,kWh,America/New_York,,\n"
    "feeder_10,electricity,rome,kW,,,\n"
    "pump_flow,water,rome,L/s,,,\n"
    "house_reg,water,rome,m3,,register,15\n"
)

# A 30-minute AMI export in local wall-clock time (no offsets) across both clock changes.
# Rome: 2024-03-31 02:00 CET -> 03:00 CEST (02:xx does not exist); 2024-10-27 03:00 CEST ->
# 02:00 CET (02:00 and 02:30 appear twice: first CEST, then CET).
ROME_ROWS = [
    ("2024-03-31 00:00", 1), ("2024-03-31 00:30", 2),  # 00:00 CET = 2024-03-30 23:00Z -> 3
    ("2024-03-31 01:00", 3), ("2024-03-31 01:30", 4),  # 01:00 CET = 00:00Z -> 7
    ("2024-03-31 03:00", 5), ("2024-03-31 03:30", 6),  # 03:00 CEST = 01:00Z -> 11
    ("2024-03-31 04:00", 7), ("2024-03-31 04:30", 8),  # 04:00 CEST = 02:00Z -> 15
    ("2024-10-27 01:00", 1), ("2024-10-27 01:30", 2),  # 01:00 CEST = 2024-10-26 23:00Z -> 3
    ("2024-10-27 02:00", 3), ("2024-10-27 02:30", 4),  # 02:00 CEST (first) = 00:00Z -> 7
    ("2024-10-27 02:00", 5), ("2024-10-27 02:30", 6),  # 02:00 CET (second) = 01:00Z -> 11
    ("2024-10-27 03:00", 7), ("2024-10-27 03:30", 8),  # 03:00 CET = 02:00Z -> 15
]  # fmt: skip
ROME_HOURLY = {
    "2024-03-30T23:00:00+00:00": 3.0,
    "2024-03-31T00:00:00+00:00": 7.0,
    "2024-03-31T01:00:00+00:00": 11.0,
    "2024-03-31T02:00:00+00:00": 15.0,
    "2024-10-26T23:00:00+00:00": 3.0,
    "2024-10-27T00:00:00+00:00": 7.0,
    "2024-10-27T01:00:00+00:00": 11.0,
    "2024-10-27T02:00:00+00:00": 15.0,
}
# New York: 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST (01:xx twice).
NYC_ROWS = [
    ("2024-03-10 00:00", 10), ("2024-03-10 00:30", 20),  # 00:00 EST = 05:00Z -> 30
    ("2024-03-10 01:00", 30), ("2024-03-10 01:30", 40),  # 01:00 EST = 06:00Z -> 70
    ("2024-03-10 03:00", 50), ("2024-03-10 03:30", 60),  # 03:00 EDT = 07:00Z -> 110
    ("2024-11-03 00:00", 1), ("2024-11-03 00:30", 1),  # 00:00 EDT = 04:00Z -> 2
    ("2024-11-03 01:00", 2), ("2024-11-03 01:30", 2),  # 01:00 EDT (first) = 05:00Z -> 4
    ("2024-11-03 01:00", 3), ("2024-11-03 01:30", 3),  # 01:00 EST (second) = 06:00Z -> 6
    ("2024-11-03 02:00", 4), ("2024-11-03 02:30", 4),  # 02:00 EST = 07:00Z -> 8
]  # fmt: skip
NYC_HOURLY = {
    "2024-03-10T05:00:00+00:00": 30.0,
    "2024-03-10T06:00:00+00:00": 70.0,
    "2024-03-10T07:00:00+00:00": 110.0,
    "2024-11-03T04:00:00+00:00": 2.0,
    "2024-11-03T05:00:00+00:00": 4.0,
    "2024-11-03T06:00:00+00:00": 6.0,
    "2024-11-03T07:00:00+00:00": 8.0,
}

# 10-minute power (kW, a rate: hourly mean). Hour 00 complete; hour 01 has 3 of 6 (exactly half
# present: kept, mean of the three); hour 02 has 2 of 6 (more than half missing: a gap).
FEEDER_ROWS = [
    ("2024-01-01T00:00:00Z", 10), ("2024-01-01T00:10:00Z", 12), ("2024-01-01T00:20:00Z", 14),
    ("2024-01-01T00:30:00Z", 16), ("2024-01-01T00:40:00Z", 18), ("2024-01-01T00:50:00Z", 20),
    ("2024-01-01T01:00:00Z", 30), ("2024-01-01T01:20:00Z", 33), ("2024-01-01T01:50:00Z", 36),
    ("2024-01-01T02:00:00Z", 50), ("2024-01-01T02:10:00Z", 70),
]  # fmt: skip
FEEDER_HOURLY = {"2024-01-01T00:00:00+00:00": 15.0, "2024-01-01T01:00:00+00:00": 33.0}

# 15-minute flow (L/s, a rate). Hour 00: mean 2.75; hour 01: 3 of 4 present, mean 5.0;
# hour 02: 1 of 4, a gap.
PUMP_ROWS = [
    ("2024-01-01T00:00:00Z", 2.0), ("2024-01-01T00:15:00Z", 2.5),
    ("2024-01-01T00:30:00Z", 3.0), ("2024-01-01T00:45:00Z", 3.5),
    ("2024-01-01T01:00:00Z", 4.0), ("2024-01-01T01:30:00Z", 5.0), ("2024-01-01T01:45:00Z", 6.0),
    ("2024-01-01T02:00:00Z", 1.0),
]  # fmt: skip
PUMP_HOURLY = {"2024-01-01T00:00:00+00:00": 2.75, "2024-01-01T01:00:00+00:00": 5.0}

# A 15-minute cumulative register (m3) that rolls over from 9998 to 2 at 01:30.
# Hour 00: 1 + 2 + 1.5 + 1.5 = 6.0 (read at 01:00 closes it). Hour 01: 01:00->01:15 = 2,
# 01:15->01:30 drops (rollover: a gap), 01:30->01:45 = 1, 01:45->02:00 = 2: 3 of 4 intervals,
# 5 m3, scaled to the hour: 5 * 4 / 3.
HOUSE_ROWS = [
    ("2024-01-01T00:00:00Z", 9990.0), ("2024-01-01T00:15:00Z", 9991.0),
    ("2024-01-01T00:30:00Z", 9993.0), ("2024-01-01T00:45:00Z", 9994.5),
    ("2024-01-01T01:00:00Z", 9996.0), ("2024-01-01T01:15:00Z", 9998.0),
    ("2024-01-01T01:30:00Z", 2.0), ("2024-01-01T01:45:00Z", 3.0), ("2024-01-01T02:00:00Z", 5.0),
]  # fmt: skip
HOUSE_HOURLY = {"2024-01-01T00:00:00+00:00": 6.0, "2024-01-01T01:00:00+00:00": 5.0 * 4 / 3}

EXPECTED = {
    "rome_ami": ROME_HOURLY,
    "nyc_ami": NYC_HOURLY,
    "feeder_10": FEEDER_HOURLY,
    "pump_flow": PUMP_HOURLY,
    "house_reg": HOUSE_HOURLY,
}
ROWS = {
    "rome_ami": ROME_ROWS,
    "nyc_ami": NYC_ROWS,
    "feeder_10": FEEDER_ROWS,
    "pump_flow": PUMP_ROWS,
    "house_reg": HOUSE_ROWS,
}
TYPES = {"rome_ami": "electricity", "nyc_ami": "electricity", "feeder_10": "electricity"} | {
    "pump_flow": "water",
    "house_reg": "water",
}
# What the HTTP upload's query names for each meter (the same facts as meters.csv).
QUERY = {
    "rome_ami": {"unit": "kWh", "timezone": "Europe/Rome"},
    "nyc_ami": {"unit": "kWh", "timezone": "America/New_York"},
    "feeder_10": {"unit": "kW"},
    "pump_flow": {"unit": "L/s"},
    "house_reg": {"unit": "m3", "reading_kind": "register", "interval_minutes": "15"},
}


def meter_csv(meter_id: str, *, value_column: str = "consumption") -> str:
    """One meter's ``timestamp,<value>`` CSV (an upload body)."""
    lines = [f"timestamp,{value_column}"] + [f"{t},{v}" for t, v in ROWS[meter_id]]
    return "\n".join(lines) + "\n"


def long_csv(meter_ids: list[str], *, value_column: str = "consumption") -> str:
    """``timestamp,meter_id,<value>`` of several meters, each meter's rows in file order."""
    lines = [f"timestamp,meter_id,{value_column}"]
    lines += [f"{t},{m},{v}" for m in meter_ids for t, v in ROWS[m]]
    return "\n".join(lines) + "\n"


def write_data_dir(path: object) -> None:
    """meters.csv, electricity.csv (the register's file uses ``reading``) and water.csv."""
    from pathlib import Path

    root = Path(str(path))
    root.mkdir(parents=True, exist_ok=True)
    (root / "meters.csv").write_text(METERS, encoding="utf-8")
    (root / "electricity.csv").write_text(long_csv(["rome_ami", "nyc_ami", "feeder_10"]), encoding="utf-8")
    (root / "water.csv").write_text(
        long_csv(["pump_flow", "house_reg"], value_column="reading"), encoding="utf-8"
    )
