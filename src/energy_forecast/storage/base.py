"""The storage ports: the only storage names other layers import.

A ``SeriesStore`` holds the meter registry, the sites, the groups of meters, hourly meter readings
and hourly site
temperatures.
Implementations (``duckdb_store``, ``influx_store``) pass one contract suite
(``tests/storage/test_series_store.py``). Their promises:

- writes are idempotent upserts keyed by (meter, hour) or (site, hour): re-importing changes nothing;
- timestamps are UTC and whole hours; reads return the ``domain.series`` contract;
- gaps stay gaps: nothing is filled, and empty values are never written;
- ids reaching a query are validated slugs (``domain.meters``), so no literal can be injected.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from energy_forecast.domain.groups import Group
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import SeriesStats
from energy_forecast.domain.sites import Site


class SeriesStore(Protocol):
    """Meter registry plus hourly readings and temperatures."""

    def ping(self) -> None:
        """Raise ``StorageError`` if the store cannot be reached."""

    def upsert_meters(self, meters: list[Meter]) -> None:
        """Create or replace registry entries."""

    def get_meter(self, meter_id: str) -> Meter | None:
        """The registry entry, or None."""

    def list_meters(self) -> list[Meter]:
        """Every registry entry, sorted by meter id."""

    def write_readings(self, meter_type: MeterType, meter_id: str, readings: pd.Series) -> int:
        """Upsert hourly readings (contract series, no NaN); returns the number of points written."""

    def read_readings(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.Series:
        """Readings with ``start <= t < end`` (either bound optional), as a contract series."""

    def delete_readings(
        self, meter_type: MeterType, meter_id: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> None:
        """Remove readings with ``start <= t < end``."""

    def readings_stats(
        self, meter_type: MeterType | None = None, meter_ids: list[str] | None = None
    ) -> dict[str, SeriesStats]:
        """Count, first and last reading per meter id (meters without readings are absent).

        ``meter_ids`` limits it to those meters: over a whole fleet the aggregate reads every
        reading (11 s for 800 meters on InfluxDB), which a chunk or one meter must not pay.
        """

    def data_version(self, meter_type: MeterType, meter_id: str, site_id: str) -> Hashable | None:
        """A token that changes whenever the meter's readings, the site's temperatures or the
        meter/site registries change; None when the store cannot tell (other processes write to it),
        so callers must not cache on it."""

    def write_temperature(self, site_id: str, temperature: pd.Series) -> int:
        """Upsert hourly temperatures (°C) of a site; returns the number of points written."""

    def read_temperature(
        self, site_id: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.Series:
        """Temperatures with ``start <= t < end``, as a contract series."""

    def delete_temperature(self, site_id: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Remove temperatures with ``start <= t < end``."""

    def temperature_stats(self) -> dict[str, SeriesStats]:
        """Count, first and last temperature per site id."""

    def upsert_site(self, site: Site) -> None:
        """Create or replace a site (every field, absent optional ones included)."""

    def get_site(self, site_id: str) -> Site | None:
        """The site, or None when it was never registered."""

    def list_sites(self) -> list[Site]:
        """Every site, sorted by site id."""

    def put_groups(self, groups: list[Group]) -> None:
        """Create or replace groups in one write; callers validate the whole registry first."""

    def delete_group(self, group_id: str) -> None:
        """Remove a group (nothing when it does not exist)."""

    def get_group(self, group_id: str) -> Group | None:
        """The group, or None."""

    def list_groups(self) -> list[Group]:
        """Every group, sorted by group id."""

    def write_forecast(
        self, meter_type: MeterType, meter_id: str, model_version: str, forecast: pd.DataFrame
    ) -> int:
        """Upsert forecast points (``value``, optional ``lower``/``upper``) keyed by (meter, version, hour).

        Layout in ``storage/forecast_layout.py``; returns the number of points written.
        """

    def read_forecast(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Written-back forecasts with ``start <= t < end``: UTC index, columns model_version, value,
        lower, upper, sorted by time then version."""

    # retention --------------------------------------------------------------------------------
    def delete_forecast_before(self, meter_type: MeterType, before: pd.Timestamp) -> None:
        """Remove every written-back forecast point of ``meter_type`` with ``t < before``, all meters
        and model versions at once (one statement, not one per meter)."""

    def batch(self) -> AbstractContextManager[None]:
        """Group many writes (an import): one transaction where the backend has them."""

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One saved bundle of one meter."""

    meter_id: str
    meter_type: MeterType
    version: int
    location: str  # "{type}/{meter}/v0002": where the store keeps it, relative to the store's root
    metadata: dict[str, Any]
    active: bool

    @property
    def created_at(self) -> str | None:
        value = self.metadata.get("saved_at")
        return str(value) if value is not None else None


class ModelStore(Protocol):
    """Versioned model bundles per meter; the newest successful save is active unless rolled back."""

    def save(
        self,
        meter_type: MeterType,
        meter_id: str,
        artifacts: dict[str, bytes],
        metadata: dict[str, Any],
        *,
        activate: bool = True,
    ) -> ModelVersion:
        """Write a whole version or none (file store: temp then rename; S3: artifacts, then the
        manifest by a conditional put); raise StorageError and leave the active version on failure."""

    def load(
        self, meter_type: MeterType, meter_id: str, version: int | None = None
    ) -> tuple[ModelVersion, dict[str, bytes]]:
        """The active (or given) version; ModelNotFoundError when there is none."""

    def get_version(self, meter_type: MeterType, meter_id: str, version: int | None = None) -> ModelVersion:
        """Metadata of the active (or given) version without loading artifacts."""

    def list_versions(self, meter_type: MeterType, meter_id: str) -> list[ModelVersion]:
        """Every version of one meter, oldest first."""

    def activate(self, meter_type: MeterType, meter_id: str, version: int) -> ModelVersion:
        """Make an existing version the active one."""

    def list_models(self, meter_type: MeterType | None = None) -> list[ModelVersion]:
        """The active version of every meter that has one."""

    def delete_version(self, meter_type: MeterType, meter_id: str, version: int) -> None:
        """Remove a version that is not active (retention); ConflictError for the active one,
        ModelNotFoundError when it does not exist. A reader never sees it half-deleted."""

    def ping(self) -> None:
        """Raise StorageError when models cannot be written."""
