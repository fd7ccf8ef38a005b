"""Rollover financing and the carry strategy: swap accrual shows up in PnL, exactly."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.backtest.lookahead import check_lookahead

NY = ZoneInfo("America/New_York")


def flat_eurusd(start: str = "2018-03-05", days: int = 21, price: float = 1.2) -> pd.DataFrame:
    idx = pd.date_range(start, periods=days * 24, freq="1h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": price, "high": price, "low": price, "close": price, "volume": 0.0}, index=idx
    )


def carry_config(
    qty: float = 50_000, markup: float = 0.0, account: str | None = None, **rates: float
) -> dict:
    cfg: dict = {
        "backtest": {
            "initial_cash": 100_000,
            "fee": 0.0,
            "interest_rates": rates or {"EUR": 0.05, "USD": 0.01},
            "rollover": {"markup": markup},
        },
        "risk_management": {"enabled": False},
        "strategies": {
            "carry": {
                "type": "forex_carry",
                "symbols": ["EUR/USD"],
                "timeframes": ["1h"],
                "position_sizing": {"method": "fixed_quantity", "quantity": qty},
            }
        },
    }
    if account:
        cfg["exchanges"] = {"fx": {"account_type": account}}
        cfg["strategies"]["carry"]["venue"] = "fx"
    return cfg


def expected_swaps(
    frame: pd.DataFrame, qty: Decimal, yearly: Decimal, entry: pd.Timestamp
) -> Decimal:
    """Independent day count: 17:00 New York rollovers after the entry, ×3 on Wednesday, none
    on Saturday and Sunday, each rounded to the cent."""
    total = Decimal(0)
    day = datetime(entry.year, entry.month, entry.day, 17, tzinfo=NY) - timedelta(days=1)
    end = frame.index[-1].to_pydatetime()
    while day <= end:
        if day >= entry.to_pydatetime() and day.weekday() < 5:
            days = 3 if day.weekday() == 2 else 1
            swap = qty * Decimal("1.2") * yearly * days / Decimal(365)
            total += swap.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        day = (day + timedelta(days=1)).replace(hour=17)
    return total


def test_swap_accrual_alone_makes_the_pnl() -> None:
    frame = flat_eurusd()
    result = bt.run(carry_config(), {"EUR/USD": frame}, engine_mode="per_bar")
    entry = pd.Timestamp(result.orders.iloc[0]["updated"])
    swaps = expected_swaps(frame, Decimal(50_000), Decimal("0.04"), entry)
    assert swaps > 0
    assert result.final_equity_exact == Decimal(100_000) + swaps  # flat prices, no fees
    ledger_financing = result.stats["final_equity"] - 100_000
    assert ledger_financing == pytest.approx(float(swaps), abs=1e-9)


def test_markup_costs_the_carry_trader() -> None:
    frame = flat_eurusd()
    plain = bt.run(carry_config(), {"EUR/USD": frame})
    marked = bt.run(carry_config(markup=0.01), {"EUR/USD": frame})
    entry = pd.Timestamp(plain.orders.iloc[0]["updated"])
    assert marked.final_equity_exact - 100_000 == expected_swaps(
        frame, Decimal(50_000), Decimal("0.03"), entry
    )
    assert marked.final_equity_exact < plain.final_equity_exact


def test_short_carry_earns_when_the_quote_yields_more() -> None:
    frame = flat_eurusd()
    result = bt.run(carry_config(EUR=-0.004, USD=0.0175), {"EUR/USD": frame})
    assert result.orders.iloc[0]["side"] == "SELL"
    entry = pd.Timestamp(result.orders.iloc[0]["updated"])
    assert result.final_equity_exact - 100_000 == expected_swaps(
        frame, Decimal(50_000), Decimal("0.0215"), entry
    )


def test_spot_accounts_earn_no_rollover() -> None:
    result = bt.run(carry_config(account="spot", qty=10_000), {"EUR/USD": flat_eurusd()})
    assert result.final_equity_exact == Decimal(100_000)


def test_carry_on_real_eurusd_2018_fast_equals_per_bar_and_passes_lookahead() -> None:
    cfg = {
        "backtest": {"initial_cash": 100_000, "fee": 0.0001},
        "risk_management": {"enabled": False},
        "strategies": {
            "carry": {
                "type": "ForexCarryTradeStrategy",
                "symbols": ["EUR/USD"],
                "timeframes": ["1h"],
                "position_sizing": {"method": "percent_equity", "fraction": 0.5},
            }
        },
    }
    per_bar = bt.run(cfg, engine_mode="per_bar")
    fast = bt.run(cfg, engine_mode="fast")
    pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
    assert per_bar.final_equity_exact == fast.final_equity_exact
    assert per_bar.orders.iloc[0]["side"] == "SELL"  # 2018: USD yields more than EUR
    assert check_lookahead(cfg).passed
    # Golden master on the bundled EUR/USD 2018 with the bundled 2018 policy rates.
    assert per_bar.stats["orders"] == 1
    assert str(per_bar.final_equity_exact) == "103404.95573"
