"""The embedded store serves reads from memory: never a value that a write made stale."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.read_cache import SeriesReadCache
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY


def test_a_read_that_raced_a_write_is_not_kept() -> None:
    cache = SeriesReadCache()
    token = cache.generation("k")
    cache.invalidate("k")  # a write lands while the reader is in the database

    cache.put("k", hourly_series(hours=3), token, 3)

    assert cache.get("k") is None


def test_the_cache_keeps_at_most_its_point_budget_evicting_the_least_recent() -> None:
    cache = SeriesReadCache(max_points=10)
    for key in ("a", "b", "c"):
        cache.put(key, hourly_series(hours=4), cache.generation(key), 4)
    cache.get("b")

    cache.put("d", hourly_series(hours=4), cache.generation("d"), 4)

    assert [k for k in "abcd" if cache.get(k) is not None] == ["b", "d"]


@pytest.fixture
def two_stores(tmp_path: Path) -> tuple[DuckDBSeriesStore, DuckDBSeriesStore]:
    """Two store objects on one file in one process share DuckDB's database and this cache."""
    first = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    second = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    yield first, second
    second.close()
    first.close()


def test_a_write_through_another_store_object_is_seen(two_stores: tuple[DuckDBSeriesStore, ...]) -> None:
    first, second = two_stores
    readings = hourly_series(hours=48)
    first.write_readings(ELEC, "m1", readings)
    assert first.read_readings(ELEC, "m1").iloc[0] == pytest.approx(readings.iloc[0])  # now cached

    second.write_readings(ELEC, "m1", readings.iloc[:1] * 0 + 99.0)

    assert first.read_readings(ELEC, "m1").iloc[0] == 99.0
    second.delete_readings(ELEC, "m1", readings.index[0], readings.index[24])
    assert len(first.read_readings(ELEC, "m1")) == 24


def test_a_rolled_back_batch_leaves_no_cached_trace(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    readings = hourly_series(hours=24)
    store.write_readings(ELEC, "m1", readings)
    store.write_temperature("site", readings)

    with pytest.raises(RuntimeError), store.batch():
        store.write_readings(ELEC, "m1", readings * 0 + 5.0)
        store.write_temperature("site", readings * 0 - 5.0)
        assert store.read_readings(ELEC, "m1").iloc[0] == 5.0  # the batch sees its own rows
        assert store.read_temperature("site").iloc[0] == -5.0
        raise RuntimeError("import failed half way")

    np.testing.assert_allclose(store.read_readings(ELEC, "m1").to_numpy(), readings.to_numpy())
    np.testing.assert_allclose(store.read_temperature("site").to_numpy(), readings.to_numpy())
    store.close()


def test_changing_a_returned_series_does_not_change_the_store(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    readings = hourly_series(hours=24)
    store.write_readings(ELEC, "m1", readings)

    returned = store.read_readings(ELEC, "m1")
    returned.iloc[:] = -1.0

    assert (store.read_readings(ELEC, "m1") >= 0).all()
    store.close()


def test_ranged_reads_come_from_the_whole_cached_series(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    readings = hourly_series(hours=48)
    store.write_readings(ELEC, "m1", readings)
    store.read_readings(ELEC, "m1")

    part = store.read_readings(ELEC, "m1", readings.index[10], readings.index[20])

    pd.testing.assert_series_equal(part, readings.iloc[10:20], check_names=False, check_freq=False)
    assert store.read_readings(ELEC, "m1", pd.Timestamp("2030-01-01", tz="UTC")).empty
    store.close()


def test_registry_changes_through_another_store_object_are_seen(
    two_stores: tuple[DuckDBSeriesStore, ...],
) -> None:
    first, second = two_stores
    assert first.get_meter("m1") is None and first.get_site("s1") is None  # both registries cached

    second.upsert_meters([Meter("m1", ELEC, site_id="s1")])
    second.upsert_site(Site("s1", 45.0, 7.6, country="IT"))

    assert first.get_meter("m1") == Meter("m1", ELEC, site_id="s1")
    assert [s.site_id for s in first.list_sites()] == ["s1"]


def test_the_data_version_moves_with_every_write_the_answer_depends_on(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    other = DuckDBSeriesStore(tmp_path / "other.duckdb")
    readings = hourly_series(hours=24)
    seen = [store.data_version(ELEC, "m1", "s1")]
    for write in (
        lambda: store.write_readings(ELEC, "m1", readings),
        lambda: store.write_temperature("s1", readings),
        lambda: store.upsert_meters([Meter("m1", ELEC, site_id="s1")]),
        lambda: store.upsert_site(Site("s1", 45.0, 7.6)),
        lambda: store.delete_readings(ELEC, "m1", readings.index[0], readings.index[2]),
    ):
        write()
        seen.append(store.data_version(ELEC, "m1", "s1"))
    store.write_readings(ELEC, "m2", readings)  # another meter
    store.write_temperature("s2", readings)  # another site

    assert len(set(seen)) == len(seen)
    assert store.data_version(ELEC, "m1", "s1") == seen[-1]
    assert other.data_version(ELEC, "m1", "s1") != seen[0]  # same generations, another file
    other.close()
    store.close()


def test_a_files_cache_is_freed_with_its_last_store(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    store.write_readings(ELEC, "m1", hourly_series(hours=24))
    store.read_readings(ELEC, "m1")
    cache = weakref.ref(store._cache)

    store.close()
    del store
    gc.collect()

    assert cache() is None
