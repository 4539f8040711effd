"""forecast_meter() and the climatology on a real DuckDB store and file model store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.climatology import climatology_at, climatology_table
from energy_forecast.services.forecast_cache import ModelCache, answer_version
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.training import train_meter
from energy_forecast.services.weather import ProviderTemperature
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.weather.fallback import FallbackChain
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
LAST = pd.Timestamp("2024-02-29T23:00:00Z")


def seed_meter(
    store: DuckDBSeriesStore, meter_id: str = "b1", days: int = 60, extra_temp_hours: int = 0
) -> None:
    """A registered electricity meter with ``days`` of readings ending at ``LAST`` and site temperature."""
    store.upsert_meters([Meter(meter_id, ELEC, "s1")])
    store.write_readings(ELEC, meter_id, hourly_series("2024-01-01", 24 * days, seed=1))
    temperature = hourly_series(
        "2024-01-01", 24 * days + extra_temp_hours, seed=2, base=10, name="temperature"
    )
    store.write_temperature("s1", temperature)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    yield store, FileModelStore(tmp_path / "models")
    store.close()


def seeded_and_trained(folder: Path) -> None:
    """``s.duckdb`` with b1 (and a day of temperature past its readings), b1's model in ``models``."""
    store = DuckDBSeriesStore(folder / "s.duckdb")
    try:
        seed_meter(store, extra_temp_hours=24)
        train_meter(store, FileModelStore(folder / "models"), meter_id="b1", meter_type=ELEC)
    finally:
        store.close()


def b1_trained_beside_raw(folder: Path) -> None:
    """``s.duckdb`` with b1 and an untrained "raw", b1's model in ``home/models`` (the API tests' home)."""
    store = DuckDBSeriesStore(folder / "s.duckdb")
    try:
        seed_meter(store, "b1")
        seed_meter(store, "raw")
        train_meter(store, FileModelStore(folder / "home" / "models"), meter_id="b1", meter_type=ELEC)
    finally:
        store.close()


@pytest.fixture
def trained(
    tmp_path: Path, prebuilt: Callable[..., Path]
) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    prebuilt(seeded_and_trained, tmp_path)
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    yield store, FileModelStore(tmp_path / "models")
    store.close()


