"""A meter's calendar (zone and holiday country) comes from its site when the meter has none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.ml.model import ForecastModel
from energy_forecast.services.meters import meter_calendar
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore


def test_meter_calendar_prefers_the_meters_zone_and_takes_the_country_from_the_site(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "db.duckdb")
    try:
        store.upsert_site(Site("turin", 45.06, 7.66, "Turin", "Europe/Rome", "IT"))
        assert meter_calendar(store, Meter("m1", MeterType.ELECTRICITY, site_id="turin")) == (
            "Europe/Rome",
            "IT",
        )
        own_zone = Meter("m2", MeterType.ELECTRICITY, site_id="turin", timezone="Europe/Zurich")
        assert meter_calendar(store, own_zone) == ("Europe/Zurich", "IT")
        assert meter_calendar(store, Meter("m3", MeterType.ELECTRICITY, site_id="nowhere")) == ("UTC", None)
        # An imported site has no country until POST /location/: its zone's country stands in.
        store.upsert_site(Site("leeds", timezone="Europe/London"))
        assert meter_calendar(store, Meter("m4", MeterType.ELECTRICITY, site_id="leeds")) == (
            "Europe/London",
            "GB",
        )
        casablanca = Meter("m5", MeterType.ELECTRICITY, site_id="nowhere", timezone="Africa/Casablanca")
        assert meter_calendar(store, casablanca) == ("Africa/Casablanca", "MA")
        store.upsert_site(Site("turin", 45.06, 7.66, "Turin", "Europe/Rome", "IT"))
        assert meter_calendar(
            store, Meter("m6", MeterType.ELECTRICITY, site_id="turin", timezone="Europe/London")
        ) == (
            "Europe/London",
            "IT",
        )  # a country the site was given always wins
    finally:
        store.close()


def test_trained_model_uses_the_sites_holiday_calendar(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "db.duckdb")
    try:
        store.upsert_site(Site("turin", 45.06, 7.66, "Turin", "Europe/Rome", "IT"))
        store.upsert_meters([Meter("m1", MeterType.ELECTRICITY, site_id="turin")])
        index = pd.date_range("2024-01-01", periods=24 * 40, freq="h", tz="UTC")
        values = 100 + 20 * np.sin(index.hour.to_numpy() / 24 * 2 * np.pi)
        store.write_readings(MeterType.ELECTRICITY, "m1", pd.Series(values, index=index))
        models = FileModelStore(tmp_path / "models")
        train_meter(store, models, meter_id="m1", meter_type=MeterType.ELECTRICITY)
        info, artifacts = models.load(MeterType.ELECTRICITY, "m1")
        assert info.metadata["country"] == "IT"
        assert info.metadata["timezone"] == "Europe/Rome"
        model = ForecastModel.from_artifacts(artifacts)
        assert (model.spec.country, model.spec.timezone) == ("IT", "Europe/Rome")
    finally:
        store.close()


class _CountingStore:
    """The store, counting the site lookups a training task makes (one InfluxDB query each)."""

    def __init__(self, inner: DuckDBSeriesStore) -> None:
        self.inner, self.site_reads = inner, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def get_site(self, site_id: str) -> Site | None:
        self.site_reads += 1
        return self.inner.get_site(site_id)


def test_training_with_a_global_member_reads_the_site_once_per_meter(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "db.duckdb")
    try:
        store.upsert_site(Site("turin", 45.06, 7.66, "Turin", "Europe/Rome", "IT"))
        store.upsert_meters([Meter(f"m{i}", MeterType.ELECTRICITY, site_id="turin") for i in range(2)])
        index = pd.date_range("2024-01-01", periods=24 * 40, freq="h", tz="UTC")
        for i in range(2):
            values = 100 + 10 * i + 20 * np.sin(index.hour.to_numpy() / 24 * 2 * np.pi)
            store.write_readings(MeterType.ELECTRICITY, f"m{i}", pd.Series(values, index=index))
        models = FileModelStore(tmp_path / "models")
        counting = _CountingStore(store)
        train_meter(counting, models, meter_id=FLEET_MODEL_ID, meter_type=MeterType.ELECTRICITY)  # type: ignore[arg-type]
        assert counting.site_reads == 2  # once per meter, though the fleet reads each several times
        counting.site_reads = 0
        train_meter(counting, models, meter_id="m0", meter_type=MeterType.ELECTRICITY)  # type: ignore[arg-type]
        info, _ = models.load(MeterType.ELECTRICITY, "m0")
        assert info.metadata["blend"]["fleet_version"] is not None  # the global member took part
        assert counting.site_reads == 1
    finally:
        store.close()
