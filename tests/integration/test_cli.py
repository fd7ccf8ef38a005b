"""The genebot command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genebot.testkit import gbm_bars, run_cli

ROOT = Path(__file__).resolve().parents[2]


def genebot(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def test_default_backtest_prints_stats_and_writes_all_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = genebot("backtest", "--output-dir", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "final_equity" in proc.stdout
    for name in (
        "stats.json",
        "trades.csv",
        "orders.csv",
        "equity.csv",
        "report.html",
        "risk_events.csv",
    ):
        assert (out / name).stat().st_size > 0
    stats = json.loads((out / "stats.json").read_text())
    required = {
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_duration",
        "win_rate",
        "profit_factor",
        "expectancy",
        "trades",
        "exposure",
        "fees",
        "initial_equity",
        "final_equity",
        "start",
        "end",
        "bars",
    }
    assert required <= set(stats)
    header = (out / "trades.csv").read_text().splitlines()[0]
    assert header == (
        "strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,"
        "quantity,pnl,pnl_pct,fees,exit_reason"
    )
    assert (out / "equity.csv").read_text().startswith("timestamp,equity,cash,drawdown\n")
    risk = (out / "risk_events.csv").read_text().splitlines()
    assert risk[0] == "timestamp,strategy,symbol,rule,action,detail"
    assert any(",approve," in line for line in risk[1:])
    assert "approved orders" in (out / "report.html").read_text()


def in_terminal(*args: str) -> tuple[int, str]:
    """``genebot ARGS`` with stderr on a pseudo-terminal (where the progress bar is drawn)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=600), b"".join(chunks).decode(errors="replace")


def test_progress_bar_in_a_terminal(tmp_path: Path) -> None:
    """In a terminal the bar is drawn while the run goes (it once crashed before any bar)."""
    code, shown = in_terminal(
        "backtest", "--start-date", "2021-05-10", "--end-date", "2021-05-12",
        "--output-dir", str(tmp_path / "o"), "--no-store",
    )  # fmt: skip
    assert code == 0, shown
    assert "Traceback" not in shown
    assert "1,152/1,152 bars" in shown  # two days of 5m bars of BTC/USDT and ETH/USDT
    assert (tmp_path / "o" / "stats.json").is_file()


def test_flags_override_config(tmp_path: Path) -> None:
    out = tmp_path / "o"
    proc = genebot(
        "backtest",
        "--symbols",
        "ETH/USDT",
        "--start-date",
        "2021-05-10",
        "--end-date",
        "2021-05-12",
        "--initial-cash",
        "50000",
        "--fee",
        "0.0005",
        "--output-dir",
        str(out),
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["initial_equity"] == 50000
    assert stats["start"] == "2021-05-10T00:00:00Z"
    assert stats["end"] == "2021-05-11T23:55:00Z"
    assert set(
        line.split(",")[1] for line in (out / "trades.csv").read_text().splitlines()[1:]
    ) <= {"ETH/USDT"}


def test_data_file_runs_one_file_with_inferred_timeframe(tmp_path: Path) -> None:
    """No --timeframe: the strategy trades the file's 15m bars (the config says 5m), so every
    order is decided at a 15-minute close."""
    path = tmp_path / "syn.csv"
    gbm_bars(3_000, freq="15min").to_csv(path)
    out = tmp_path / "o"
    args = ("--symbols", "SYN/USDT", "--output-dir", str(out), "-q", "--no-store")
    proc = genebot("backtest", "--data-file", str(path), *args)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "stats.json").read_text())["bars"] == 3_000
    orders = (out / "orders.csv").read_text().splitlines()[1:]
    created = [line.split(",")[15] for line in orders]
    assert created and all(int(t[14:16]) % 15 == 0 for t in created), created[:5]
    trades = (out / "trades.csv").read_bytes()
    explicit = genebot("backtest", "--data-file", str(path), "--timeframe", "15m", *args)
    assert explicit.returncode == 0, explicit.stderr
    assert (out / "trades.csv").read_bytes() == trades