def test_a_seven_day_future_window_gives_168_forecast_hours_with_bounds_and_temperature(
    trained: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = trained

    result = forecast_meter(
        store,
        models,
        meter_id="b1",
        meter_type=ELEC,
        start=LAST + pd.Timedelta(hours=1),
        end=LAST + pd.Timedelta(days=7),
    )

    future = [p for p in result.points if p.kind == "forecast"]
    assert len(future) == 168 and len(result.points) == 168
    assert all(p.lower is not None and p.upper is not None and p.lower <= p.value <= p.upper for p in future)
    assert all(p.temperature is not None for p in future)
    assert result.model_version == 1 and not result.substituted
    assert future[0].label == "2024-03-01T00:00:00Z"


def test_future_temperature_is_observed_where_stored_and_climatology_after(
    trained: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = trained

    result = forecast_meter(
        store, models, meter_id="b1", meter_type=ELEC, start=LAST, end=LAST + pd.Timedelta(days=2)
    )

    sources = [p.temperature_source for p in result.points if p.kind == "forecast"]
    assert sources == ["observed"] * 24 + ["climatology"] * 24
    assert result.temperature_source == "mixed"
    assert result.points[0].kind == "historical" and result.points[0].temperature is None


def test_daily_frequency_sums_the_hourly_values_per_local_day(
    trained: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = trained
    window = {"start": pd.Timestamp("2024-02-28T00:00Z"), "end": pd.Timestamp("2024-03-02T23:00Z")}

    hourly = forecast_meter(store, models, meter_id="b1", meter_type=ELEC, **window)
    daily = forecast_meter(store, models, meter_id="b1", meter_type=ELEC, frequency="daily", **window)

    assert [(p.label, p.kind, p.hours) for p in daily.points] == [
        ("2024-02-28", "historical", 24),
        ("2024-02-29", "historical", 24),
        ("2024-03-01", "forecast", 24),
        ("2024-03-02", "forecast", 24),
    ]
    assert daily.points[2].value == pytest.approx(sum(p.value for p in hourly.points[48:72]))
    assert any("sums of hourly consumption" in note for note in daily.notes)


def test_a_meter_without_a_model_gets_the_flagged_same_hour_mean(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    seed_meter(store)
    readings = store.read_readings(ELEC, "b1")

    result = forecast_meter(
        store, models, meter_id="b1", meter_type=ELEC, start=LAST, end=LAST + pd.Timedelta(days=1)
    )

    assert result.substituted and result.model_version is None
    assert "POST /trainmodel/" in (result.substitution_reason or "")
    recent = readings[readings.index > LAST - pd.Timedelta(days=14)]
    expected_midnight = recent[recent.index.hour == 0].mean()
    assert result.points[1].value == pytest.approx(expected_midnight)


def test_a_stuck_meter_is_substituted_with_the_quality_reason(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    store.upsert_meters([Meter("stuck", ELEC, "s1")])
    index = pd.date_range("2024-01-01", periods=24 * 20, freq="h", tz="UTC")
    store.write_readings(ELEC, "stuck", make_series(index, np.full(len(index), 5.0), "consumption"))

    result = forecast_meter(
        store,
        models,
        meter_id="stuck",
        meter_type=ELEC,
        start=index[-1],
        end=index[-1] + pd.Timedelta(hours=6),
    )

    assert result.substituted and "repeated" in (result.substitution_reason or "")
    assert [p.value for p in result.points if p.kind == "forecast"] == [5.0] * 6


def test_no_model_and_no_history_is_not_found(stores: tuple[DuckDBSeriesStore, FileModelStore]) -> None:
    store, models = stores

    with pytest.raises(NotFoundError, match="no readings and no trained model"):
        forecast_meter(store, models, meter_id="ghost", meter_type=ELEC, start=LAST, end=LAST)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        pytest.param("2024-03-05", "2024-03-01", "before start_date", id="inverted"),
        pytest.param("2023-01-01", "2024-03-01", "too long", id="span-over-366-days"),
        pytest.param("2024-03-01", "2024-04-15", "at most 31 days ahead", id="horizon-over-31-days"),
    ],
)
def test_bad_windows_say_what_to_fix(
    trained: tuple[DuckDBSeriesStore, FileModelStore], start: str, end: str, message: str
) -> None:
    store, models = trained

    with pytest.raises(InputDataError, match=message):
        forecast_meter(
            store, models, meter_id="b1", meter_type=ELEC, start=pd.Timestamp(start), end=pd.Timestamp(end)
        )


def test_the_cache_parses_a_version_once_and_follows_a_rollback(
    trained: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = trained
    train_meter(store, models, meter_id="b1", meter_type=ELEC)
    cache = ModelCache()

    first = cache.get(models, ELEC, "b1")
    again = cache.get(models, ELEC, "b1")
    models.activate(ELEC, "b1", 1)
    rolled_back = cache.get(models, ELEC, "b1")

    assert first is not None and again is not None and rolled_back is not None
    assert first[0].version == 2 and again[1] is first[1]
    assert rolled_back[0].version == 1 and rolled_back[1] is not first[1]


def test_climatology_is_the_mean_by_day_of_year_and_hour_over_the_stored_years() -> None:
    index = pd.date_range("2021-01-01", "2023-12-31 23:00", freq="h", tz="UTC")
    year_offset = np.select([index.year == 2021, index.year == 2022], [-1.0, 1.0], 0.0)
    temperature = make_series(index, index.hour.to_numpy() + year_offset, "temperature")

    table = climatology_table(temperature)

    wanted = pd.DatetimeIndex(["2025-06-01T00:00Z", "2025-06-01T13:00Z", "2025-12-31T23:00Z"])
    assert climatology_at(table, wanted) == pytest.approx([0.0, 13.0, 23.0])


def test_climatology_smoothing_wraps_around_new_year() -> None:
    index = pd.date_range("2023-12-27", "2024-01-04 23:00", freq="h", tz="UTC")
    warm_december = np.where(index.month == 12, 10.0, 0.0)
    table = climatology_table(make_series(index, warm_december, "temperature"))

    value = climatology_at(table, pd.DatetimeIndex(["2025-01-01T12:00Z"]))[0]

    assert 0.0 < value < 10.0


class NeverCalled:
    """A configured provider; the token must be decided without asking it anything."""

    name = "never-called"

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        raise AssertionError("answer_version must not call a provider")


def test_the_answer_token_follows_data_and_model_and_is_withheld_when_a_provider_applies(
    trained: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = trained
    offline = ProviderTemperature(store, FallbackChain([]))
    online = ProviderTemperature(store, FallbackChain([NeverCalled()]))

    first = answer_version(store, models, ELEC, "b1", offline)
    unregistered_site = answer_version(store, models, ELEC, "b1", online)
    store.upsert_site(Site("s1", 45.07, 7.69))
    registered_site = answer_version(store, models, ELEC, "b1", online)
    after_site = answer_version(store, models, ELEC, "b1", offline)
    train_meter(store, models, meter_id="b1", meter_type=ELEC)
    retrained = answer_version(store, models, ELEC, "b1", offline)

    assert first is not None and unregistered_site == first  # no site: the provider cannot answer
    assert registered_site is None  # provider values move without new data: never cached
    assert after_site not in (None, first) and retrained not in (None, after_site)
    assert answer_version(store, models, ELEC, "ghost", offline) is None
