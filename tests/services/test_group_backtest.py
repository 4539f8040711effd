"""The group backtest on a small site built here: same origins, summed forecasts, joint quantiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from energy_forecast.api.app import create_app
from energy_forecast.cli import app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.ml.quantiles import DEFAULT_LEVELS
from energy_forecast.services import group_backtest
from energy_forecast.services.group_backtest import backtest_group
from energy_forecast.services.groups import put_group
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
DAYS = 5


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBSeriesStore]:
    """b1, b2: 50 days sharing a day-level swing; b3: its last 8 days only (too new to backtest)."""
    store = DuckDBSeriesStore(tmp_path_factory.mktemp("g") / "s.duckdb")
    store.upsert_meters([Meter(m, ELEC, "s1") for m in ("b1", "b2", "b3")])
    store.write_temperature("s1", hourly_series("2024-01-01", 24 * 50, seed=2, base=10, name="temperature"))
    shared = np.random.default_rng(9).normal(0, 8, 50).repeat(24)
    for k, meter_id in enumerate(("b1", "b2", "b3")):
        base = hourly_series("2024-01-01", 24 * 50, seed=10 + k, base=100 + 20 * k)
        series = make_series(base.index, base.to_numpy() + shared, "consumption")
        store.write_readings(ELEC, meter_id, series if meter_id != "b3" else series.iloc[-24 * 8 :])
    store.write_readings(ELEC, "b2", hourly_series("2024-02-20", 24, seed=3))  # b2 ends later: cut
    put_group(store, "site", ELEC, ["b1", "b2", "b3"])
    yield store
    store.close()


@pytest.fixture(scope="module")
def result(store: DuckDBSeriesStore) -> dict:
    return backtest_group(store, group_id="site", meter_type=ELEC, days=DAYS, size=300)


def test_the_group_is_scored_on_the_same_origins_with_its_members_summed(result: dict) -> None:
    summary = result["summary"]
    assert (summary["members"], summary["fallbacks"]) == (3, 1)
    assert summary["member_models"] == {"ensemble": 2, "fallback": 1}
    assert (
        summary["first_origin"] == "2024-02-15T00:00:00Z" and summary["last_origin"] == "2024-02-19T00:00:00Z"
    )
    assert len(result["records"]) == DAYS * 24
    assert summary["cv_rmse_ratio_to_best_baseline"] is not None
    model = summary["model"]
    for key in ("coverage_p10_percent", "coverage_p90_percent", "crps", "rcrps"):
        assert model[key] is not None
    assert summary["band_coverage_percent"] == model["interval_coverage_percent"] is not None
    assert summary["summed_member_quantiles"]["band_coverage_percent"] is not None
    for record in result["records"]:
        q = record["quantiles"]
        assert set(q) == {"p10", "p50", "p90"} and q["p10"] <= q["p50"] <= q["p90"]


def test_residual_days_come_only_from_before_the_first_origin(store: DuckDBSeriesStore) -> None:
    end = pd.Timestamp("2024-02-20T00:00Z")
    levels = tuple(sorted(set(DEFAULT_LEVELS) | set(group_backtest.SAMPLING_LEVELS)))
    member = group_backtest._member(store, None, "b1", ELEC, end, DAYS, 24, levels)
    days = member.days(28)
    assert member.kind == "ensemble" and days is not None
    first_origin = pd.Timestamp(member.table["origin"].min())
    assert first_origin == pd.Timestamp("2024-02-15T00:00Z")
    assert days[0].max() < first_origin


def test_an_unknown_group_or_type_is_refused(store: DuckDBSeriesStore) -> None:
    with pytest.raises(Exception, match="does not exist"):
        backtest_group(store, group_id="nowhere", meter_type=ELEC)
    with pytest.raises(Exception, match="is electricity, not water"):
        backtest_group(store, group_id="site", meter_type=MeterType.WATER)


def test_post_backtest_takes_a_group_id(
    store: DuckDBSeriesStore, settings_factory: Callable[..., Settings]
) -> None:
    with TestClient(create_app(settings_factory(), store=store, start_tasks=False)) as client:
        answer = client.post("/backtest/", json={"group_id": "site", "meter_type": "electricity", "days": 2})
        both = client.post(
            "/backtest/", json={"group_id": "site", "meter_id": "b1", "meter_type": "electricity"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["model_kind"] == "group" and len(answer.json()["records"]) == 48
    assert both.status_code == 422 and "exactly one" in both.text


def test_the_cli_asks_for_a_meter_or_a_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    wrong = CliRunner().invoke(app, ["backtest", "--meter-type", "electricity"])
    assert wrong.exit_code == 2 and "exactly one of --meter-id and --group" in wrong.output
