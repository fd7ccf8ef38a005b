"""Tests for genebot.reporting.report: one self-contained, deterministic HTML file."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from genebot.reporting.report import (
    MAX_POINTS,
    downsample_equity,
    downsample_ohlcv,
    format_stat,
    write_report,
)
from genebot.reporting.statistics import compute_stats

PLOTLY_HEAD = get_plotlyjs()[:200]


def make_bars(count: int, seed: int = 0, freq: str = "1min") -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=count, freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 1e-3, count))
    return pd.DataFrame(
        {
            "open": np.concatenate(([100.0], close[:-1])),
            "high": close * 1.002,
            "low": close * 0.998,
            "close": close,
            "volume": np.ones(count),
        },
        index=index,
    )


def make_equity(index: pd.DatetimeIndex, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0, 1e-4, len(index)))
    frame = pd.DataFrame({"equity": values, "cash": values}, index=index)
    frame["drawdown"] = frame["equity"] / frame["equity"].cummax() - 1.0
    return frame


def make_trades(symbol: str, bars: pd.DataFrame, sides: list[str], start: int = 5) -> pd.DataFrame:
    rows = []
    for number, side in enumerate(sides):
        entry, exit_ = start + 10 * number, start + 10 * number + 4
        entry_price, exit_price = bars["close"].iloc[entry], bars["close"].iloc[exit_]
        pnl = (exit_price - entry_price) * (1 if side == "long" else -1)
        rows.append(
            {
                "strategy": "demo",
                "symbol": symbol,
                "side": side,
                "entry_time": bars.index[entry],
                "entry_price": entry_price,
                "exit_time": bars.index[exit_],
                "exit_price": exit_price,
                "quantity": 1.0,
                "pnl": pnl,
                "pnl_pct": pnl / entry_price,
                "fees": 0.01,
                "exit_reason": "signal",
            }
        )
    return pd.DataFrame(rows)


def plot_data(document: str, div_id: str) -> list[dict[str, Any]]:
    """Decode the trace list passed to Plotly.newPlot for ``div_id``."""
    call = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + '"', document)
    assert call is not None, div_id
    start = document.index("[", call.end())
    traces, _ = json.JSONDecoder().raw_decode(document, start)
    return traces  # type: ignore[no-any-return]


def values(data: Any) -> np.ndarray:
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data)


@pytest.fixture
def inputs() -> dict[str, Any]:
    btc, eth = make_bars(300, seed=2), make_bars(300, seed=3)
    trades = pd.concat(
        [
            make_trades("BTC/USDT", btc, ["long", "short", "long"]),
            make_trades("ETH/USDT", eth, ["short", "short"], start=100),
        ],
        ignore_index=True,
    )
    equity = make_equity(btc.index)
    stats = compute_stats(
        equity,
        trades,
        initial_equity=10_000.0,
        fees=0.05,
        in_market=np.zeros(len(equity), dtype=bool),
    )
    return {
        "title": "Demo <backtest>",
        "bars": {"BTC/USDT": btc, "ETH/USDT": eth},
        "trades": trades,
        "equity": equity,
        "stats": stats,
    }


def test_report_is_one_self_contained_file(tmp_path: Path, inputs: dict[str, Any]) -> None:
    path = write_report(tmp_path / "out" / "report.html", **inputs)
    document = path.read_text(encoding="utf-8")
    assert path == tmp_path / "out" / "report.html"
    assert document.startswith("<!DOCTYPE html>")
    assert document.count(PLOTLY_HEAD) == 1
    assert "<script src" not in document
    assert "<title>Demo &lt;backtest&gt;</title>" in document


def test_candles_and_trade_markers_per_symbol(tmp_path: Path, inputs: dict[str, Any]) -> None:
    document = write_report(tmp_path / "r.html", **inputs).read_text(encoding="utf-8")
    btc = plot_data(document, "genebot-candles-0")
    eth = plot_data(document, "genebot-candles-1")
    assert [trace["type"] for trace in btc] == ["candlestick", "scatter", "scatter", "scatter"]
    names = {trace.get("name"): trace for trace in btc}
    assert len(names["Long entries (2)"]["x"]) == 2
    assert names["Long entries (2)"]["marker"]["symbol"] == "triangle-up"
    assert len(names["Short entries (1)"]["x"]) == 1
    assert len(names["Exits (3)"]["x"]) == 3
    assert names["Exits (3)"]["marker"]["symbol"] == "triangle-down"
    eth_names = [trace.get("name") for trace in eth]
    assert eth_names == ["ETH/USDT", "Short entries (2)", "Exits (2)"]
    entry_y = values(names["Long entries (2)"]["y"])
    expected = inputs["trades"].query("symbol == 'BTC/USDT' and side == 'long'")["entry_price"]
    np.testing.assert_allclose(entry_y, expected.to_numpy())


def test_equity_and_drawdown_traces(tmp_path: Path, inputs: dict[str, Any]) -> None:
    document = write_report(tmp_path / "r.html", **inputs).read_text(encoding="utf-8")
    traces = plot_data(document, "genebot-equity")
    assert [trace["name"] for trace in traces] == ["equity", "drawdown"]
    assert traces[0]["yaxis"] == "y" and traces[1]["yaxis"] == "y2"
    np.testing.assert_allclose(values(traces[0]["y"]), inputs["equity"]["equity"].to_numpy())
    np.testing.assert_allclose(values(traces[1]["y"]), inputs["equity"]["drawdown"].to_numpy())
    assert '"matches":"x2"' in document  # the two panels share the x-axis


def test_stats_and_extra_counts_are_shown(tmp_path: Path, inputs: dict[str, Any]) -> None:
    counts = {"max_position_size": 3, "daily_loss_limit": 0}
    document = write_report(tmp_path / "r.html", **inputs, extra_counts=counts).read_text(
        encoding="utf-8"
    )
    stats = inputs["stats"]
    for key in ("start", "duration", "total_return", "sharpe", "max_drawdown", "win_rate"):
        assert f'<td class="num">{format_stat(key, stats[key])}</td>' in document, key
    assert "<th>Sharpe</th>" in document and "<th>CAGR</th>" in document
    assert "<th>max_position_size</th><td" in document
    assert '<td class="num">3</td>' in document


def test_format_stat() -> None:
    assert format_stat("total_return", 0.0523) == "5.23%"
    assert format_stat("max_drawdown", -0.123) == "-12.30%"
    assert format_stat("sharpe", 1.23456) == "1.2346"
    assert format_stat("final_equity", 10523.5) == "10,523.5000"
    assert format_stat("trades", 1200) == "1,200"
    assert format_stat("profit_factor", None) == "—"
    assert format_stat("duration", "3 days 04:05:00") == "3 days 04:05:00"


def test_two_writes_are_byte_identical(tmp_path: Path, inputs: dict[str, Any]) -> None:
    first = write_report(tmp_path / "a.html", **inputs, extra_counts={"rule": 1})
    second = write_report(tmp_path / "b.html", **inputs, extra_counts={"rule": 1})
    assert first.read_bytes() == second.read_bytes()


def test_report_without_trades(tmp_path: Path, inputs: dict[str, Any]) -> None:
    inputs["trades"] = pd.DataFrame(columns=inputs["trades"].columns)
    document = write_report(tmp_path / "r.html", **inputs).read_text(encoding="utf-8")
    assert [trace["type"] for trace in plot_data(document, "genebot-candles-0")] == ["candlestick"]


def test_downsample_keeps_extremes() -> None:
    bars = make_bars(20_000)
    candles = downsample_ohlcv(bars)
    assert len(candles) <= MAX_POINTS
    assert candles["high"].max() == bars["high"].max()
    assert candles["low"].min() == bars["low"].min()
    assert candles["open"].iloc[0] == bars["open"].iloc[0]
    assert candles["close"].iloc[-1] == bars["close"].iloc[-1]
    assert candles["volume"].sum() == bars["volume"].sum()
    equity = make_equity(bars.index)
    sampled = downsample_equity(equity)
    assert len(sampled) <= MAX_POINTS
    assert sampled["drawdown"].min() == equity["drawdown"].min()
    assert sampled["equity"].iloc[-1] == equity["equity"].iloc[-1]
    assert len(downsample_ohlcv(bars.iloc[:100])) == 100
    computed = downsample_equity(equity.drop(columns="drawdown"))
    assert computed["drawdown"].min() == equity["drawdown"].min()


def test_downsampled_equity_keeps_a_one_bar_crash_and_peak_at_their_times() -> None:
    bars = make_bars(20_000)
    equity = make_equity(bars.index)
    crash, peak = equity.index[7_777], equity.index[12_345]
    equity.loc[crash, "equity"] = equity["equity"].min() / 2
    equity.loc[peak, "equity"] = equity["equity"].max() * 2
    sampled = downsample_equity(equity)
    assert len(sampled) <= MAX_POINTS
    assert sampled["equity"].idxmin() == crash and sampled["equity"].idxmax() == peak
    assert sampled.index[0] == equity.index[0] and sampled.index[-1] == equity.index[-1]
    assert set(sampled.index) <= set(equity.index)  # real rows at their own times


def test_year_of_minute_bars_stays_small(tmp_path: Path) -> None:
    bars = make_bars(525_600)
    equity = make_equity(bars.index)
    trades = make_trades("BTC/USDT", bars, ["long", "short"] * 50)
    stats = compute_stats(
        equity,
        trades,
        initial_equity=10_000.0,
        fees=1.0,
        in_market=np.ones(len(equity), dtype=bool),
    )
    path = write_report(
        tmp_path / "big.html",
        title="Year",
        bars={"BTC/USDT": bars},
        trades=trades,
        equity=equity,
        stats=stats,
    )
    assert path.stat().st_size < 8_000_000
    document = path.read_text(encoding="utf-8")
    candles = plot_data(document, "genebot-candles-0")[0]
    assert len(candles["x"]) <= MAX_POINTS
    assert len(plot_data(document, "genebot-equity")[0]["x"]) <= MAX_POINTS
