"""Strategy evolution end to end: lookahead-free genomes, determinism, held-out separation,
executors (process pool, Dask LocalCluster), the Hall of Fame in the database and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genebot.backtest import run
from genebot.backtest.lookahead import check_lookahead
from genebot.evolution.executor import DaskExecutor, ProcessExecutor
from genebot.evolution.fitness import Evaluator, Split
from genebot.evolution.halloffame import entries, entry, export_yaml, store
from genebot.evolution.search import EvolutionResult, Settings, evolve
from genebot.persistence.database import Database
from genebot.testkit import gbm_bars, run_cli

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "data/sample/crypto/binance_BTC-USDT_1h.csv"
BASE = {"risk_management": {"enabled": False}, "backtest": {"initial_cash": 100_000, "fee": 0.001}}
SETTINGS = Settings(
    "BTC/USDT",
    "1h",
    population=8,
    generations=2,
    seed=11,
    folds=2,
    holdout=0.25,
    min_trades=2,
    keep=3,
    base=BASE,
)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    frame = pd.read_csv(CSV, index_col=0, parse_dates=True)
    return frame.iloc[:1600]


@pytest.fixture(scope="module")
def evolved(bars: pd.DataFrame) -> EvolutionResult:
    return evolve(SETTINGS, bars)


def _signature(result: EvolutionResult) -> list[tuple[object, ...]]:
    return [
        (json.dumps(c.spec, sort_keys=True), c.objectives, json.dumps(c.walk_forward))
        for c in result.candidates
    ]


def test_an_evolved_strategy_passes_the_lookahead_check() -> None:
    cfg = {
        **BASE,
        "strategies": {
            "evolved": {
                "parameters": {
                    "entry": "RSI(14) < 45 and close > SMA(50) or crosses_above(EMA(5), WMA(20))",
                    "exit": "crosses_below(close, EMA(10)) or CCI(20) > 100 and ADX(14) > 20",
                    "stop_loss": 0.03,
                    "take_profit": 0.05,
                },
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
            }
        },
    }
    data = {"SYN/USDT": gbm_bars(3_000, seed=4)}
    assert run(cfg, data).stats["trades"] > 5  # it trades: the check has orders to compare
    report = check_lookahead(cfg, data)
    assert report.passed, report.problems
    assert len(report.cutoffs) == 4


def test_same_seed_same_result_and_another_seed_differs(
    bars: pd.DataFrame, evolved: EvolutionResult
) -> None:
    again = evolve(SETTINGS, bars)
    assert _signature(again) == _signature(evolved)
    assert [c.held_out for c in again.candidates] == [c.held_out for c in evolved.candidates]
    assert again.tried == evolved.tried and len(evolved.history) == 3
    other = evolve(replace(SETTINGS, seed=12), bars)
    assert _signature(other) != _signature(evolved)


def test_the_held_out_tail_is_never_seen_during_evolution(
    bars: pd.DataFrame, evolved: EvolutionResult
) -> None:
    split = Split.of(len(bars), SETTINGS.folds, SETTINGS.holdout)
    ev = Evaluator.of(BASE, "BTC/USDT", "1h", bars, split)
    assert ev.seen_until is not None and ev.seen_until < bars.index[split.holdout_start]
    assert evolved.periods["held_out_start"] == bars.index[split.holdout_start].isoformat()
    # A different tail changes the held-out scores, never what evolution found.
    changed = bars.copy()
    tail = changed.index[split.holdout_start :]
    changed.loc[tail, ["open", "high", "low", "close"]] = changed.loc[
        tail, ["open", "high", "low", "close"]
    ].to_numpy()[::-1]
    changed.loc[tail, "high"] = changed.loc[tail, ["open", "high", "low", "close"]].max(axis=1)
    changed.loc[tail, "low"] = changed.loc[tail, ["open", "high", "low", "close"]].min(axis=1)
    other = evolve(SETTINGS, changed)
    assert _signature(other) == _signature(evolved)
    assert [c.held_out for c in other.candidates] != [c.held_out for c in evolved.candidates]


def test_candidates_are_scored_in_sample_walk_forward_and_held_out(
    evolved: EvolutionResult,
) -> None:
    assert 1 <= len(evolved.candidates) <= SETTINGS.keep
    for c in evolved.candidates:
        assert len(c.walk_forward) == SETTINGS.folds
        assert {"sharpe", "max_drawdown", "trades"} <= set(c.held_out) & set(c.in_sample)
        assert c.deflated_sharpe is None or 0.0 <= c.deflated_sharpe <= 1.0
        assert c.rules.startswith("entry: ")
    assert evolved.tried >= SETTINGS.population


def test_parameter_mode_evolves_a_builtin_within_its_declared_ranges(bars: pd.DataFrame) -> None:
    result = evolve(replace(SETTINGS, strategy="moving_average"), bars)
    assert result.candidates
    for c in result.candidates:
        p = c.spec["parameters"]
        assert c.spec["type"] == "moving_average"
        assert 5 <= p["short_period"] <= 50 and 10 <= p["long_period"] <= 200


def test_a_process_pool_and_a_dask_cluster_give_the_local_result(
    bars: pd.DataFrame, evolved: EvolutionResult
) -> None:
    from distributed import LocalCluster

    pooled = evolve(SETTINGS, bars, ProcessExecutor(2))
    assert _signature(pooled) == _signature(evolved)
    with LocalCluster(
        n_workers=2,
        processes=True,
        host="127.0.0.1",
        threads_per_worker=1,
        dashboard_address=None,
    ) as cluster:
        on_dask = evolve(SETTINGS, bars, DaskExecutor(cluster.scheduler_address))
    assert _signature(on_dask) == _signature(evolved)
    assert [c.held_out for c in on_dask.candidates] == [c.held_out for c in evolved.candidates]


def test_hall_of_fame_stores_lists_and_exports(
    database: Database, evolved: EvolutionResult, bars: pd.DataFrame
) -> None:
    ids = store(database, evolved, {"symbol": "BTC/USDT", "timeframe": "1h", "bars": 1600})
    assert len(ids) == len(evolved.candidates)
    listed = entries(database)
    assert sorted(e.id for e in listed) == sorted(ids)
    sharpes = [e.held_out["sharpe"] for e in listed]
    assert sharpes == sorted(sharpes, reverse=True)
    first = entry(database, ids[0])
    c = evolved.candidates[0]
    assert first.rules == c.rules and first.parameters == c.spec["parameters"]
    assert first.walk_forward == c.walk_forward and first.held_out == c.held_out
    assert first.deflated_sharpe == pytest.approx(c.deflated_sharpe)
    assert first.candidates == evolved.tried and first.seed == SETTINGS.seed
    assert first.periods == evolved.periods
    text = export_yaml(first)
    assert f"#   deflated_sharpe: {first.deflated_sharpe}" in text
    cfg = yaml.safe_load(text)  # loads as a strategy config, and backtests
    assert cfg["strategies"][f"hof_{first.id}"]["parameters"] == c.spec["parameters"]
    # ... with the sections the statistics were computed with (risk off here), as they are
    assert cfg["risk_management"] == {"enabled": False}
    assert cfg["backtest"]["initial_cash"] == 100_000 and cfg["backtest"]["fee"] == 0.001
    held = bars.iloc[Split.of(len(bars), 2, 0.25).holdout_start :]
    stats = run(cfg, {"BTC/USDT": held}).stats
    assert (stats["trades"], stats["total_return"]) == (
        c.held_out["trades"],
        pytest.approx(c.held_out["total_return"]),
    )


def test_cli_evolve_then_halloffame(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    assert run_cli("db", "init", "--database-url", db).returncode == 0
    small = tmp_path / "btc_1h.csv"
    small.write_text("".join(CSV.read_text().splitlines(keepends=True)[:1601]))
    out = run_cli(
        "evolve",
        "--population",
        "6",
        "--generations",
        "1",
        "--seed",
        "2",
        "--data",
        str(small),
        "--folds",
        "2",
        "--min-trades",
        "1",
        "--keep",
        "2",
        "--database",
        db,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "generation   1/1" in out.stdout and "best: sharpe" in out.stdout
    listed = run_cli("halloffame", "list", "--format", "json", "--database", db)
    rows = json.loads(listed.stdout)
    assert len(rows) == 2 and rows[0]["data"]["bars"] == 1600
    exported = run_cli("halloffame", "export", str(rows[0]["id"]), "--database", db)
    assert "type: evolved" in exported.stdout
    missing = run_cli("halloffame", "show", "999", "--database", db)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "no Hall of Fame entry 999" in missing.stderr


def test_cli_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    out = run_cli("evolve", "--strategy", "nosuch", "--no-store", cwd=ROOT)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error: unknown strategy 'nosuch'")


_DIGEST = """
import hashlib, json, sys
import pandas as pd
sys.path.insert(0, {tests!r})
from test_evolution import CSV, SETTINGS
from genebot.evolution.search import evolve
bars = pd.read_csv(CSV, index_col=0, parse_dates=True).iloc[:1600]
result = evolve(SETTINGS, bars)
rows = [(c.spec, c.objectives, c.held_out) for c in result.candidates]
print(hashlib.sha1(json.dumps(rows, sort_keys=True).encode()).hexdigest())
"""


def test_same_seed_same_result_in_separate_processes(evolved: EvolutionResult) -> None:
    """Nothing depends on hash order or memory addresses (DEAP's own crossover would)."""
    import hashlib
    import os
    import subprocess
    import sys

    code = _DIGEST.format(tests=str(Path(__file__).parent))
    digests = set()
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    rows = [(c.spec, c.objectives, c.held_out) for c in evolved.candidates]
    local = hashlib.sha1(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    assert digests == {local}
