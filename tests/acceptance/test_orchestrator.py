"""The orchestrator on the bundled Binance BTC/USDT and ETH/USDT 5m data (May 2021): four
built-in strategies in sleeves of one account, pinned; sleeves add up to the account at every
bar; triggers, bounds, interventions and portfolio risk."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import assemble, run
from genebot.backtest.setup import build
from genebot.config.loader import load_config
from genebot.orchestrator.commands import PauseStrategy
from genebot.system.loops import run_per_bar

ROOT = Path(__file__).resolve().parents[2]
FOUR = [
    {"name": "ma_btc", "type": "moving_average", "symbols": ["BTC/USDT"]},
    {"name": "rsi_eth", "type": "rsi_strategy", "symbols": ["ETH/USDT"]},
    {"name": "meanrev_btc", "type": "mean_reversion", "symbols": ["BTC/USDT"]},
    {"name": "momentum_eth", "type": "advanced_momentum", "symbols": ["ETH/USDT"]},
]


def config(**orchestrator: Any) -> dict[str, Any]:
    strategies = orchestrator.pop("strategies", FOUR)
    return {
        "risk_management": {"enabled": False},
        "backtest": {"initial_cash": 100_000, "fee": 0.001, "data_dir": str(ROOT / "data/sample")},
        "orchestrator": {
            "allocation_method": "risk_parity",
            "rebalance_frequency": "weekly",
            "lookback_days": 14,
            "min_allocation": 0.1,
            "max_allocation": 0.5,
            "triggers": {"correlation_spike": 0.8},
            "strategies": [{**s, "timeframes": ["5m"]} for s in strategies],
            **orchestrator,
        },
    }


@pytest.fixture(scope="module")
def four() -> BacktestResult:
    return run(config())


def test_four_strategies_pinned(four: BacktestResult) -> None:
    o = four.orchestration
    assert o is not None
    assert str(four.final_equity_exact) == "97414.73459157"
    assert four.stats["trades"] == 710
    triggers = o.allocations.drop_duplicates("timestamp")["trigger"].tolist()
    assert triggers == [
        "initial",
        "schedule: weekly",
        "correlation_spike: 0.93 > 0.80",
        "schedule: weekly",
        "correlation_spike: 0.85 > 0.80",
        "schedule: weekly",
        "correlation_spike: 0.85 > 0.80",
        "schedule: weekly",
        "schedule: weekly",
    ]
    assert o.attribution["trades"].tolist() == [244, 27, 187, 252]


def test_portfolio_equity_is_the_sum_of_the_sleeves_at_every_bar(four: BacktestResult) -> None:
    o = four.orchestration
    assert o is not None
    assert len(o.sleeves) == len(four.equity) > 8000
    gap = (o.sleeves.sum(axis=1) - four.equity["equity"]).abs()
    assert gap.max() < 1e-6


def test_contributions_add_up_to_the_return(four: BacktestResult) -> None:
    o = four.orchestration
    assert o is not None
    pnl = sum(Decimal(x) for x in o.attribution["pnl"])
    assert pnl == four.final_equity_exact - 100_000  # exact
    assert o.attribution["contribution"].sum() == pytest.approx(four.stats["total_return"])


def test_every_rebalance_holds_the_bounds_and_sums_to_one(four: BacktestResult) -> None:
    o = four.orchestration
    assert o is not None
    for _, group in o.allocations.groupby("timestamp"):
        assert group["weight"].sum() == pytest.approx(1)
        assert group["weight"].between(0.1 - 1e-9, 0.5 + 1e-9).all()
        assert list(group["strategy"]) == ["ma_btc", "rsi_eth", "meanrev_btc", "momentum_eth"]
    weekly = o.allocations[o.allocations["trigger"] == "schedule: weekly"]
    days = pd.to_datetime(weekly["timestamp"]).dt.day_of_week
    assert set(days) == {0}  # Mondays


def test_allocation_changes_are_logged_as_json(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="genebot.orchestrator"):
        run(config(), engine_mode="per_bar")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALLOCATION")]
    first = json.loads(lines[0].split(" ", 1)[1])
    assert first["trigger"] == "initial" and sum(first["weights"].values()) == pytest.approx(1)
    assert len(lines) == 9


def test_a_correlated_pair_triggers_a_rebalance_and_pauses_the_weaker() -> None:
    twins = [
        {"name": "ma_a", "type": "moving_average", "symbols": ["BTC/USDT"]},
        {"name": "ma_b", "type": "moving_average", "symbols": ["BTC/USDT"]},
        {"name": "rsi", "type": "rsi_strategy", "symbols": ["ETH/USDT"]},
    ]
    result = run(
        config(
            strategies=twins,
            allocation_method="equal_weight",
            rebalance_frequency="never",
            min_allocation=0.0,
            max_allocation=1.0,
            triggers={"correlation_spike": 0.9},
            risk={"max_strategy_correlation": 0.95, "correlation_action": "pause"},
        )
    )
    o = result.orchestration
    assert o is not None
    spikes = o.allocations[o.allocations["trigger"].str.startswith("correlation_spike")]
    assert set(spikes["trigger"]) == {"correlation_spike: 1.00 > 0.90"}  # the twins
    (pause,) = o.interventions.itertuples()
    assert (pause.command, pause.strategy, pause.who) == ("pause_strategy", "ma_b", "orchestrator")
    after = spikes[spikes["strategy"] == "ma_b"]["weight"]
    assert (after == 0).all()
    paused_at = pd.Timestamp(pause.timestamp)
    entries = result.trades[result.trades["strategy"] == "ma_b"]["entry_time"]
    assert (entries < paused_at).all()


def test_scheduled_interventions_pause_resume_and_stop() -> None:
    result = run(
        config(
            interventions=[
                {"at": "2021-05-08", "command": "pause_strategy", "strategy": "ma_btc",
                 "reason": "news", "who": "alice"},
                {"at": "2021-05-15", "command": "resume_strategy", "strategy": "ma_btc",
                 "reason": "calm again", "who": "alice"},
                {"at": "2021-05-25", "command": "emergency_stop", "reason": "exchange outage",
                 "who": "bob"},
            ]
        )
    )  # fmt: skip
    o = result.orchestration
    assert o is not None
    rows = o.interventions
    assert rows["command"].tolist() == ["pause_strategy", "resume_strategy", "emergency_stop"]
    assert rows["who"].tolist() == ["alice", "alice", "bob"]
    trades = result.trades
    ma = trades[trades["strategy"] == "ma_btc"]
    paused = (ma["entry_time"] >= "2021-05-08") & (ma["entry_time"] < "2021-05-15")
    assert not paused.any() and (ma["entry_time"] >= "2021-05-15").any()
    assert (trades["entry_time"] < "2021-05-25").all()  # nothing opened after the stop
    assert result.stats["open_positions"] == 0  # and everything was closed
    assert "resume: ma_btc" in set(o.allocations["trigger"])
    assert o.denials.get("emergency stop", 0) > 0


def test_the_position_size_limit_resizes_entries() -> None:
    result = run(config(risk={"position_size_limit": 0.02}))
    orders = result.orders
    entries = (orders["side"] == "BUY") & (orders["tag"] == "signal")  # exits are never cut
    filled = orders[(orders["status"] == "FILLED") & entries]
    notional = filled["filled_qty"].astype(float) * filled["avg_price"].astype(float)
    assert len(filled) > 100
    assert (notional <= 0.02 * 100_000 * 1.05).all()


def test_portfolio_drawdown_stops_everything() -> None:
    result = run(config(risk={"max_portfolio_drawdown": 0.005}))
    o = result.orchestration
    assert o is not None
    (stop,) = o.interventions.itertuples()
    assert (stop.command, stop.who) == ("emergency_stop", "orchestrator")
    assert "portfolio drawdown" in stop.reason
    assert (result.trades["entry_time"] < pd.Timestamp(stop.timestamp)).all()
    assert result.stats["open_positions"] == 0


def test_a_strategy_stop_loss_pauses_only_that_strategy() -> None:
    result = run(config(risk={"stop_loss_threshold": 0.01}))
    o = result.orchestration
    assert o is not None
    stops = o.interventions[o.interventions["command"] == "stop_loss"]
    assert len(stops) >= 1 and stops["who"].eq("orchestrator").all()
    first = stops.iloc[0]
    when = pd.Timestamp(first["timestamp"])
    trades = result.trades
    mine = trades["strategy"] == first["strategy"]
    assert (trades[mine]["entry_time"] < when).all()  # that strategy opens nothing more
    assert (trades[~mine]["entry_time"] > when).any()  # the others go on


def test_an_operator_command_on_the_bus_acts_at_the_next_step() -> None:
    """An API thread puts commands on the bus; the engine takes them at its next step."""
    cfg = load_config(config())
    setup = build(cfg, None)
    kernel, _ = assemble(cfg, setup)
    orchestrator = kernel.orchestrator
    assert orchestrator is not None
    at = 3000

    def operator(step: int) -> None:
        if step == at:
            orchestrator.bus.put(PauseStrategy("rsi_eth", "manual", "carol"))

    run_per_bar(kernel, None, operator)
    (record,) = orchestrator.interventions
    assert record.ts == int(kernel.timeline.step_ts[at + 1])
    assert (record.command, record.who) == ("pause_strategy", "carol")
    assert "rsi_eth" in orchestrator.paused


def test_fast_mode_is_refused_with_the_orchestrator() -> None:
    with pytest.raises(Exception, match="not available with the orchestrator"):
        run(config(), engine_mode="fast")
    assert np.isfinite(run(config(), engine_mode="auto").stats["sharpe"])


def test_auto_select_keeps_the_best_by_sharpe() -> None:
    result = run(config(auto_select={"enabled": True, "top_n": 2, "metric": "sharpe"}))
    o = result.orchestration
    assert o is not None
    later = o.allocations[pd.to_datetime(o.allocations["timestamp"]) >= "2021-05-10"]
    for _, group in later.groupby("timestamp"):
        assert (group["weight"] > 0).sum() == 2  # the two best over the lookback
        assert group["weight"].sum() == pytest.approx(1)


def test_a_degrading_strategy_triggers_a_rebalance() -> None:
    result = run(
        config(
            rebalance_frequency="never",
            triggers={"performance_degradation": 0.02},
            allocation_method="performance_based",
            min_allocation=0.0,
            max_allocation=1.0,
        )
    )
    o = result.orchestration
    assert o is not None
    degraded = o.allocations[o.allocations["trigger"].str.startswith("performance_degradation")]
    assert not degraded.empty
    name = degraded["trigger"].iloc[0].split(": ", 1)[1].split(" ")[0]
    assert name in {"ma_btc", "rsi_eth", "meanrev_btc", "momentum_eth"}


def test_equal_risk_contribution_runs_in_the_engine() -> None:
    result = run(config(risk_parity_mode="equal_risk_contribution"))
    o = result.orchestration
    assert o is not None
    last = o.allocations[o.allocations["timestamp"] == o.allocations["timestamp"].max()]
    assert last["weight"].sum() == pytest.approx(1)
    assert last["weight"].between(0.1 - 1e-9, 0.5 + 1e-9).all()
    assert last["weight"].nunique() > 1  # not simply equal
