"""``genebot optimize strategy`` and the batch path under it (``genebot.backtest.run_many``), on
the bundled BTC/USDT 1h bars (a slice, so each test stays fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from genebot.backtest import run, run_many
from genebot.backtest.batch import BatchRunner
from genebot.cli.main import app
from genebot.config.loader import load_config
from genebot.optimize.ranges import Range
from genebot.optimize.study import Objective, StudySpec, grid_space, make_sampler
from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]
BARS = ROOT / "data/sample/crypto/binance_BTC-USDT_1h.csv"
START, END = "2021-01-01", "2021-03-01"  # ~1,400 bars


def _config(short: int = 10, long: int = 30, **backtest: Any) -> dict[str, Any]:
    return {
        "risk_management": {"enabled": False},
        "backtest": {
            "initial_cash": 100_000,
            "start_date": START,
            "end_date": END,
            "data": [{"file": str(BARS), "symbol": "BTC/USDT", "timeframe": "1h"}],
            **backtest,
        },
        "strategies": {
            "moving_average": {
                "type": "moving_average",
                "symbols": ["BTC/USDT"],
                "timeframes": ["1h"],
                "parameters": {"short_period": short, "long_period": long},
            }
        },
    }


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "optimize.yaml"
    path.write_text(yaml.safe_dump(_config()), encoding="utf-8")
    return path


def _same(a: Any, b: Any) -> None:
    assert a.stats == b.stats
    assert a.final_equity_exact == b.final_equity_exact
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    assert [(o.client_order_id, o.status, o.filled_qty, o.avg_px) for o in a.order_log] == [
        (o.client_order_id, o.status, o.filled_qty, o.avg_px) for o in b.order_log
    ]


def test_run_many_equals_single_runs_exactly_with_and_without_cache() -> None:
    configs = [_config(s, lo) for s, lo in ((5, 20), (10, 30), (5, 30), (10, 20))]
    configs.append(_config(5, 20, start_date="2021-02-01"))  # another fold of the same data
    singles = [run(c) for c in configs]
    cached = run_many(configs)
    plain = run_many(configs, cache_indicators=False)
    for single, a, b in zip(singles, cached, plain, strict=True):
        _same(single, a)
        _same(single, b)
    assert len({r.stats["final_equity"] for r in singles}) == len(singles)  # distinct runs
    for mode in ("per_bar", "fast"):  # what a study scores: the same stats, both loops
        with BatchRunner(engine_mode=mode) as runner:
            for cfg, single in zip(configs, singles, strict=True):
                stats = runner.stats(cfg)
                assert stats == run(cfg, engine_mode=mode).stats
                assert {k: v for k, v in stats.items() if k != "engine_mode"} == {
                    k: v for k, v in single.stats.items() if k != "engine_mode"
                }


def test_batch_runner_loads_data_once_and_reuses_indicator_series() -> None:
    with BatchRunner() as runner:
        for short, long in ((5, 20), (5, 30), (10, 30)):
            runner.run(_config(short, long))
        assert len(runner.loaded_sets) == 1  # one file read for three runs
        assert runner.cache is not None
        # SMA(5), SMA(20), SMA(30), SMA(10) computed once each; SMA(5) and SMA(30) reused
        assert (runner.cache.hits, runner.cache.misses) == (2, 4)
        import talib

        assert getattr(talib.SMA, "genebot_cached", False)
    assert not getattr(talib.SMA, "genebot_cached", False)  # TA-Lib restored after the batch


def test_run_many_with_in_memory_data_matches_run() -> None:
    frame = pd.read_csv(BARS, parse_dates=["timestamp"], index_col="timestamp")
    cfg = _config(8, 40)
    cfg["backtest"].pop("data")
    data = {"BTC/USDT": frame}
    single, batched = run(cfg, data), run_many([cfg], data)[0]
    _same(single, batched)
    assert batched.stats["trades"] == single.stats["trades"] > 0


def _optimize(*args: str) -> Any:
    return CliRunner().invoke(app, ["optimize", "strategy", "moving_average", *args])


def test_optimize_writes_results_report_and_reproduces_best_with_same_seed(
    config_file: Path, tmp_path: Path
) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        res = _optimize(
            "--config", str(config_file), "--trials", "12", "--seed", "7", "--output-dir", str(out)
        )
        assert res.exit_code == 0, res.output
        assert "best trials by sharpe" in res.output
    first, second = (json.loads((o / "optimization.json").read_text()) for o in outs)
    assert first["best_params"] == second["best_params"]
    assert first["sampler"] == "TPESampler"
    assert len(first["trials"]) == 12
    best = first["best_trials"][0]
    assert best["values"]["sharpe"] == max(
        t["values"]["sharpe"] for t in first["trials"] if t["state"] == "COMPLETE"
    )
    page = (outs[0] / "optimization_report.html").read_text()
    for title in ("Optimization history", "Parameter importances", "Parallel coordinates", "Slice"):
        assert f"<h2>{title}</h2>" in page
    assert "<script src=" not in page  # plotly.js is inline: the report needs no network
    # The best trial's score is a plain backtest's with those parameters.
    params = first["best_params"]
    single = run(_config(params["short_period"], params["long_period"]))
    assert single.stats["sharpe"] == best["values"]["sharpe"]


def test_infeasible_parameters_are_pruned_and_marked(config_file: Path, tmp_path: Path) -> None:
    ranges = tmp_path / "r.yaml"
    ranges.write_text("short_period: [20, 40]\nlong_period: [10, 30]\n", encoding="utf-8")
    res = _optimize(
        "--config",
        str(config_file),
        "--parameter-ranges",
        str(ranges),
        "--trials",
        "8",
        "--seed",
        "1",
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "optimization.json").read_text())
    for t in data["trials"]:
        p = t["params"]
        if p["short_period"] >= p["long_period"]:
            assert t["state"] == "PRUNED"
            assert "must be below long_period" in t["infeasible"]
        else:
            assert t["state"] == "COMPLETE"
    assert data["best_params"] == {"short_period": 20, "long_period": 30}


def test_several_metrics_use_nsga2_and_give_a_pareto_front(
    config_file: Path, tmp_path: Path
) -> None:
    res = _optimize(
        "--config",
        str(config_file),
        "--metric",
        "sharpe,max_drawdown",
        "--trials",
        "10",
        "--seed",
        "3",
        "--output-dir",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "optimization.json").read_text())
    assert data["sampler"] == "NSGAIISampler"
    front = data["pareto_front"]
    assert front
    done = [t for t in data["trials"] if t["state"] == "COMPLETE"]
    for f in front:  # nothing completed dominates a front member
        fv = f["values"]
        assert not any(
            t["values"]["sharpe"] > fv["sharpe"]
            and t["values"]["max_drawdown"] > fv["max_drawdown"]
            for t in done
        )
    assert "<h2>Pareto front</h2>" in (tmp_path / "optimization_report.html").read_text()


def test_walk_forward_scores_each_fold_and_prunes(config_file: Path, tmp_path: Path) -> None:
    res = _optimize(
        "--config",
        str(config_file),
        "--walk-forward",
        "3",
        "--trials",
        "14",
        "--seed",
        "5",
        "--output-dir",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "optimization.json").read_text())
    done = [t for t in data["trials"] if t["state"] == "COMPLETE"]
    assert done
    for t in done:
        folds = [f[0] for f in t["folds"]]
        assert len(folds) == 3
        assert t["values"]["sharpe"] == pytest.approx(sum(folds) / 3)
    pruned = [t for t in data["trials"] if t["state"] == "PRUNED" and not t["infeasible"]]
    assert data["counts"].get("pruned", 0) == len(pruned) + sum(
        1 for t in data["trials"] if t["infeasible"]
    )


def test_bad_ranges_file_is_one_line_without_traceback(config_file: Path, tmp_path: Path) -> None:
    ranges = tmp_path / "bad.yaml"
    ranges.write_text("long_period: {low: 50, high: 20}\n", encoding="utf-8")
    proc = run_cli(
        "optimize",
        "strategy",
        "moving_average",
        "--config",
        str(config_file),
        "--parameter-ranges",
        str(ranges),
        "--trials",
        "2",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {ranges}: long_period: low=50 is above high=20"
    assert "Traceback" not in proc.stderr


def test_unknown_metric_and_study_without_storage_are_refused(config_file: Path) -> None:
    res = _optimize("--config", str(config_file), "--metric", "sharp")
    assert res.exit_code == 2
    res = _optimize("--config", str(config_file), "--study", "s")
    assert res.exit_code == 2


def _pg_url(pg_databases: Any, name: str) -> str:
    """A private, fresh database (skipped, or failed in CI, without PostgreSQL)."""
    return str(pg_databases.url(name))


def test_two_processes_share_one_postgresql_study(
    config_file: Path, tmp_path: Path, pg_databases: Any
) -> None:
    url = _pg_url(pg_databases, "optuna_two")
    study = f"two-workers-{tmp_path.name}"
    cmd = [
        sys.executable,
        "-m",
        "genebot.cli.main",
        "optimize",
        "strategy",
        "moving_average",
        "--config",
        str(config_file),
        "--trials",
        "6",
        "--storage",
        url,
        "--study",
        study,
    ]
    procs = [
        subprocess.Popen(
            [*cmd, "--seed", str(i), "--output-dir", str(tmp_path / f"w{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
    shared = optuna.load_study(
        study_name=study, storage=url.replace("postgresql://", "postgresql+psycopg://")
    )
    assert len(shared.trials) == 12
    assert len({t.number for t in shared.trials}) == 12


def test_jobs_run_worker_processes_on_the_storage(
    config_file: Path, tmp_path: Path, pg_databases: Any
) -> None:
    url = _pg_url(pg_databases, "optuna_jobs")
    study = f"jobs-{tmp_path.name}"
    res = _optimize(
        "--config",
        str(config_file),
        "--trials",
        "6",
        "--jobs",
        "2",
        "--seed",
        "1",
        "--storage",
        url,
        "--study",
        study,
        "--output-dir",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "optimization.json").read_text())
    assert len(data["trials"]) == 6
    assert data["storage"] == url


ORCH_WEEK = ("--start-date", "2021-05-01", "--end-date", "2021-05-08")


def _orchestrate(tmp_path: Path, ranges: str, *args: str) -> Any:
    path = tmp_path / "orch_ranges.yaml"
    path.write_text(ranges, encoding="utf-8")
    cmd = ["optimize", "orchestration", "--config", str(ROOT / "config/orchestrator.yaml")]
    return CliRunner().invoke(app, [*cmd, "--parameter-ranges", str(path), *args])


def test_orchestration_search_scores_equal_plain_backtests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genebot.optimize.orchestration import with_values

    monkeypatch.chdir(ROOT)  # the config's data_dir is relative to the project
    ranges = "allocation.method: [equal_weight, risk_parity]\nallocation.lookback_days: [7, 14]\n"
    res = _orchestrate(
        tmp_path,
        ranges,
        "--trials",
        "3",
        "--seed",
        "2",
        *ORCH_WEEK,
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "optimization.json").read_text())
    assert data["strategy"] == "orchestration"
    assert data["counts"] == {"complete": 3}
    best = data["best_trials"][0]
    assert set(best["params"]) == {
        "orchestrator.allocation.method",
        "orchestrator.allocation.lookback_days",
    }
    raw = yaml.safe_load((ROOT / "config/orchestrator.yaml").read_text())
    raw["backtest"].update({"start_date": "2021-05-01", "end_date": "2021-05-08"})
    assert run(with_values(raw, best["params"])).stats["sharpe"] == best["values"]["sharpe"]


def test_orchestration_settings_the_config_refuses_are_infeasible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    ranges = "allocation.min_allocation: [0.3, 0.6]\nallocation.max_allocation: [0.4]\n"
    res = _orchestrate(
        tmp_path,
        ranges,
        "--trials",
        "6",
        "--seed",
        "0",
        *ORCH_WEEK,
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "o" / "optimization.json").read_text())
    for t in data["trials"]:
        if t["params"]["orchestrator.allocation.min_allocation"] == 0.6:
            assert t["state"] == "PRUNED"
            assert "is above max_allocation 0.4" in t["infeasible"]
        else:
            assert t["state"] == "COMPLETE"


def test_orchestration_unknown_setting_is_refused_up_front(tmp_path: Path) -> None:
    res = _orchestrate(tmp_path, "allocation.nope: [1, 2]\n", "--trials", "2")
    assert res.exit_code == 2
    assert "allocation.nope" in res.output
    assert "unknown key 'nope'" in res.output


def test_holdout_keeps_the_last_bars_out_of_the_search_and_scores_them_after(
    config_file: Path, tmp_path: Path
) -> None:
    res = _optimize(
        "--config",
        str(config_file),
        "--trials",
        "6",
        "--seed",
        "4",
        "--holdout",
        "0.25",
        "--output-dir",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    assert "never seen by the search" in res.output
    data = json.loads((tmp_path / "optimization.json").read_text())
    held = data["out_of_sample"]
    assert held and len(held) == len(data["best_trials"])
    split, end = held[0]["window"]
    assert end == END
    assert pd.Timestamp(START, tz="UTC") < pd.Timestamp(split) < pd.Timestamp(END, tz="UTC")
    for row in held:
        p = row["params"]
        searched = run(_config(p["short_period"], p["long_period"], end_date=split))
        assert searched.stats["sharpe"] == row["in_sample"]["sharpe"]  # searched before split
        after = run(_config(p["short_period"], p["long_period"], start_date=split))
        assert after.stats["sharpe"] == row["out_of_sample"]["sharpe"]
    assert (
        "<h2>Out of sample (held-out bars)</h2>"
        in (tmp_path / "optimization_report.html").read_text()
    )


def test_jobs_without_storage_share_a_sqlite_study_in_the_output_dir(
    config_file: Path, tmp_path: Path
) -> None:
    res = _optimize(
        "--config",
        str(config_file),
        "--trials",
        "6",
        "--jobs",
        "2",
        "--seed",
        "1",
        "--output-dir",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "optimization.json").read_text())
    assert len(data["trials"]) == 6
    assert data["storage"] == f"sqlite:///{(tmp_path / 'optuna.db').resolve()}"


# -- --sampler, and a parameter set drawn twice ----------------------------------------------
@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "optimize.yaml"
    config.write_text(yaml.safe_dump(_config()), encoding="utf-8")
    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(
        "short_period: [5, 10, 15]\nlong_period: {low: 20, high: 30, step: 10}\n", encoding="utf-8"
    )
    return config, ranges


def test_grid_tries_every_point_once_and_each_score_is_a_plain_backtests(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    config, ranges = files
    out = tmp_path / "grid"
    res = _optimize("-c", str(config), "--parameter-ranges", str(ranges), "--sampler", "grid",
                    "--trials", "50", "--seed", "3", "--output-dir", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "6 trials in" in res.output  # the grid's six points, not the 50 asked for
    data = json.loads((out / "optimization.json").read_text())
    assert data["sampler"] == "GridSampler"
    points = sorted(
        (t["params"]["short_period"], t["params"]["long_period"]) for t in data["trials"]
    )
    assert points == [(s, lo) for s in (5, 10, 15) for lo in (20, 30)]
    for t in data["trials"]:
        single = run(_config(t["params"]["short_period"], t["params"]["long_period"]))
        assert t["values"]["sharpe"] == single.stats["sharpe"]


def test_grid_needs_a_step_on_every_range_and_a_bad_sampler_is_named(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    config, _ = files
    continuous = tmp_path / "c.yaml"
    continuous.write_text("short_period: [5, 10]\nlong_period: {low: 20.0, high: 30.5}\n")
    res = _optimize("-c", str(config), "--parameter-ranges", str(continuous), "--sampler", "grid")
    assert res.exit_code == 2
    res = _optimize("-c", str(config), "--sampler", "anneal")
    assert res.exit_code == 2
    assert "--sampler anneal: unknown; allowed: auto, tpe, random, grid, qmc, nsga2" in res.output
    res = _optimize("-c", str(config), "--sampler", "tpe", "--metric", "sharpe,max_drawdown")
    assert res.exit_code == 2


def test_grid_space_is_what_suggest_draws() -> None:
    space = grid_space(
        {
            "a": Range("a", 5, 12, 3, integer=True),
            "b": Range("b", 0.1, 0.35, 0.05),
            "c": Range("c", choices=("sma", "ema")),
        }
    )
    assert space["a"] == [5, 8, 11]
    assert space["b"] == pytest.approx([0.1, 0.15, 0.2, 0.25, 0.3, 0.35])
    assert space["c"] == ["sma", "ema"]


def _sampler_spec(sampler: str, trials: int) -> StudySpec:
    cfg = load_config(_config())
    ranges = {
        "short_period": Range("short_period", choices=(5, 10)),
        "long_period": Range("long_period", choices=(20, 30)),
    }
    return StudySpec("moving_average", cfg, ranges, ("sharpe",), trials, seed=11, sampler=sampler)


@pytest.mark.parametrize("sampler", ["random", "qmc", "tpe"])
def test_seeded_samplers_repeat_themselves(sampler: str) -> None:
    draws = []
    for _ in range(2):
        spec = _sampler_spec(sampler, 6)
        study = optuna.create_study(direction="maximize", sampler=make_sampler(spec))
        with BatchRunner() as runner:
            study.optimize(Objective(spec, runner), n_trials=6)
        draws.append([t.params for t in study.trials])
    assert draws[0] == draws[1]


def test_a_set_drawn_twice_is_backtested_once_and_answered_from_its_first_trial() -> None:
    spec = _sampler_spec("random", 14)  # 4 points, 14 draws: repeats are certain
    study = optuna.create_study(direction="maximize", sampler=make_sampler(spec))
    backtests: list[Any] = []
    with BatchRunner() as runner:
        real = runner.stats
        runner.stats = lambda cfg: backtests.append(cfg) or real(cfg)  # type: ignore[method-assign]
        objective = Objective(spec, runner)
        study.optimize(objective, n_trials=14)
    distinct = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(backtests) == len(distinct) < 14
    assert objective.reused == 14 - len(distinct)
    by_number = {t.number: t for t in study.trials}
    for t in study.trials:
        first = t.user_attrs.get("same_as")
        if first is None:
            continue
        original = by_number[first]
        assert original.params == t.params and "same_as" not in original.user_attrs
        assert t.value == original.value
        assert t.user_attrs["stats"] == original.user_attrs["stats"]
