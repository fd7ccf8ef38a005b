"""The report's trader sections: the risk table and its shaded periods, the sortable trades
table, the monthly returns heatmap and the per-symbol / per-strategy breakdowns, checked against
numbers computed by hand, and on a real backtest."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.reporting import report_sections as rs
from genebot.testkit import gbm_bars

SUMMARY = {
    "rules": [
        {"rule": "consecutive_losses", "first_fired": "2024-01-01T05:00:00Z", "fired": 2,
         "denied": 7, "resized": 0, "reset_policy": "daily", "resets": 1, "reset_by": "daily ×1"},
        {"rule": "max_position_size", "first_fired": "2024-01-01T01:00:00Z", "fired": 0,
         "denied": 0, "resized": 3, "reset_policy": "none", "resets": 0, "reset_by": ""},
    ],
    "halted_periods": [
        {"rule": "consecutive_losses", "state": "halted", "start": "2024-01-01T05:00:00Z",
         "end": "2024-01-02T00:00:00Z"},
        {"rule": "performance", "state": "reducing", "start": "2024-01-03T00:00:00Z", "end": None},
    ],
    "orders_total": 12, "orders_denied": 7,
    "warnings": ["risk rule consecutive_losses denied 7 of 12 orders (58%): ..."],
}  # fmt: skip


def test_monthly_returns_by_hand() -> None:
    index = pd.to_datetime(
        ["2024-01-01", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-31"], utc=True
    )
    equity = pd.Series([100.0, 110.0, 90.0, 99.0, 108.9], index=index)
    table = rs.monthly_returns(equity)
    assert table.loc[2024, 1] == pytest.approx(0.10)  # 110 / 100
    assert table.loc[2024, 2] == pytest.approx(-0.10)  # 99 / 110
    assert table.loc[2024, 3] == pytest.approx(0.10)  # 108.9 / 99
    assert np.isnan(table.loc[2024, 4])
    assert table.loc[2024, "year"] == pytest.approx(0.089)  # 108.9 / 100


def trades() -> pd.DataFrame:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    rows = [  # strategy, symbol, pnl, pnl_pct, fees
        ("a", "BTC/USDT", 10.0, 0.01, 1.0),
        ("a", "BTC/USDT", -5.0, -0.005, 1.0),
        ("b", "ETH/USDT", 20.0, 0.04, 2.0),
    ]
    return pd.DataFrame(
        [{"strategy": s, "symbol": y, "side": "long", "entry_time": t, "entry_price": 1.0,
          "exit_time": t + pd.Timedelta(hours=k + 1), "exit_price": 1.0, "quantity": 1.0,
          "pnl": p, "pnl_pct": q, "fees": f, "exit_reason": "signal"}
         for k, (s, y, p, q, f) in enumerate(rows)]
    )  # fmt: skip


def test_breakdowns_equal_the_trades() -> None:
    by_symbol = rs.breakdown(trades(), "symbol").set_index("symbol")
    btc = by_symbol.loc["BTC/USDT"]
    assert (btc.trades, btc.win_rate, btc.net_pnl, btc.fees) == (2, 0.5, 5.0, 2.0)
    assert btc.profit_factor == pytest.approx(2.0) and btc.worst_pct == pytest.approx(-0.005)
    by_strategy = rs.breakdown(trades(), "strategy").set_index("strategy")
    assert by_strategy.loc["b"].profit_factor is None or np.isnan(
        by_strategy.loc["b"].profit_factor
    )


def test_trades_table_has_a_row_per_trade_and_caps_long_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = rs.trades_table(trades())
    assert page.count("<tr>") == 1 + 3 and 'class="sortable"' in page and "filter" in page
    monkeypatch.setattr(rs, "MAX_TRADE_ROWS", 2)
    capped = rs.trades_table(trades())
    assert capped.count("<tr>") == 1 + 2 and "3 trades: the first and last 1 are shown" in capped


def test_risk_table_and_warnings() -> None:
    page = rs.risk_section(SUMMARY)
    assert page.count("<tr>") == 1 + 2
    assert "consecutive_losses denied 7 of 12" in page and "7 of 12 orders" in page
    assert "daily ×1" in page
    assert "denied, resized and halted nothing" in rs.risk_section({"rules": []})


def test_halted_periods_are_shaded_on_the_equity_chart() -> None:
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    end = pd.Timestamp("2024-01-05", tz="UTC")
    assert rs.shade_halts(figure, SUMMARY, end) == 2
    shapes = figure.layout.shapes
    assert pd.Timestamp(shapes[0].x0) == pd.Timestamp("2024-01-01T05:00:00Z")
    assert pd.Timestamp(shapes[0].x1) == pd.Timestamp("2024-01-02T00:00:00Z")
    assert pd.Timestamp(shapes[1].x1) == end  # still reducing at the end
    assert "214, 39, 40" in shapes[0].fillcolor and "255, 159, 28" in shapes[1].fillcolor


def test_a_real_report_carries_every_section(tmp_path: Path) -> None:
    cfg = {
        "backtest": {"initial_cash": 100_000},
        "strategies": {"moving_average": {"symbols": ["SYN/USDT"], "timeframes": ["1m"],
                       "position_sizing": {"method": "percent_equity", "fraction": 0.05}}},
    }  # fmt: skip
    result = bt.run(cfg, {"SYN/USDT": gbm_bars(20_000, seed=3)})
    result.write(tmp_path)
    page = (tmp_path / "report.html").read_text()
    for heading in ("Risk", "Monthly returns", "Trades", "By symbol", "By strategy"):
        assert f"<h2>{heading}</h2>" in page
    trade_rows = re.search(r'<table id="genebot-trades".*?</table>', page, re.S)
    assert trade_rows is not None
    assert trade_rows.group(0).count("<tr>") == 1 + min(len(result.trades), rs.MAX_TRADE_ROWS)
    periods = result.risk_summary["halted_periods"]
    assert periods, "the seed profile halts this strategy at least once"
    assert page.count('"type":"rect"') >= len(periods)
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page)  # self-contained
