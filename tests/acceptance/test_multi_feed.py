"""Many instruments, timeframes and venues in one run; margin shorts; slippage models."""

from __future__ import annotations

import pandas as pd
import pytest
import strategies_for_tests as sft

import genebot.backtest as bt
from genebot.testkit import gbm_bars, ma_config

HOUR = 3_600_000_000_000
FIVE_MIN = 300_000_000_000


def test_timeframes_and_symbols_replay_in_time_order() -> None:
    sft.SEEN.clear()
    cfg = ma_config("BTC/USDT", "5m", 0.01, start_date="2021-05-03", end_date="2021-05-06")
    strategy = cfg["strategies"]["moving_average"]
    strategy.update(
        type="strategies_for_tests:Recorder",
        symbols=["BTC/USDT", "ETH/USDT"],
        timeframes=["5m", "1h"],
    )
    result = bt.run(cfg, engine_mode="per_bar")
    known = [ts + tf for _, tf, ts in sft.SEEN]
    assert known == sorted(known)  # every bar is seen once it has closed, in time order
    assert {(s, tf) for s, tf, _ in sft.SEEN} == {
        (s, tf) for s in ("BTC/USDT", "ETH/USDT") for tf in (FIVE_MIN, HOUR)
    }
    # At one close time the 5m bars come before the 1h bar that closes with them.
    first_hour = next(i for i, (_, tf, _) in enumerate(sft.SEEN) if tf == HOUR)
    same_close = [tf for (_, tf, ts) in sft.SEEN if ts + tf == known[first_hour]]
    assert same_close.index(HOUR) > same_close.index(FIVE_MIN)
    # An order decided on a 1h bar fills at the next 5m bar's open (the finest feed).
    orders = result.orders[result.orders["status"] == "FILLED"]
    created = pd.to_datetime(orders["created"], utc=True)
    filled = pd.to_datetime(orders["updated"], utc=True)
    assert ((filled - created) == pd.Timedelta(0)).all()  # fill at the open right after close
    assert len(orders) > 0


def test_several_venues_in_one_run_split_the_cash() -> None:
    data = {"SYN/USDT": gbm_bars(6_000, seed=4)}
    cfg = {
        "exchanges": {
            "alpha": {"account_type": "spot"},
            "beta": {"account_type": "spot", "taker_fee": 0.002},
        },
        "backtest": {"initial_cash": 100_000},
        "strategies": {
            name: {
                "type": "moving_average",
                "venue": name,
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
                "position_sizing": {"method": "fixed_quantity", "quantity": 10},
            }
            for name in ("alpha", "beta")
        },
        # one account-wide risk engine would deny whichever venue's order comes second
        "risk_management": {"enabled": False},
    }
    result = bt.run(cfg, data)
    assert set(result.orders["venue"]) == {"alpha", "beta"}
    fees = result.trades.groupby("strategy")["fees"].sum()
    assert fees["beta"] == pytest.approx(2 * fees["alpha"], rel=1e-3)  # same trades, 2x fee
    assert result.stats["initial_equity"] == 100_000
    assert float(result.final_equity_exact) == pytest.approx(result.stats["final_equity"])


def test_margin_venue_trades_short_and_spot_refuses() -> None:
    data = {"SYN/USDT": gbm_bars(6_000, seed=8)}
    cfg = ma_config("SYN/USDT", "1m", 10.0)
    cfg["strategies"]["moving_average"]["type"] = "strategies_for_tests:ShortMA"
    cfg["exchanges"] = {"sim": {"account_type": "margin", "leverage": 1}}
    cfg["strategies"]["moving_average"]["venue"] = "sim"
    margin = bt.run(cfg, data)
    assert set(margin.trades["side"]) == {"long", "short"}
    shorts = margin.trades[margin.trades["side"] == "short"]
    expected = (shorts.entry_price - shorts.exit_price) * shorts.quantity - shorts.fees
    assert (shorts["pnl"] - expected).abs().max() < 1e-6
    assert float(margin.final_equity_exact) == pytest.approx(margin.stats["final_equity"])

    cfg["exchanges"] = {"sim": {"account_type": "spot"}}
    spot = bt.run(cfg, data)
    assert set(spot.trades["side"]) == {"long"}
    denied = spot.orders[spot.orders["status"] == "DENIED"]
    assert len(denied) > 0 and denied["reason"].str.contains("no shorting on spot").all()


def test_volume_share_slippage_costs_more_on_thin_bars() -> None:
    frame = gbm_bars(4_000, seed=6)
    plain = bt.run(ma_config("SYN/USDT", "1m", 10.0), {"SYN/USDT": frame})
    thin = bt.run(
        ma_config("SYN/USDT", "1m", 10.0, slippage_model="volume_share", price_impact=0.5),
        {"SYN/USDT": frame},
    )
    assert len(thin.trades) == len(plain.trades)
    worse_entries = (thin.trades.entry_price >= plain.trades.entry_price).all()
    worse_exits = (thin.trades.exit_price <= plain.trades.exit_price).all()
    assert worse_entries and worse_exits
    assert thin.stats["final_equity"] < plain.stats["final_equity"]
