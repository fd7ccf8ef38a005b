"""The orchestrator's commands, run as a user runs them (real subprocesses)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "risk_management": {"enabled": False},
    "backtest": {"initial_cash": 100_000, "data_dir": str(ROOT / "data/sample")},
    "orchestrator": {
        "allocation_method": "risk_parity",
        "rebalance_frequency": "daily",
        "strategies": [
            {"name": "ma", "type": "moving_average", "symbols": ["BTC/USDT"]},
            {"name": "rsi", "type": "RSIStrategy", "symbols": ["ETH/USDT"], "allocation_weight": 2},
        ],
    },
}


def genebot(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT)


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_orchestration_backtest_writes_and_stores_its_allocations(tmp_path: Path) -> None:
    config = _write(tmp_path, CONFIG)
    url = ("--database-url", f"sqlite:///{tmp_path / 'g.db'}")
    out = tmp_path / "out"
    proc = genebot(
        "backtest", "orchestration", "--config", str(config), "--start-date", "2021-05-01",
        "--end-date", "2021-05-12", "--output-dir", str(out), "--quiet", *url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Attribution" in proc.stdout and "stored as run 1" in proc.stdout
    allocations = pd.read_csv(out / "allocations.csv")
    assert list(allocations.columns[:5]) == [
        "timestamp",
        "strategy",
        "weight",
        "capital",
        "trigger",
    ]
    first = allocations[allocations["trigger"] == "initial"].set_index("strategy")["weight"]
    assert first.to_dict() == pytest.approx({"ma": 1 / 3, "rsi": 2 / 3}, abs=1e-9)  # priors
    assert allocations["timestamp"].nunique() == 11  # initial + daily, 2 to 11 May
    for name in ("attribution.csv", "sleeves.csv", "correlation.csv", "interventions.csv"):
        assert (out / name).is_file()
    report = (out / "report.html").read_text()
    for heading in ("Sleeves", "Allocation over time", "Strategy correlation", "Attribution"):
        assert heading in report
    shown = genebot("orchestrator", "attribution", *url)
    assert shown.returncode == 0 and "rsi" in shown.stdout and "run 1" in shown.stdout
    history = genebot("orchestrator", "allocation-history", "--run", "1", *url)
    assert history.returncode == 0 and history.stdout.count("schedule: daily") == 2 * 10


def test_orchestration_needs_an_orchestrator_section(tmp_path: Path) -> None:
    proc = genebot("backtest", "orchestration", "--config", "config/backtest.yaml")
    assert proc.returncode == 2 and "genebot config migrate" in proc.stderr
    none = genebot("orchestrator", "attribution", "--database-url", f"sqlite:///{tmp_path}/e.db")
    assert none.returncode != 0 and "Traceback" not in none.stderr


def test_config_show_validate_and_update(tmp_path: Path) -> None:
    config = _write(tmp_path, CONFIG)
    shown = genebot("orchestrator", "config", "show", "--config", str(config))
    assert shown.returncode == 0 and "lookback_days: 30" in shown.stdout  # defaults filled
    assert (
        "valid: 2 enabled strategies"
        in genebot("orchestrator", "config", "validate", "--config", str(config)).stdout
    )
    before = config.read_text()
    bad = genebot(
        "orchestrator", "config", "update", "--config", str(config), "--allocation-method", "magic"
    )
    assert bad.returncode == 2 and "allocation_method" in bad.stderr
    assert config.read_text() == before  # nothing written
    good = genebot(
        "orchestrator", "config", "update", "--config", str(config),
        "--allocation-method", "performance_based", "--rebalance-frequency", "monthly",
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    updated = yaml.safe_load(config.read_text())["orchestrator"]
    # flat keys stay flat (the seed's nested allocation: is where new keys go)
    assert (updated["allocation_method"], updated["rebalance_frequency"]) == (
        "performance_based",
        "monthly",
    )
    nested = tmp_path / "nested.yaml"
    nested.write_text("orchestrator:\n  allocation:\n    method: risk_parity\n" + "  strategies: "
                      "[{name: ma, type: moving_average, symbols: [BTC/USDT]}]\n")  # fmt: skip
    proc = genebot("orchestrator", "config", "update", "--config", str(nested),
                   "--rebalance-frequency", "monthly")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    allocation = yaml.safe_load(nested.read_text())["orchestrator"]["allocation"]
    assert allocation == {"method": "risk_parity", "rebalance_frequency": "monthly"}
    assert (tmp_path / "orchestrator.yaml.bak").read_text() == before


def test_config_migrate_turns_strategies_into_an_orchestrator(tmp_path: Path) -> None:
    target = tmp_path / "migrated.yaml"
    proc = genebot("config", "migrate", "--config", "config/backtest.yaml", "--output", str(target))
    assert proc.returncode == 0, proc.stderr
    migrated = yaml.safe_load(target.read_text())
    assert "strategies" not in migrated
    (entry,) = migrated["orchestrator"]["strategies"]
    assert entry["name"] == "moving_average" and entry["allocation_weight"] == 1.0
    valid = genebot("orchestrator", "config", "validate", "--config", str(target))
    assert valid.returncode == 0, valid.stderr
    again = genebot("config", "migrate", "--config", str(target))
    assert again.returncode == 2 and "already has an orchestrator" in again.stderr


def test_config_migrate_never_prints_secrets_and_names_bad_entries(tmp_path: Path) -> None:
    data = {
        "exchanges": {"binance": {"api_key": "AKIA-REAL-KEY-123", "api_secret": "s3cr3t-value"}},
        "strategies": {"ma": {"type": "moving_average"}},
    }
    config = _write(tmp_path, data)
    shown = genebot("config", "migrate", "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    assert "AKIA-REAL-KEY-123" not in shown.stdout and "s3cr3t-value" not in shown.stdout
    assert "***" in shown.stdout
    target = tmp_path / "out.yaml"
    assert genebot("config", "migrate", "--config", str(config), "-o", str(target)).returncode == 0
    assert "AKIA-REAL-KEY-123" in target.read_text()  # the user's own file keeps its values
    bad = _write(tmp_path, {"strategies": {"ma": "moving_average"}})
    proc = genebot("config", "migrate", "--config", str(bad))
    assert proc.returncode == 2 and "strategies.ma: must be a mapping" in proc.stderr


def test_an_unknown_revision_is_one_line(tmp_path: Path) -> None:
    url = ("--database-url", f"sqlite:///{tmp_path / 'r.db'}")
    for args in (("db", "upgrade", "--revision", "bogus"), ("db", "downgrade", "bogus", "--yes")):
        proc = genebot(*args, *url)
        assert proc.returncode == 2 and "revision 'bogus'" in proc.stderr
        assert "Traceback" not in proc.stderr
