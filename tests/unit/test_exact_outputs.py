"""Exact outputs (issue 13 §4, §6): no float between the ledger and trades.csv, orders.csv,
stats.json or the report; entry and exit prices computed the same way; whole-second durations.

The precision rules (README "Outputs"): a trade's entry and exit price is the fill-weighted
average Σ(price × qty) / Σ qty of that side's fills, exact; one price is that price on its tick,
several are rounded half-even to 4 decimals beyond the finest fill price (trailing zeros below
the tick dropped). pnl and fees are on the money quantum, pnl_pct has 10 decimals.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genebot.backtest as bt
from genebot.backtest.result import (
    MONEY_STATS,
    PNL_PCT_DECIMALS,
    orders_frame,
    stats_json,
    trades_frame,
    write_trades_csv,
)
from genebot.domain.events import OrderFilled, OrderInitialized, OrderSubmitted
from genebot.domain.orders import Order
from genebot.domain.position import AVERAGE_EXTRA_DECIMALS, ClosedTrade, Position, average_price
from genebot.reporting.formatting import DURATION_KEYS, format_stat
from genebot.testkit import ma_config

D = Decimal
IID = "X/USDT@sim"
LOT = D("0.001")
MINUTE = 60_000_000_000


# -- building blocks --------------------------------------------------------------------------
def _order(cid: str, side: str, fills: list[tuple[Decimal, Decimal]], ts: int) -> Order:
    qty = sum((q for _, q in fills), D(0))
    order = Order(
        OrderInitialized(
            cid, "s", IID, side, "MARKET", qty, None, None, "GTC", False, "signal", None, None,
            ts, ts,
        )
    )  # fmt: skip
    order.apply(OrderSubmitted(cid, ts, ts))
    for n, (px, q) in enumerate(fills):
        order.apply(OrderFilled(cid, f"{cid}-{n}", IID, side, q, px, D(0), "USDT", "TAKER", ts, ts))
    return order


def _round_trip(
    entry: list[tuple[Decimal, Decimal]], exit_: list[tuple[Decimal, Decimal]], long: bool = True
) -> tuple[ClosedTrade, Order, Order]:
    """A position that fills ``entry`` (one order) then ``exit_`` (another), no fees: the
    trade and the two orders."""
    pos = Position("s", IID)
    buy, sell = ("BUY", "SELL") if long else ("SELL", "BUY")
    for px, q in entry:
        pos.apply_fill(buy, q, px, D(0), MINUTE, "signal")
    closed = []
    for px, q in exit_:
        closed += pos.apply_fill(sell, q, px, D(0), 2 * MINUTE, "signal")[1]
    assert len(closed) == 1 and pos.is_flat
    return closed[0], _order("O-1", buy, entry, MINUTE), _order("O-2", sell, exit_, 2 * MINUTE)


def _expected(fills: list[tuple[Decimal, Decimal]]) -> Fraction:
    value = sum((Fraction(px) * Fraction(q) for px, q in fills), Fraction(0))
    return value / sum((Fraction(q) for _, q in fills), Fraction(0))


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


TICKS = [D("0.01"), D("0.5"), D("1"), D("0.00001"), D("0.25")]


@st.composite
def fills(
    draw: st.DrawFn, tick: Decimal, total_lots: int | None = None
) -> list[tuple[Decimal, Decimal]]:
    """1–4 fills on the ``tick`` grid, quantities in lots (summing to ``total_lots``)."""
    n = draw(st.integers(1, 4))
    if total_lots is None:
        lots = [draw(st.integers(1, 5_000)) for _ in range(n)]
    else:
        n = min(n, total_lots)
        cuts = (
            draw(st.sets(st.integers(1, total_lots - 1), min_size=n - 1, max_size=n - 1))
            if n > 1
            else set()
        )
        bounds = [0, *sorted(cuts), total_lots]
        lots = [b - a for a, b in itertools.pairwise(bounds)]
    prices = [draw(st.integers(1, 2_000_000)) * tick for _ in lots]
    return [(px, lot * LOT) for px, lot in zip(prices, lots, strict=True)]


# -- the property: written prices are the exact fill-weighted averages ------------------------
@settings(max_examples=120, deadline=None)
@given(data=st.data(), tick=st.sampled_from(TICKS), long=st.booleans())
def test_written_prices_are_the_fill_weighted_averages_and_orders_agree(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, tick: Decimal, long: bool
) -> None:
    entry = data.draw(fills(tick))
    total = int(sum((q for _, q in entry), D(0)) / LOT)
    exit_ = data.draw(fills(tick, total))
    trade, entry_order, exit_order = _round_trip(entry, exit_, long)
    out = tmp_path_factory.mktemp("csv")
    write_trades_csv(trades_frame([trade]), out / "trades.csv")
    orders_frame([entry_order, exit_order]).to_csv(out / "orders.csv", index=False)
    [row] = _read_csv(out / "trades.csv")
    orders = _read_csv(out / "orders.csv")
    for column, side_fills, order in (
        ("entry_price", entry, orders[0]),
        ("exit_price", exit_, orders[1]),
    ):
        text = row[column]
        exact = _expected(side_fills)
        assert D(text) == D(order["avg_price"])  # orders.csv agrees with trades.csv
        if len({px for px, _ in side_fills}) == 1:  # one price: that price, on the tick
            assert text == f"{side_fills[0][0]:f}"
            continue
        finest = min(int(px.as_tuple().exponent) for px, _ in side_fills)
        places = finest - AVERAGE_EXTRA_DECIMALS
        assert _decimals(text) <= -places  # no noise beyond the documented precision
        assert abs(Fraction(D(text)) - exact) <= Fraction(10) ** places / 2
        if (exact * Fraction(10) ** -places).denominator == 1:  # representable: exactly it
            assert Fraction(D(text)) == exact
    assert D(row["quantity"]) == sum((q for _, q in entry), D(0))
    assert _decimals(row["pnl_pct"]) == PNL_PCT_DECIMALS


@settings(max_examples=60, deadline=None)
@given(data=st.data(), tick=st.sampled_from(TICKS))
def test_entry_and_exit_prices_are_computed_the_same_way(
    data: st.DataObject, tick: Decimal
) -> None:
    first = data.draw(fills(tick))
    lots = int(sum((q for _, q in first), D(0)) / LOT)
    second = data.draw(fills(tick, lots))
    there, *_ = _round_trip(first, second)
    back, *_ = _round_trip(second, first)
    assert (there.entry_price, there.exit_price) == (back.exit_price, back.entry_price)


def test_average_price_by_hand() -> None:
    assert average_price(D("200.02"), D(2), -2) == D("100.01")  # exact: no trailing zeros
    assert average_price(D("200.01"), D(2), -2) == D("100.005000")  # 4 decimals beyond
    assert average_price(D("300.00"), D(3), -2) == D("100.00")  # never fewer than the tick
    assert average_price(D(1), D(3), -2) == D("0.333333")
    assert average_price(D("0.0000025"), D(1), -2) == D("0.000002")  # half-even, exactly
    assert average_price(D("0.0000035"), D(1), -2) == D("0.000004")
    assert average_price(D(-1), D(3), 0) == D("-0.3333")


def test_asymmetry_of_old_is_gone_with_a_coarse_money_quantum() -> None:
    # The entry used to be the notional rounded to the money quantum / quantity: 0.0034281
    # bought 0.7 at a 0.01 quantum became 0.00342857142857... in trades.csv.
    pos = Position("s", IID, quantum=D("0.01"))
    pos.apply_fill("BUY", D("0.7"), D("0.0034281"), D(0), 1, "signal")
    _, [trade] = pos.apply_fill("SELL", D("0.7"), D("0.0034299"), D(0), 2, "signal")
    assert (trade.entry_price, trade.exit_price) == (D("0.0034281"), D("0.0034299"))


def test_stats_json_writes_decimals_as_exact_numbers() -> None:
    stats = {"final_equity": D("100532.88883570"), "fees": D("0.00000010"), "sharpe": 0.5}
    text = stats_json({**stats, "risk_summary": {"rules": [{"x": D("1.50")}]}})
    assert '"final_equity": 100532.88883570,' in text and '"fees": 0.00000010,' in text
    loaded = json.loads(text, parse_float=Decimal)
    assert loaded["final_equity"] == D("100532.88883570") and loaded["sharpe"] == D("0.5")
    assert loaded["risk_summary"]["rules"][0]["x"] == D("1.50")


def test_durations_show_whole_seconds() -> None:
    assert format_stat("avg_trade_duration", 5144) == "0 days 01:25:44"
    assert format_stat("max_drawdown_duration", 3 * 86_400 + 3_600) == "3 days 01:00:00"
    assert format_stat("duration", 86_400) == "1 day 00:00:00"
    # an older stored run's pandas text, rounded half-even
    assert format_stat("avg_trade_duration", "0 days 01:25:44.680851063") == "0 days 01:25:45"
    assert format_stat("avg_trade_duration", "0 days 01:25:44.500000000") == "0 days 01:25:44"


# -- the bundled sample data: golden text, no noise, files agree ------------------------------
# Re-pinned from the exact values when this file was written: against the float output before
# it, the same 244 trades at the same times with the same prices, quantities, pnl and fees
# (pnl_pct within 5e-11 of the float, now 10 decimals).
TRADES_HEAD = """\
strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,quantity,pnl,pnl_pct,fees,exit_reason
moving_average,BTC/USDT,long,2021-05-01T01:55:00Z,58444.06,2021-05-01T03:10:00Z,58075.52,1.00000,-485.05958000,-0.0082995531,116.51958000,signal
moving_average,BTC/USDT,long,2021-05-01T04:05:00Z,58047.85,2021-05-01T04:35:00Z,57875.99,1.00000,-287.78384000,-0.0049577002,115.92384000,signal
"""
TRADES_SHA256 = "9def68d82e1c40e667a46ea04195e98d312b8d83ca8cd1549f5e381535600bf7"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[bt.BacktestResult, Path]:
    result = bt.run(ma_config("BTC/USDT", "5m", 1.0))
    out = tmp_path_factory.mktemp("sample")
    result.write(out)
    return result, out


def test_sample_trades_csv_is_stable(sample: tuple[bt.BacktestResult, Path]) -> None:
    _, out = sample
    text = (out / "trades.csv").read_text()
    assert text.startswith(TRADES_HEAD)
    assert len(text.splitlines()) == 245  # header + the golden master's 244 trades
    assert hashlib.sha256(text.encode()).hexdigest() == TRADES_SHA256


def test_sample_outputs_carry_no_float_noise(sample: tuple[bt.BacktestResult, Path]) -> None:
    result, out = sample
    for row in _read_csv(out / "trades.csv"):
        for col in ("entry_price", "exit_price"):
            assert _decimals(row[col]) <= 2  # BTC/USDT's tick is 0.01: one fill per side
        assert _decimals(row["quantity"]) <= 8
        assert _decimals(row["pnl"]) <= 8 and _decimals(row["fees"]) <= 8
        assert _decimals(row["pnl_pct"]) == PNL_PCT_DECIMALS
    stats_text = (out / "stats.json").read_text()
    for key, text in json.loads(stats_text, parse_float=lambda t: t).items():
        if not isinstance(text, str) or not re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", text):
            continue
        if key in MONEY_STATS:
            assert _decimals(text) == 8, (key, text)  # the USDT quantum, exact
        else:  # ratios: at most 10 significant digits (no 0.30000000000000004)
            digits = text.split("e")[0].lstrip("-").replace(".", "").strip("0")
            assert len(digits) <= 10, (key, text)
    stats = json.loads(stats_text, parse_float=Decimal)
    assert stats["final_equity"] == result.final_equity_exact
    assert all(isinstance(stats[k], int) for k in DURATION_KEYS if stats[k] is not None)
    for key in DURATION_KEYS:
        assert "." not in format_stat(key, stats[key])
    report = (out / "report.html").read_text()
    assert not re.search(r"days? \d{2}:\d{2}:\d{2}\.\d", report)  # no sub-second durations
    for line in (out / "equity.csv").read_text().splitlines()[1:3]:
        assert all(_decimals(v) == 8 for v in line.split(",")[1:])  # the USDT quantum


def test_sample_orders_agree_with_trades(sample: tuple[bt.BacktestResult, Path]) -> None:
    _, out = sample
    filled = [o for o in _read_csv(out / "orders.csv") if o["status"] == "FILLED"]
    by_time = {(o["updated"], o["side"]): D(o["avg_price"]) for o in filled}
    trades = _read_csv(out / "trades.csv")
    for row in trades:
        assert by_time[(row["entry_time"], "BUY")] == D(row["entry_price"])
        assert by_time[(row["exit_time"], "SELL")] == D(row["exit_price"])
    exact = pd.read_csv(out / "trades.csv", dtype=str)
    assert list(exact["entry_price"]) == [r["entry_price"] for r in trades]


def test_the_report_gets_the_exact_trades(
    sample: tuple[bt.BacktestResult, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import genebot.backtest.result as result_module

    seen: dict[str, object] = {}

    def capture(path: Path, **kwargs: object) -> Path:
        seen.update(kwargs)
        return Path(path)

    monkeypatch.setattr(result_module, "write_report", capture)
    result, _ = sample
    result.write(tmp_path)
    trades = seen["trades"]
    assert isinstance(trades, pd.DataFrame) and len(trades) == 245  # 244 closed + 1 open
    assert all(isinstance(v, Decimal) for v in trades["entry_price"])
    assert isinstance(result.trades["entry_price"].iloc[0], float)  # analysis: floats
    stats = seen["stats"]
    assert isinstance(stats, dict) and stats["final_equity"] == result.final_equity_exact
