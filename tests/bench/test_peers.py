"""The peer benchmark's own arithmetic: quantile scores as OpenSTEF defines them, the groups, the average."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


peers = _load("peers")
peer_models = _load("peer_models")


def test_pinball_is_asymmetric_by_level() -> None:
    actual = np.array([10.0, 10.0])
    # Under-forecast by 2 costs level * 2; over-forecast by 2 costs (1 - level) * 2.
    assert peers.pinball(actual, np.array([8.0, 8.0]), 0.9) == pytest.approx(1.8)
    assert peers.pinball(actual, np.array([12.0, 12.0]), 0.9) == pytest.approx(0.2)


def test_interval_weights_are_the_shares_each_quantile_stands_for() -> None:
    assert peers.interval_weights((0.1, 0.5, 0.9)) == pytest.approx([0.3, 0.4, 0.3])
    assert peers.interval_weights((0.05, 0.1, 0.5, 0.9, 0.95)) == pytest.approx(
        [0.075, 0.225, 0.4, 0.225, 0.075]
    )


def test_crps_of_a_point_forecast_is_the_absolute_error() -> None:
    actual = np.array([3.0, 7.0, 5.0])
    point = np.array([4.0, 5.0, 5.0])
    quantiles = np.column_stack([point, point, point])
    assert peers.crps(actual, quantiles) == pytest.approx(np.mean(np.abs(actual - point)))


def test_crps_rewards_a_sharp_band_around_the_truth() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(100.0, 10.0, 5000)
    z = 1.2815515655446004
    honest = np.column_stack(
        [np.full(actual.size, 100 - z * 10), np.full(actual.size, 100.0), np.full(actual.size, 100 + z * 10)]
    )
    too_wide = np.column_stack(
        [np.full(actual.size, 60.0), np.full(actual.size, 100.0), np.full(actual.size, 140.0)]
    )
    assert peers.crps(actual, honest) < peers.crps(actual, too_wide)
    metrics = peers.quantile_metrics(actual, honest)
    assert metrics["coverage"] == pytest.approx(80.0, abs=2.0)
    spread = np.quantile(actual, 0.99) - np.quantile(actual, 0.01)
    assert metrics["rcrps"] == pytest.approx(metrics["crps"] / spread)


def test_quantile_metrics_skip_missing_hours_and_flat_loads() -> None:
    actual = np.array([5.0, np.nan, 5.0])
    quantiles = np.array([[4.0, 5.0, 6.0], [4.0, 5.0, 6.0], [np.nan, 5.0, 6.0]])
    metrics = peers.quantile_metrics(actual, quantiles)
    assert metrics["coverage"] == 100.0
    assert metrics["crps"] == pytest.approx(2 * (0.3 * 0.1 + 0.4 * 0 + 0.3 * 0.1))
    assert metrics["rcrps"] is None  # one flat hour: P99 - P1 is zero
    assert peers.quantile_metrics(np.array([np.nan]), quantiles[:1])["crps"] is None


def test_groups_split_electricity_by_kind_of_meter() -> None:
    assert peers.group_of("ucam_b12_elec", "electricity") == "electricity: university buildings"
    assert peers.group_of("tetouan_zone2", "electricity") == "electricity: feeders"
    assert peers.group_of("polito_bldg01", "electricity") == "electricity: other building"
    assert peers.group_of("bwdf_dma03", "water") == "water"


def test_filled_interpolates_inputs_on_the_hourly_grid() -> None:
    index = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 03:00"], utc=True)
    series = pd.Series([1.0, 4.0], index=index)
    out = peer_models.filled(series, index[0] - pd.Timedelta(hours=1), index[1])
    assert out.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]


def _table(value: float) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=24, freq="h", tz="UTC")
    frame = peer_models.frame(np.full(24, value), np.full(24, value - 1), np.full(24, value + 1), stamps[0])
    frame = frame.reset_index()
    frame["actual"] = 10.0
    for name in ("naive_1d", "naive_7d", "mean_7d"):
        frame[name] = 12.0
    return frame


def test_the_peers_average_is_the_plain_mean_of_forecasts_and_quantiles() -> None:
    runs = [peers.Run(table=_table(v), seconds=1.0, fit_seconds=0.5) for v in (9.0, 10.0, 14.0)]
    average = peers.average_run(runs)
    assert average.table["forecast"].tolist() == [11.0] * 24
    assert average.table["p10"].tolist() == [10.0] * 24
    assert average.fit_seconds == 1.5
    metrics = peers.score(average.table)
    assert metrics["ratio"] == pytest.approx(0.5)  # CV(RMSE) 10 % against the baselines' 20 %
    assert metrics["coverage"] == 100.0  # the actual 10 lies in the averaged band [10, 12]


def test_summary_counts_a_failure_as_not_beating_the_baseline() -> None:
    rows = [
        {"meter": "a", "group": "water", "tool": "ours", "ratio": 0.8, "coverage": 80.0},
        {"meter": "b", "group": "water", "tool": "ours", "error": "refused"},
    ]
    (water, everything) = peers.summary_rows(rows, ["ours"])
    assert water["beating"] == 50.0 and water["failed"] == 1 and water["ratio"] == 0.8
    assert everything["group"] == "all meters"


def test_a_saved_run_prints_the_same_table(tmp_path, capsys) -> None:
    rows = [
        {"meter": "a", "type": "water", "group": "water", "tool": "ours", "ratio": 0.75, "coverage": 81.0},
        {"meter": "a", "type": "water", "group": "water", "tool": "openstef", "error": "ValueError: no"},
    ]
    path = tmp_path / "peers.csv"
    with path.open("w", newline="") as handle:
        writer = peers.csv.DictWriter(handle, fieldnames=peers.CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert peers.read_rows(path) == rows
    assert peers.main(["--table-from", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "0.750" in printed and "(1 failed)" in printed


def test_an_unknown_peer_is_refused_with_the_choices() -> None:
    with pytest.raises(SystemExit):
        peers.main(["--peers", "prophet"])


def test_reuse_runs_ours_only_and_joins_the_saved_peer_rows(tmp_path, monkeypatch, capsys) -> None:
    stamps = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    (tmp_path / "meters.csv").write_text(
        "meter_id,meter_type,site_id\nbwdf_dma01,water,bwdf_it\nbwdf_dma02,water,bwdf_it\n"
    )
    readings = pd.DataFrame(
        {
            "meter_id": ["bwdf_dma01"] * 48 + ["bwdf_dma02"] * 48,
            "timestamp": list(stamps) * 2,
            "consumption": 1.0,
        }
    )
    readings.to_csv(tmp_path / "water.csv", index=False)
    readings.iloc[:0].to_csv(tmp_path / "electricity.csv", index=False)
    pd.DataFrame({"site_id": "bwdf_it", "timestamp": stamps, "temperature_c": 10.0}).to_csv(
        tmp_path / "temperature.csv", index=False
    )
    saved = tmp_path / "peers-all.csv"
    old = [
        {"meter": m, "type": "water", "group": "water", "tool": tool, "ratio": ratio}
        for m in ("bwdf_dma01", "bwdf_dma02")
        for tool, ratio in (("ours", 0.9), ("openstef", 0.85), ("peers_avg", 0.8))
    ]
    with saved.open("w", newline="") as handle:
        writer = peers.csv.DictWriter(handle, fieldnames=peers.CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(old)
    ran: list[tuple[str, tuple[str, ...]]] = []

    def fake_run_meter(meter, series, temperature, days, chosen_peers, models, members):
        ran.append((meter.meter_id, chosen_peers))
        run = peers.Run(table=_table(10.0), seconds=1.0, note="ensemble")
        run.metrics = {"ratio": 0.7}
        return {"ours": run}

    monkeypatch.setattr(peers, "run_meter", fake_run_meter)
    out = tmp_path / "new.csv"
    argv = ["--data-dir", str(tmp_path), "--meters", "bwdf_dma01", "--reuse", str(saved), "--out", str(out)]
    assert peers.main(argv) == 0
    assert ran == [("bwdf_dma01", ())]  # no peer ran
    rows = peers.read_rows(out)
    assert [(r["meter"], r["tool"], r["ratio"]) for r in rows] == [
        ("bwdf_dma01", "ours", 0.7),
        ("bwdf_dma01", "openstef", 0.85),
        ("bwdf_dma01", "peers_avg", 0.8),
    ]
    assert "peers_avg" in capsys.readouterr().out


def test_reuse_of_a_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(SystemExit):
        peers.main(["--reuse", str(tmp_path / "none.csv")])