def test_on_broken_warn_flag_drops_broken_rows_and_warns(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    frame = gbm_bars(500, freq="5min")
    frame.iloc[10, frame.columns.get_loc("high")] = frame.iloc[10]["low"] - 1
    frame.to_csv(path)
    out = tmp_path / "o"
    args = ("--data-file", str(path), "--symbols", "SYN/USDT", "--output-dir", str(out), "-q")
    proc = genebot("backtest", *args, "--no-store", "--on-broken", "warn")
    assert proc.returncode == 0, proc.stderr
    assert "warning: " in proc.stderr and "(row 11)" in proc.stderr
    assert json.loads((out / "stats.json").read_text())["bars"] == 499


def test_error_text_in_brackets_reaches_the_user_whole(tmp_path: Path) -> None:
    """Messages are not read as console markup: '[epoch_ms, ...]' is part of the advice."""
    path = tmp_path / "candles.json"
    path.write_text('{"not": "candles"}')
    proc = genebot("backtest", "--data-file", str(path), "--symbols", "SYN/USDT", "-q")
    assert proc.returncode == 2
    assert "[epoch_ms, open, high, low, close, volume]" in proc.stderr


def test_bad_config_is_one_clear_line_and_exit_code_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"backtest": {"inital_cash": 5}}))
    proc = genebot("backtest", "--config", str(cfg), "-q")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "backtest.inital_cash" in proc.stderr and "initial_cash" in proc.stderr


def test_broken_data_names_file_and_row_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    frame = gbm_bars(100)
    frame.iloc[10, frame.columns.get_loc("high")] = frame.iloc[10]["low"] - 1
    frame.to_csv(path)
    proc = genebot(
        "backtest",
        "--data-file",
        str(path),
        "--symbols",
        "SYN/USDT",
        "--timeframe",
        "1m",
        "-q",
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "broken.csv" in proc.stderr and "11" in proc.stderr


def test_an_output_dir_that_cannot_be_made_is_refused_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = genebot("backtest", "--output-dir", str(blocker / "out"), "-q", "--no-store")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: output_dir {blocker / 'out'}: cannot create the folder: a file is in the way"
    ]
    assert proc.stdout == ""  # refused before the run: no stats were computed


def test_a_strategy_refusing_its_symbols_is_bad_input() -> None:
    """Triangular arbitrage on two pairs: the strategy's reason, exit 2 (not a run of 0 trades)."""
    proc = genebot(
        "backtest", "--strategy", "triangular_arbitrage", "--start-date", "2021-05-13",
        "--end-date", "2021-05-14", "-q", "--no-store",
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: strategy triangular_arbitrage needs a triangle")
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--fee", "abc"), "error: Invalid value for '--fee': "),
        (("--symbol", "BTC/USDT"), "error: No such option: --symbol (Possible options: --symbols)"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_code_2(args: tuple[str, ...], expected: str) -> None:
    proc = genebot("backtest", *args, "-q", "--no-store")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(expected) and line.endswith("(see genebot backtest --help)")


def test_empty_symbols_flag_is_refused() -> None:
    proc = genebot("backtest", "--symbols", "", "-q", "--no-store")
    assert proc.returncode == 2
    assert "--symbols: must name at least one symbol" in proc.stderr


def test_unknown_strategy_is_refused_with_the_list(tmp_path: Path) -> None:
    proc = genebot("backtest", "--strategy", "nope", "-q", "--output-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "moving_average" in proc.stderr


def test_check_lookahead_passes_for_the_builtin() -> None:
    proc = genebot("check", "lookahead", "--strategy", "moving_average")
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout


@pytest.mark.parametrize("name", ["cross_market_arbitrage", "crypto_forex_arbitrage"])
def test_check_lookahead_runs_arbitrage_on_its_bundled_data(name: str) -> None:
    proc = genebot("check", "lookahead", "--strategy", name)
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout and "2,880 bars" in proc.stdout
