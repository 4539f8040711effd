"""Rebuild the bundled sample data set (src/energy_forecast/sample_data/) from the development data.

Run from the repository root with the development data at ../shared/data (or give its path):
    .venv/bin/python scripts/make_sample_data.py [DATA_DIR]
Only CC BY 4.0 sources are taken (Tetouan feeders, BWDF district meters); see sample_data/README.md
for the attribution that must travel with the files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ELECTRICITY = ["tetouan_zone1", "tetouan_zone2", "tetouan_zone3"]
WATER = ["bwdf_dma01", "bwdf_dma03", "bwdf_dma05"]
WATER_FROM = "2022-04-01T00:00:00Z"  # the last 12 months of the district meters
METERS = """meter_id,meter_type,site_id,unit,timezone,latitude,longitude
tetouan_zone1,electricity,tetouan_ma,kW,UTC,35.5785,-5.3684
tetouan_zone2,electricity,tetouan_ma,kW,UTC,35.5785,-5.3684
tetouan_zone3,electricity,tetouan_ma,kW,UTC,35.5785,-5.3684
bwdf_dma01,water,bwdf_it,m3,Europe/Rome,,
bwdf_dma03,water,bwdf_it,m3,Europe/Rome,,
bwdf_dma05,water,bwdf_it,m3,Europe/Rome,,
"""


def main(source: Path, target: Path) -> None:
    electricity = pd.read_csv(source / "electricity.csv", dtype=str, keep_default_na=False)
    electricity = electricity[electricity["meter_id"].isin(ELECTRICITY)]
    water = pd.read_csv(source / "water.csv", dtype=str, keep_default_na=False)
    water = water[water["meter_id"].isin(WATER) & (water["timestamp"] >= WATER_FROM)]
    temperature = pd.read_csv(source / "temperature.csv", dtype=str, keep_default_na=False)
    temperature = temperature[
        (temperature["site_id"] == "tetouan_ma")
        | ((temperature["site_id"] == "bwdf_it") & (temperature["timestamp"] >= WATER_FROM))
    ]
    target.mkdir(parents=True, exist_ok=True)
    (target / "meters.csv").write_text(METERS)
    electricity.to_csv(target / "electricity.csv", index=False)
    water.to_csv(target / "water.csv", index=False)
    temperature.to_csv(target / "temperature.csv", index=False)
    for name in ("electricity", "water", "temperature"):
        print(name, len(locals()[name]), "rows")


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    main(src, Path(__file__).resolve().parent.parent / "src" / "energy_forecast" / "sample_data")
