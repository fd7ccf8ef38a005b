"""Selection and analytics commands on fresh backtests of the configured strategies over the
last days of the bundled sample data: real values (weights, correlations, selection under the
cap), both output formats, and one clear line for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from genebot.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
NAMES = ["ma_btc", "rsi_eth", "meanrev_btc", "momentum_eth"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load((ROOT / "config" / "orchestrator.yaml").read_text())
    data["backtest"]["data_dir"] = str(ROOT / "data" / "sample")
    data["backtest"]["start_date"] = "2021-05-22"  # ten days: fast
    data["backtest"]["output_dir"] = str(tmp_path_factory.mktemp("out"))
    path = tmp_path_factory.mktemp("cfg") / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_correlation_is_symmetric_with_unit_diagonal(config: Path) -> None:
    corr = _json(["analytics", "correlation", "--days", "7", "--config", str(config)])
    assert sorted(corr) == sorted(NAMES)
    for a in NAMES:
        assert corr[a][a] == pytest.approx(1.0)
        for b in NAMES:
            assert corr[a][b] == pytest.approx(corr[b][a])
            assert -1.0 <= corr[a][b] <= 1.0


@pytest.mark.parametrize("method", ["sharpe_ratio", "risk_parity", "equal_weight", "min_variance"])
def test_optimize_allocation_weights_sum_to_one_within_bounds(config: Path, method: str) -> None:
    out = _json(
        [
            "orchestration",
            "optimize-allocation",
            "--method",
            method,
            "--days",
            "7",
            "--config",
            str(config),
        ]
    )
    weights = out["weights"]
    assert sorted(weights) == sorted(NAMES)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert out["bounds"] == [0.1, 0.5]  # the config's min/max_allocation
    assert all(0.1 - 1e-9 <= w <= 0.5 + 1e-9 for w in weights.values())
    assert out["volatility"] >= 0


def test_auto_select_respects_the_correlation_cap(config: Path) -> None:
    cap = 0.2
    out = _json(
        [
            "orchestration",
            "auto-select",
            "--lookback-days",
            "7",
            "--max-strategies",
            "3",
            "--max-correlation",
            str(cap),
            "--config",
            str(config),
        ]
    )
    chosen, corr = out["selected"], out["correlation"]
    assert 1 <= len(chosen) <= 3
    for i, a in enumerate(chosen):
        for b in chosen[i + 1 :]:
            assert abs(corr[a][b]) <= cap
    assert set(chosen) | set(out["skipped"]) == set(NAMES)
    best = max(NAMES, key=lambda n: out["stats"][n]["sharpe"])
    assert chosen[0] == best
    assert [s["name"] for s in out["yaml"]["orchestrator"]["strategies"]] == chosen


def test_auto_select_table_prints_the_yaml_snippet(config: Path) -> None:
    result = runner.invoke(
        app, ["orchestration", "auto-select", "--lookback-days", "7", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "orchestrator:" in result.stdout and "strategies:" in result.stdout


def test_risk_attribution_shares_sum_to_one(config: Path) -> None:
    out = _json(["analytics", "risk-attribution", "--days", "7", "--config", str(config)])
    assert sum(out["variance_share"].values()) == pytest.approx(1.0)


def test_decompose_and_efficiency(config: Path) -> None:
    parts = _json(["analytics", "decompose-performance", "--days", "7", "--config", str(config)])
    assert {p["strategy"] for p in parts} <= set(NAMES)
    assert all(p["side"] in ("long", "short") and p["trades"] > 0 for p in parts)
    figures = _json(["analytics", "efficiency", "--days", "7", "--config", str(config)])
    assert all(0.0 <= f["exposure"] <= 1.0 for f in figures.values())


def test_strategy_analyze_distribution_adds_up(config: Path) -> None:
    out = _json(["strategy", "analyze", "ma_btc", "--days", "5", "--config", str(config)])
    dist = out["distribution"]
    assert dist["wins"] + dist["losses"] <= dist["trades"] == out["stats"]["trades"]
    assert sum(c for c, _ in dist["by_hour"].values()) == dist["trades"]
    assert sum(c for c, _ in dist["by_weekday"].values()) == dist["trades"]
    assert sum(p for _, p in dist["by_hour"].values()) == pytest.approx(out["stats"]["pnl"])


def test_test_combination_runs_only_those_strategies(config: Path) -> None:
    out = _json(
        [
            "orchestration",
            "test-combination",
            "--strategies",
            "ma_btc,rsi_eth",
            "--allocation",
            "risk_parity",
            "--days",
            "4",
            "--config",
            str(config),
        ]
    )
    assert [r["strategy"] for r in out["attribution"]] == ["ma_btc", "rsi_eth"]
    assert out["start"] == "2021-05-28"
    assert out["stats"]["final_equity"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["strategy", "analyze", "nope"], "unknown strategy nope"),
        (["analytics", "correlation", "--days", "1"], "at least 3 days"),
        (["orchestration", "test-combination", "--strategies", "ma_btc,zzz"], "unknown strategy"),
        (["orchestration", "optimize-allocation", "--method", "magic"], "--method magic"),
        (["analytics", "efficiency", "--format", "xml"], "--format xml"),
    ],
)
def test_bad_input_is_one_line(config: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_rebalance_without_a_running_orchestrator_exits_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    assert runner.invoke(app, ["db", "init", "--database-url", url]).exit_code == 0
    result = runner.invoke(
        app,
        ["orchestration", "rebalance", "--trigger", "performance_degradation",
         "--database-url", url],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no running orchestrator deployment" in result.output
    bad = runner.invoke(
        app, ["orchestration", "rebalance", "--trigger", "x", "--database-url", url]
    )
    assert bad.exit_code == 2 and "--trigger x" in bad.output


def test_rebalance_journals_a_force_rebalance_for_the_running_orchestrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genebot.cli import deploy_cmds
    from genebot.cli.db import open_current
    from genebot.live import control
    from genebot.persistence.lock import RunnerLock, scope_of
    from genebot.persistence.repositories import DeploymentRepository

    url = f"sqlite:///{tmp_path / 'g.db'}"
    assert runner.invoke(app, ["db", "init", "--database-url", url]).exit_code == 0
    db = open_current(url)
    deployment = DeploymentRepository(db).start("orchestrator", "paper", {"strategies": ["s"]})
    monkeypatch.setattr(deploy_cmds, "WAIT_S", 0.2)
    with RunnerLock(db, scope_of("paper", "orchestrator")):  # its runner is up (never answers)
        result = runner.invoke(
            app,
            ["orchestration", "rebalance", "--trigger", "performance_degradation",
             "--reason", "sharpe fell", "--database-url", url],
        )  # fmt: skip
    assert result.exit_code == 1 and "did not answer" in result.output
    [command] = control.commands_after(db, deployment, 0)
    assert command.payload["command"] == "force_rebalance"
    assert command.payload["reason"] == "performance_degradation: sharpe fell"
