"""Sites come with the data: an import registers them, a seed-shaped location names the right one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.services.ingestion import import_directory, import_meter_readings
from energy_forecast.services.sites import location_target, register_sites
from energy_forecast.storage.base import SeriesStore

METERS = "meter_id,meter_type,site_id,unit\nm_e,electricity,s1,kWh\nm_w,water,s2,m3\n"
ELEC = "timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,m_e,10.5\n"
TEMPS = "timestamp,site_id,temperature_c\n2024-01-01T00:00:00Z,s3,-3.5\n"


def test_an_import_registers_the_sites_of_its_meters_and_temperatures(
    tmp_path: Path, series_store: SeriesStore
) -> None:
    series_store.upsert_site(Site("s1", 45.0, 7.6, "Turin"))
    data = tmp_path / "d"
    data.mkdir()
    for name, text in {"meters": METERS, "electricity": ELEC, "temperature": TEMPS}.items():
        (data / f"{name}.csv").write_text(text, encoding="utf-8")

    import_directory(series_store, data)

    assert series_store.list_sites() == [Site("s1", 45.0, 7.6, "Turin"), Site("s2"), Site("s3")]


def test_an_uploaded_meter_registers_its_site(series_store: SeriesStore) -> None:
    frame = pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"], "consumption": [1.0]})

    import_meter_readings(series_store, Meter("b1", MeterType.ELECTRICITY, "plant"), frame, "upload")

    assert [s.site_id for s in series_store.list_sites()] == ["plant"]


def test_registering_again_adds_nothing(series_store: SeriesStore) -> None:
    assert register_sites(series_store, ["a", "b", "a"]) == ["a", "b"]

    assert register_sites(series_store, ["b", "c"]) == ["c"]


def test_the_seed_body_means_the_city_site_then_the_only_site_then_a_new_one(
    series_store: SeriesStore,
) -> None:
    assert location_target(series_store, None, "New York") == ("new_york", None)
    series_store.upsert_site(Site("tetouan_ma"))
    assert location_target(series_store, None, "Tetouan") == ("tetouan_ma", Site("tetouan_ma"))
    series_store.upsert_site(Site("rome"))
    assert location_target(series_store, None, "Tetouan") == ("tetouan", None)
    assert location_target(series_store, None, "Rome") == ("rome", Site("rome"))
    assert location_target(series_store, "x1", "Rome") == ("x1", None)
