"""The seed guide's command names and the small things a new user hits (issue 13 §3, §6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from genebot.testkit import gbm_bars, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_list_strategies_is_strategy_list() -> None:
    proc = run_cli("list-strategies", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "MovingAverageStrategy" in proc.stdout and "rsi_strategy" in proc.stdout


def test_seed_names_are_listed_in_help() -> None:
    shown = run_cli("--help", cwd=ROOT).stdout
    for name in ("list-strategies", "orchestration", "orchestrator-config", "orchestrator-start"):
        assert name in shown


def test_orchestration_is_the_orchestrator_group() -> None:
    proc = run_cli("orchestration", "--help", cwd=ROOT)
    assert proc.returncode == 0
    assert "allocation-history" in proc.stdout and "attribution" in proc.stdout


def test_orchestrator_config_alias_validates() -> None:
    proc = run_cli(
        "orchestrator-config", "validate", "--config", "config/orchestrator.yaml", cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("valid:")


def test_orchestrator_runtime_commands_without_a_run_say_how_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    assert run_cli("db", "init", "--database-url", url, cwd=ROOT).returncode == 0
    for args in (("orchestrator-status", "--verbose"), ("orchestrator", "stop")):
        proc = run_cli(*args, "--database-url", url, cwd=ROOT)
        assert proc.returncode == 2
        assert "`genebot orchestrator start`" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("orchestrator-intervention", "pause_strategy", "--database-url", url, cwd=ROOT)
    assert proc.returncode == 2 and "pause_strategy needs --strategy" in proc.stderr


def test_run_live_without_a_config_says_what_it_needs() -> None:
    proc = run_cli("run", "--live", cwd=ROOT)
    assert proc.returncode == 2 and "live trading needs a config: pass --config" in proc.stderr
    proc = run_cli("run", "--speed", "fast", cwd=ROOT)
    assert proc.returncode == 2 and "--speed fast: give a number > 0" in proc.stderr


def test_unknown_strategy_suggests_the_closest() -> None:
    proc = run_cli("strategy", "show", "moving_avg", cwd=ROOT)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "unknown strategy 'moving_avg' (did you mean moving_average?); known:" in line
    assert "rsi_strategy" in line and "Traceback" not in line


def test_unknown_strategy_in_a_backtest_suggests_the_closest(tmp_path: Path) -> None:
    proc = run_cli(
        "backtest", "--strategy", "rsi_strat", "--no-store", "--output-dir", str(tmp_path), cwd=ROOT
    )
    assert proc.returncode == 2, proc.stdout
    assert "did you mean rsi_strategy?" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_during_a_backtest_exits_130_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "SYN_USDT-1m.csv"
    frame = gbm_bars(2_000_000)
    frame.to_csv(data, index_label="timestamp")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"backtest": {"initial_cash": 100000, "fee": 0.001}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", "backtest", "--config", str(config),
         "--data-file", str(data), "--symbols", "SYN/USDT", "--strategy", "moving_average",
         "--output-dir", str(tmp_path / "out"), "--no-store", "--quiet",
         "--engine-mode", "per_bar"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )  # fmt: skip
    time.sleep(3)  # importing, reading the file and running: seconds on 2,000,000 bars
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, errors = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, errors)
    last = errors.strip().splitlines()[-1]
    assert "Traceback" not in errors and "KeyboardInterrupt" not in errors
    if (tmp_path / "out").exists():  # a slow machine: the run had ended, files were being written
        assert last.startswith("interrupted, already partly written"), errors
    else:
        assert last == "interrupted, nothing stored", errors


def test_orchestrator_config_defaults_to_config_orchestrator_yaml() -> None:
    proc = run_cli("orchestrator-config", "show", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)["orchestrator"]
    assert shown["allocation"]["method"] == "risk_parity"  # the seed's nested layout


def test_orchestrator_config_without_a_file_says_which_it_looked_for(tmp_path: Path) -> None:
    proc = run_cli("orchestrator-config", "validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert "config/orchestrator.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_reload_validates_and_says_no_runner_is_up() -> None:
    proc = run_cli("orchestrator-config", "reload", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("valid:")
    assert "no runner is up" in proc.stdout and "genebot run" in proc.stdout


def test_backtest_strategy_name_symbol_dates(tmp_path: Path) -> None:
    proc = run_cli(
        "backtest", "strategy", "moving_average", "--symbol", "BTC/USDT",
        "--start-date", "2021-05-10", "--end-date", "2021-05-12",
        "--output-dir", str(tmp_path / "o"), "--no-store", "-q", cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    trades = (tmp_path / "o" / "trades.csv").read_text().splitlines()[1:]
    assert trades and all(",BTC/USDT," in t and t.startswith("moving_average,") for t in trades)


def test_backtest_strategies_list_symbols(tmp_path: Path) -> None:
    proc = run_cli(
        "backtest", "strategies", "moving_average,rsi_strategy", "--symbols", "BTC/USDT,ETH/USDT",
        "--start-date", "2021-05-10", "--end-date", "2021-05-12",
        "--output-dir", str(tmp_path / "o"), "--no-store", "-q", cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stats = (tmp_path / "o" / "trades.csv").read_text()
    assert "rsi_strategy," in stats or "moving_average," in stats


def test_backtest_strategy_unknown_name_suggests(tmp_path: Path) -> None:
    proc = run_cli("backtest", "strategy", "moving_avg", "--no-store", cwd=ROOT)
    assert proc.returncode == 2
    assert "did you mean moving_average?" in proc.stderr and "Traceback" not in proc.stderr


def test_strategy_status_shows_effective_parameters(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"strategies": {"moving_average": {"enabled": False, "parameters": {"short_period": 7},
                                               "symbols": ["ETH/USDT"], "timeframes": ["1h"]}}}
        )
    )  # fmt: skip
    proc = run_cli("strategy", "status", "moving_average", "--config", str(config), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "MovingAverageStrategy, disabled" in proc.stdout
    assert "symbols: ETH/USDT" in proc.stdout and "timeframes: 1h" in proc.stdout
    rows = {line.split()[1]: line for line in proc.stdout.splitlines() if line.startswith("│")}
    assert "7" in rows["short_period"] and "config" in rows["short_period"]
    assert "20" in rows["long_period"] and "default" in rows["long_period"]


def test_strategy_status_unknown_name_suggests() -> None:
    proc = run_cli("strategy", "status", "moving_avg", cwd=ROOT)
    assert proc.returncode == 2
    assert "did you mean moving_average?" in proc.stderr and "Traceback" not in proc.stderr


def _plain_config(tmp_path: Path) -> Path:
    config = tmp_path / "backtest.yaml"
    config.write_text((ROOT / "config" / "backtest.yaml").read_text())
    return config


def test_strategy_disable_enable_persist_with_a_backup(tmp_path: Path) -> None:
    config = _plain_config(tmp_path)
    before = config.read_text()
    proc = run_cli("strategy", "disable", "moving_average", "--config", str(config), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(config.read_text())["strategies"]["moving_average"]["enabled"] is False
    assert (tmp_path / "backtest.yaml.bak").read_text() == before
    proc = run_cli("strategy", "enable", "moving_average", "--config", str(config), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(config.read_text())["strategies"]["moving_average"]["enabled"] is True


def test_strategy_update_parameters_within_bounds(tmp_path: Path) -> None:
    config = _plain_config(tmp_path)
    proc = run_cli(
        "strategy", "update", "moving_average", "--parameters", '{"short_period": 12}',
        "--config", str(config), cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    params = yaml.safe_load(config.read_text())["strategies"]["moving_average"]["parameters"]
    assert params == {"short_period": 12, "long_period": 20}
    status = run_cli("strategy", "status", "moving_average", "--config", str(config), cwd=ROOT)
    assert "12" in next(line for line in status.stdout.splitlines() if "short_period" in line)


def test_strategy_update_refuses_bad_parameters_and_keeps_the_file(tmp_path: Path) -> None:
    config = _plain_config(tmp_path)
    before = config.read_text()
    cases = {
        '{"short_period": 0}': "short_period=0 is below the minimum 1",
        '{"short_perod": 12}': "unknown parameter short_perod",
        "{short_period: 12}": "--parameters '{short_period: 12}': not valid JSON",
        "[1]": "must be a JSON object",
    }
    for given, message in cases.items():
        proc = run_cli(
            "strategy", "update", "moving_average", "--parameters", given,
            "--config", str(config), cwd=ROOT,
        )  # fmt: skip
        assert proc.returncode == 2, (given, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert config.read_text() == before


def test_strategy_disable_unknown_names_what_exists(tmp_path: Path) -> None:
    config = _plain_config(tmp_path)
    proc = run_cli("strategy", "disable", "moving_avg", "--config", str(config), cwd=ROOT)
    assert proc.returncode == 2
    assert "did you mean moving_average?" in proc.stderr and "Traceback" not in proc.stderr


def _folder_with_plain_config(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "backtest.yaml").write_text(
        (ROOT / "config" / "backtest.yaml").read_text()
    )
    return tmp_path


def test_orchestrator_migrate_analyze_backup_migrate_and_restore(tmp_path: Path) -> None:
    home = _folder_with_plain_config(tmp_path)
    proc = run_cli("orchestrator-migrate", "analyze", cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert "strategy moving_average: MovingAverageStrategy" in proc.stdout
    assert "orchestrator:" in proc.stdout
    proc = run_cli(
        "orchestrator-migrate", "migrate", "--allocation-method", "performance_based", cwd=home
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid: 1 enabled strategies, performance_based" in proc.stdout
    written = yaml.safe_load((home / "config" / "orchestrator_config.yaml").read_text())
    assert written["orchestrator"]["strategies"][0]["name"] == "moving_average"
    (stamp,) = [p.name for p in (home / "config" / "backups").iterdir()]
    assert f"backup {stamp}" in proc.stdout
    original = (home / "config" / "backtest.yaml").read_text()
    (home / "config" / "backtest.yaml").write_text("broken: [")
    proc = run_cli("config-restore", "--timestamp", stamp, cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert (home / "config" / "backtest.yaml").read_text() == original


def test_config_restore_unknown_timestamp_lists_the_backups(tmp_path: Path) -> None:
    home = _folder_with_plain_config(tmp_path)
    stamp = run_cli("orchestrator-migrate", "backup", cwd=home).stdout.split()[1].rstrip(":")
    proc = run_cli("config-restore", "--timestamp", "2020", cwd=home)
    assert proc.returncode == 2
    assert "--timestamp '2020': no such backup" in proc.stderr and stamp in proc.stderr


def test_report_strategy_and_orchestration_days(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    proc = run_cli(
        "backtest", "orchestration", "--config", "config/orchestrator.yaml",
        "--start-date", "2021-05-01", "--end-date", "2021-05-20",
        "--output-dir", str(tmp_path / "o"), "-q", "--database-url", db, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("report", "strategy", "--days", "30", "--database-url", db, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "last 30 days" in proc.stdout and "ma_btc" in proc.stdout
    for group in ("orchestration", "orchestrator"):
        proc = run_cli(group, "allocation-history", "--days", "7", "--database-url", db, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert "2021-05-17" in proc.stdout and "2021-05-03" not in proc.stdout
        proc = run_cli(group, "attribution", "--days", "30", "--database-url", db, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert "momentum_eth" in proc.stdout
    proc = run_cli("orchestrator", "attribution", "--database-url", db, cwd=ROOT)
    assert proc.returncode == 0 and "final_weight" in proc.stdout  # without --days: as before
    for args in (("report", "strategy"), ("orchestration", "attribution")):
        proc = run_cli(*args, "--days", "0", "--database-url", db, cwd=ROOT)
        assert proc.returncode == 2
        assert "--days 0: must be a whole number of days, 1 or more" in proc.stderr


def test_config_validate_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    seeds = sorted(str(p) for p in (ROOT / "tests" / "fixtures" / "seed_000").glob("*.yaml"))
    proc = run_cli("config", "validate", *seeds, "config/backtest.yaml", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(": OK") == len(seeds) + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("orchestrator:\n  allocation:\n    methd: equal_weight\n", encoding="utf-8")
    proc = run_cli("config", "validate", str(bad), cwd=ROOT)
    assert proc.returncode == 1
    assert f"{bad}:3: orchestrator.allocation.methd" in proc.stderr
    assert "did you mean 'method'" in proc.stderr and "Traceback" not in proc.stderr


def test_config_help_writes_a_template_that_validates(tmp_path: Path) -> None:
    proc = run_cli("config-help", "orchestrator", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "orchestrator_config.yaml"
    out.write_text(proc.stdout, encoding="utf-8")
    assert yaml.safe_load(proc.stdout)["orchestrator"]["allocation"]["method"] == "equal_weight"
    assert run_cli("config", "validate", str(out), cwd=ROOT).returncode == 0
    proc = run_cli("config-help", "orchestratr", cwd=ROOT)
    assert proc.returncode != 0 and "did you mean 'orchestrator'" in proc.stderr
