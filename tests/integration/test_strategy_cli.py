"""User strategies and the `genebot strategy` commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]

GOOD = '''
import talib
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


class MyCrossover(Strategy):
    """EMA crossover written by a user."""

    name = "my_crossover"
    fast = Param(5, min=1, opt=(3, 20, 1), doc="fast EMA")
    slow = Param(15, min=2, opt=(10, 60, 5), doc="slow EMA")

    def indicators(self, data):
        return {"f": talib.EMA(data.close, self.fast), "s": talib.EMA(data.close, self.slow)}

    def signals(self, data, ind):
        return Signals(crossed_above(ind["f"], ind["s"]), crossed_below(ind["f"], ind["s"]))
'''
BROKEN_IMPORT = "import not_a_module_anywhere\n"
BAD_DEFAULTS = """
from genebot.core.errors import ParameterError
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


class Contradiction(Strategy):
    name = "contradiction"
    low = Param(10)
    high = Param(5)

    def validate_parameters(self):
        if self.low >= self.high:
            raise ParameterError(f"strategy {self.strategy_id}: low must be below high")
"""
CLASH = """
from genebot.trading.strategy import Strategy


class Impostor(Strategy):
    name = "moving_average"
"""


def genebot(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "DATABASE_URL": os.environ["DATABASE_URL"]}
    if "PYTHONPATH" in os.environ:  # the code under test, when it is not the installed copy
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return run_cli(*args, cwd=cwd, env=env)


def user_config(tmp_path: Path) -> Path:
    folder = tmp_path / "my_strategies"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD)
    (folder / "broken.py").write_text(BROKEN_IMPORT)
    (folder / "bad_defaults.py").write_text(BAD_DEFAULTS)
    (folder / "clash.py").write_text(CLASH)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "strategies_path": str(folder),
                "risk_management": {"enabled": False},
                "backtest": {
                    "data_dir": str(ROOT / "data/sample"),
                    "start_date": "2021-05-10",
                    "end_date": "2021-05-12",
                    "output_dir": str(tmp_path / "out"),
                },
                "strategies": {
                    "my_crossover": {
                        "symbols": ["BTC/USDT"],
                        "timeframes": ["5m"],
                        "position_sizing": {"method": "percent_equity", "fraction": 0.5},
                    }
                },
            }
        )
    )
    return cfg


def test_list_shows_user_strategies_and_explains_what_was_skipped(tmp_path: Path) -> None:
    proc = genebot("strategy", "list", "--config", str(user_config(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert "my_crossover" in proc.stdout and "MyCrossover" in proc.stdout
    assert "moving_average" in proc.stdout and "rsi_strategy" in proc.stdout
    assert "broken.py: cannot be imported: ModuleNotFoundError" in proc.stderr
    assert "Contradiction: strategy contradiction: low must be below high" in proc.stderr
    assert "clashes with MovingAverageStrategy" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_broken_user_strategy_does_not_stop_the_others(tmp_path: Path) -> None:
    cfg = user_config(tmp_path)
    proc = genebot("backtest", "--config", str(cfg), "-q")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["trades"] > 0


def test_show_prints_the_documentation_and_parameter_ranges() -> None:
    proc = genebot("strategy", "show", "MovingAverageStrategy")
    assert proc.returncode == 0, proc.stderr
    assert "simple-moving-average crossover" in proc.stdout
    assert "short_period" in proc.stdout and "(5, 50, 1)" in proc.stdout


def test_show_unknown_strategy_lists_what_exists() -> None:
    proc = genebot("strategy", "show", "nope")
    assert proc.returncode == 2 and "known: moving_average" in proc.stderr


def test_compare_prints_one_table_of_stats(tmp_path: Path) -> None:
    proc = genebot(
        "strategy",
        "compare",
        "moving_average",
        "rsi_strategy",
        "--symbols",
        "BTC/USDT",
        "--timeframe",
        "5m",
        "--start-date",
        "2021-05-10",
        "--end-date",
        "2021-05-14",
        "--config",
        str(user_config(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "moving_average" in line)
    assert "rsi_strategy" in header
    assert "sharpe" in proc.stdout and "total_return" in proc.stdout


def test_multi_strategy_backtest_runs_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "multi"
    proc = genebot(
        "backtest",
        "--strategies",
        "moving_average,rsi_strategy",
        "--symbols",
        "BTC/USDT,ETH/USDT",
        "--start-date",
        "2021-05-10",
        "--end-date",
        "2021-05-14",
        "--output-dir",
        str(out),
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    trades = (out / "trades.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in trades} == {"moving_average", "rsi_strategy"}


def test_compare_explains_a_strategy_that_cannot_run_on_the_data() -> None:
    proc = genebot(
        "strategy",
        "compare",
        "triangular_arbitrage",
        "moving_average",
        "--start-date",
        "2021-05-10",
        "--end-date",
        "2021-05-11",
    )
    assert proc.returncode == 0, proc.stderr
    assert "needs a triangle X/Q, Y/Q, Y/X" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_strategies_path_that_is_not_there_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    text = {"strategies_path": str(tmp_path / "nope"), "strategies": {"moving_average": {}}}
    cfg.write_text(yaml.safe_dump(text))
    for args in (("strategy", "list"), ("backtest", "-q", "--no-store")):
        proc = genebot(*args, "--config", str(cfg))
        assert proc.returncode == 2, (args, proc.stderr)
        assert (
            proc.stderr.strip() == f"error: strategies_path {tmp_path / 'nope'}: folder not found"
        )
