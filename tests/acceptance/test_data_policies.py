"""What a backtest does with data that is not clean or not what the strategy trades: the
user's choice for broken rows and gaps (``backtest.on_broken``, ``backtest.on_gap``) and bars
of another timeframe than the strategy's, which are refused rather than replayed wrongly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.core.errors import DataError
from genebot.testkit import gbm_bars


def config(tmp_path: Path, frame: pd.DataFrame, entry: dict[str, Any], **backtest: Any) -> dict:
    path = tmp_path / "bars.csv"
    frame.to_csv(path)
    return {
        "backtest": {"data": [{"file": str(path), "symbol": "SYN/USDT", **entry}], **backtest},
        "strategies": {
            "moving_average": {
                "symbols": ["SYN/USDT"],
                "timeframes": ["5m"],
                "position_sizing": {"method": "fixed_quantity", "quantity": 1},
            }
        },
    }


def test_a_file_of_hourly_bars_is_refused_for_a_5m_strategy(tmp_path: Path) -> None:
    """Replayed as 5m bars, each hourly close would be known 55 minutes early."""
    cfg = config(tmp_path, gbm_bars(200, freq="1h"), {})
    with pytest.raises(DataError, match=r"bars\.csv: its bars are 1h .* traded on 5m: .*\[1h\]"):
        bt.run(cfg)


def test_a_file_called_5m_that_holds_hourly_bars_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, gbm_bars(200, freq="1h"), {"timeframe": "5m"})
    with pytest.raises(DataError, match=r"no two bars are 5m apart .*median step is 1h"):
        bt.run(cfg)


def broken(n: int = 400) -> pd.DataFrame:
    """5m bars with a NaN close in data row 11 and high < low in row 21."""
    frame = gbm_bars(n, freq="5min")
    frame.iloc[10, frame.columns.get_loc("close")] = np.nan
    frame.iloc[20, frame.columns.get_loc("high")] = frame.iloc[20]["low"] - 1
    return frame


def test_broken_rows_stop_the_run_by_default(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        bt.run(config(tmp_path, broken(), {}))
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "(row 11;" in lines[0] and "(row 21;" in lines[1]
    assert all("set on_broken to warn (drops them)" in line for line in lines)


def test_on_broken_warn_drops_the_rows_and_says_so(tmp_path: Path) -> None:
    result = bt.run(config(tmp_path, broken(), {}, on_broken="warn"))
    assert result.stats["bars"] == 398
    assert any(w.endswith("(row 11): dropped") for w in result.warnings), result.warnings
    assert any(w.endswith("(row 21): dropped") for w in result.warnings)


def test_on_broken_applies_to_in_memory_data_too(tmp_path: Path) -> None:
    cfg = config(tmp_path, broken(), {}, on_broken="warn")
    del cfg["backtest"]["data"]
    assert bt.run(cfg, {"SYN/USDT": broken()}).stats["bars"] == 398
    cfg["backtest"]["on_broken"] = "fail"
    with pytest.raises(DataError, match=r"data\['SYN/USDT'\]: 1 row with an empty"):
        bt.run(cfg, {"SYN/USDT": broken()})


@pytest.mark.parametrize(("on_gap", "warned"), [("warn", True), ("ignore", False)])
def test_gaps_warn_or_are_ignored(tmp_path: Path, on_gap: str, warned: bool) -> None:
    frame = gbm_bars(400, freq="5min").drop(gbm_bars(400, freq="5min").index[100:103])
    result = bt.run(config(tmp_path, frame, {}, on_gap=on_gap))
    assert any("3 missing bars" in w for w in result.warnings) is warned


def test_on_gap_fail_stops_the_run(tmp_path: Path) -> None:
    frame = gbm_bars(400, freq="5min").drop(gbm_bars(400, freq="5min").index[100:103])
    with pytest.raises(DataError, match=r"bars\.csv: .*3 missing bars.*set on_gap to warn"):
        bt.run(config(tmp_path, frame, {}, on_gap="fail"))


def test_in_memory_data_that_is_not_a_frame_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, gbm_bars(50, freq="5min"), {})
    del cfg["backtest"]["data"]
    with pytest.raises(
        DataError, match=r"data\['SYN/USDT'\]: a list is not bars; allowed: a pandas"
    ):
        bt.run(cfg, {"SYN/USDT": [1, 2, 3]})  # type: ignore[dict-item]
    with pytest.raises(DataError, match=r"data: a DataFrame is not a mapping; allowed: \{symbol"):
        bt.run(cfg, gbm_bars(50, freq="5min"))  # type: ignore[arg-type]


def test_a_data_file_no_strategy_reads_is_reported(tmp_path: Path) -> None:
    cfg = config(tmp_path, gbm_bars(300, freq="5min"), {})
    other = tmp_path / "eth.csv"
    gbm_bars(300, freq="5min").to_csv(other)
    cfg["backtest"]["data"].append({"file": str(other), "symbol": "ETH/USDT"})
    result = bt.run(cfg)
    assert [w for w in result.warnings if not w.startswith("risk rule")] == [
        f"backtest.data[1] {other}: no enabled strategy trades ETH/USDT; the file is not used"
    ]


def test_a_timeframe_is_compared_by_its_length(tmp_path: Path) -> None:
    """A strategy on 60m reads a file of hourly bars (inferred as 1h)."""
    cfg = config(tmp_path, gbm_bars(300, freq="1h"), {})
    cfg["strategies"]["moving_average"]["timeframes"] = ["60m"]
    assert bt.run(cfg).stats["bars"] == 300
