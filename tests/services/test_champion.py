"""Champion/challenger: a retrained model replaces the active one only if it is not clearly worse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.params import ModelParams
from energy_forecast.services.champion import not_worse, version_status
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

E = MeterType.ELECTRICITY
# One shallow tree at a 0.1 learning rate barely leaves the starting level: worse by construction.
WEAK = ModelParams(n_estimators=1, max_depth=1, n_jobs=1)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[DuckDBSeriesStore, FileModelStore]:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    store.upsert_meters([Meter("m1", E, "s1")])
    store.write_readings(E, "m1", hourly_series("2024-01-01", hours=24 * 80, seed=11))
    return store, FileModelStore(tmp_path / "models")


CHAMPION_END = pd.Timestamp("2024-03-01", tz="UTC")  # day 60 of 80: the challenger's hold-out is after it


def test_a_deliberately_weak_challenger_is_rejected_and_the_champion_keeps_serving(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    train_meter(store, models, meter_id="m1", meter_type=E, end=CHAMPION_END, fit_threads=1)

    details = train_meter(store, models, meter_id="m1", meter_type=E, params=WEAK)

    acceptance = details["acceptance"]
    assert details["status"] == "rejected" and details["model_version"] == 2
    assert acceptance["basis"] == "same_hours" and acceptance["compared_hours"] >= 24 * 7
    assert acceptance["challenger_cv_rmse_percent"] > 1.05 * acceptance["champion_cv_rmse_percent"]
    assert "worse than the active model by more than 5%" in acceptance["reason"]
    versions = models.list_versions(E, "m1")
    assert [v.active for v in versions] == [True, False]
    assert version_status(versions[1].active, versions[1].metadata) == ("rejected", acceptance["reason"])
    served = forecast_meter(
        store, models, meter_id="m1", meter_type=E,
        start=pd.Timestamp("2024-03-21", tz="UTC"), end=pd.Timestamp("2024-03-21T05:00", tz="UTC"),
    )  # fmt: skip
    assert served.model_version == 1 and not served.substituted


def test_force_makes_a_weak_challenger_active_and_says_so(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    train_meter(store, models, meter_id="m1", meter_type=E, end=CHAMPION_END, fit_threads=1)

    details = train_meter(store, models, meter_id="m1", meter_type=E, params=WEAK, force=True)

    assert details["status"] == "active" and details["acceptance"]["basis"] == "forced"
    assert models.get_version(E, "m1").version == 2


def test_a_challenger_trained_on_new_readings_wins_on_the_hours_the_champion_never_saw(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    train_meter(store, models, meter_id="m1", meter_type=E, end=CHAMPION_END, fit_threads=1)

    details = train_meter(store, models, meter_id="m1", meter_type=E, fit_threads=1)

    assert details["status"] == "active", details["acceptance"]
    assert details["acceptance"]["basis"] == "same_hours"
    assert models.get_version(E, "m1").version == 2


def test_retraining_on_unchanged_readings_compares_the_recorded_holdout_figures(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    first = train_meter(store, models, meter_id="m1", meter_type=E, fit_threads=1)

    second = train_meter(store, models, meter_id="m1", meter_type=E, fit_threads=1)

    assert first["acceptance"]["basis"] == "first_model" and first["status"] == "active"
    assert second["acceptance"]["basis"] == "recorded_holdout"
    assert second["status"] == "active"  # same readings, same figure: not worse
    assert second["acceptance"]["champion_version"] == 1


@pytest.mark.parametrize(
    ("challenger", "champion", "accepted"),
    [
        pytest.param(10.0, 10.0, True, id="equal"),
        pytest.param(10.5, 10.0, True, id="at-the-margin"),
        pytest.param(10.6, 10.0, False, id="past-the-margin"),
        pytest.param(8.0, 10.0, True, id="better"),
        pytest.param(None, 10.0, True, id="challenger-unknown"),
        pytest.param(12.0, None, True, id="champion-unknown"),
    ],
)
def test_not_worse_allows_the_margin_and_no_more(
    challenger: float | None, champion: float | None, accepted: bool
) -> None:
    assert not_worse(challenger, champion, 0.05) is accepted


@pytest.mark.parametrize(
    ("active", "metadata", "status"),
    [
        pytest.param(True, {"acceptance": {"accepted": False, "reason": "r"}}, "active", id="rolled-back-to"),
        pytest.param(False, {"acceptance": {"accepted": False, "reason": "r"}}, "rejected", id="rejected"),
        pytest.param(False, {"acceptance": {"accepted": True, "reason": "r"}}, "previous", id="previous"),
        pytest.param(False, {}, "previous", id="bundle-before-acceptance"),
    ],
)
def test_version_status(active: bool, metadata: dict[str, object], status: str) -> None:
    assert version_status(active, metadata)[0] == status
