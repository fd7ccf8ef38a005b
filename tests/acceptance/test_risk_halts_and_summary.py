"""Issue 13 §1: every halting rule resets as configured (daily | manual), the same in every
mode, and every run says which rules fired, what they denied and how they reset."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_risk_engine import events, flat_frame, scripted, with_quiet

import genebot.backtest as bt
from genebot.core.errors import ConfigError
from genebot.risk.summary import summary_lines
from genebot.testkit import gbm_bars

HOUR_BARS_PER_DAY = 24


def losing_streak_then_entries(
    streak: int, later_buys: list[int]
) -> tuple[list[float], list, list]:
    """``streak`` losing round trips on day one (bars 1..), then entries at ``later_buys``."""
    prices: list[float] = [100.0]
    buys, closes = [], []
    for _ in range(streak):
        buys.append(len(prices))
        prices += [100.0]
        closes.append(len(prices))
        prices += [99.0, 100.0]
    prices += [100.0] * (max(later_buys) + 3 - len(prices))
    return prices, buys + later_buys, closes


def streak_run(policy: str, mode: str = "auto") -> bt.BacktestResult:
    # 3 losses on 2021-03-01 (hours 1..9) halt; entries at hour 12 (same day) and hour 30 (the
    # next day, after the 00:00 UTC reset).
    prices, buys, closes = losing_streak_then_entries(3, [12, 30])
    risk = with_quiet(
        limits={"max_consecutive_losses": 3, "max_portfolio_heat": 1.0, "volatility_limit": 10.0},
        halts={"consecutive_losses": policy},
    )
    cfg = scripted(1.0, buys, closes, risk)
    cfg["backtest"]["engine_mode"] = mode
    return bt.run(cfg, {"BTC/USDT": flat_frame(prices)})


def rule_row(result: bt.BacktestResult, rule: str) -> dict:
    rows = {r["rule"]: r for r in result.risk_summary["rules"]}  # type: ignore[union-attr]
    return rows[rule]


# -- scenario table: policy → what happens the next day ---------------------------------------
@pytest.mark.parametrize(
    ("policy", "next_day_entry_passes", "resets", "reset_by", "period_end"),
    [
        ("daily", True, 1, "daily ×1", "2021-03-02T00:00:00Z"),
        ("manual", False, 0, "", None),
    ],
    ids=["daily", "manual"],
)
def test_consecutive_losses_reset_follows_its_policy(
    policy: str, next_day_entry_passes: bool, resets: int, reset_by: str, period_end: str | None
) -> None:
    result = streak_run(policy)
    assert events(result, "halt")["rule"].tolist() == ["consecutive_losses"]
    row = rule_row(result, "consecutive_losses")
    assert (row["fired"], row["reset_policy"], row["resets"], row["reset_by"]) == (
        1,
        policy,
        resets,
        reset_by,
    )
    # the same-day entry is always denied; the next day's passes only with a daily reset
    assert row["denied"] == (1 if next_day_entry_passes else 2)
    assert (result.stats["open_positions"] == 1) is next_day_entry_passes
    period = result.risk_summary["halted_periods"]
    assert period == [
        {
            "rule": "consecutive_losses",
            "state": "halted",
            "start": row["first_fired"],
            "end": period_end,
        }
    ]
    resets_logged = events(result, "reset")
    if policy == "daily":
        assert resets_logged["timestamp"].tolist() == ["2021-03-02T00:00:00Z"]
        assert resets_logged["detail"].iloc[0].startswith("daily")
    else:
        assert resets_logged.empty


@pytest.mark.parametrize("policy", ["daily", "manual"])
def test_the_seed_profile_decides_the_same_in_per_bar_and_fast_mode(policy: str) -> None:
    """SMA 10/20 on 20,000 random 1m bars with the default (seed) risk profile: halts, resets
    and denials are identical whichever loop runs."""

    def run(mode: str) -> bt.BacktestResult:
        cfg = {
            "backtest": {"initial_cash": 100_000, "engine_mode": mode},
            "strategies": {
                "moving_average": {
                    "symbols": ["SYN/USDT"],
                    "timeframes": ["1m"],
                    "position_sizing": {"method": "percent_equity", "fraction": 0.05},
                }
            },
            "risk_management": {"halts": {"consecutive_losses": policy}},
        }
        return bt.run(cfg, {"SYN/USDT": gbm_bars(20_000, seed=3)})

    fast, per_bar = run("fast"), run("per_bar")
    assert fast.risk_summary == per_bar.risk_summary
    assert fast.risk_table.equals(per_bar.risk_table)
    assert rule_row(fast, "consecutive_losses")["reset_policy"] == policy
    assert rule_row(fast, "consecutive_losses")["fired"] >= 1


def test_denials_while_halted_are_blamed_on_the_halting_rule() -> None:
    result = streak_run("manual")
    denied = events(result, "deny")
    assert denied["rule"].tolist() == ["kill_switch", "kill_switch"]  # the mechanism, in the log
    assert "consecutive_losses" in denied["detail"].iloc[0]
    assert "kill_switch" not in {r["rule"] for r in result.risk_summary["rules"]}
    assert result.risk_summary["orders_denied"] == 2
    assert result.risk_summary["orders_total"] == 5  # 3 entries approved + 2 denied


def test_a_rule_denying_most_orders_is_a_warning() -> None:
    result = streak_run("manual")  # 2 of 5 denied: under half
    assert result.risk_summary["warnings"] == []
    prices, buys, closes = losing_streak_then_entries(3, [12, 14, 16, 18, 20, 30])
    risk = with_quiet(halts={"consecutive_losses": "manual"}, limits={"max_consecutive_losses": 3})
    result = bt.run(scripted(1.0, buys, closes, risk), {"BTC/USDT": flat_frame(prices)})
    (warning,) = result.risk_summary["warnings"]
    assert warning.startswith("risk rule consecutive_losses denied 6 of 9 orders (67%)")
    assert "genebot risk reset" in warning
    assert warning in result.warnings


def test_admin_reset_is_recorded_with_its_reason() -> None:
    from decimal import Decimal

    from genebot.domain.position import ClosedTrade
    from genebot.risk.config import RiskManagementConfig
    from genebot.risk.engine import RiskEngine

    class View:  # only what the monitors read
        now_ns = 1_614_556_800_000_000_000

        def equity(self) -> Decimal:
            return Decimal(10_000)

        def equity_at(self, ts: int) -> Decimal:
            return Decimal(10_000)

        def peak_equity_since(self, since: int | None, now: int) -> Decimal | None:
            return None

    cfg = RiskManagementConfig.model_validate({"performance": {"enabled": False}})
    engine = RiskEngine(cfg, View(), checks=[])  # type: ignore[arg-type]
    loss = ClosedTrade(
        strategy_id="s",
        instrument_id="BTC/USDT",
        side="long",
        entry_ts=0,
        entry_price=Decimal(100),
        exit_ts=1,
        exit_price=Decimal(99),
        quantity=Decimal(1),
        pnl=Decimal(-1),
        fees=Decimal(0),
        exit_reason="signal",
    )
    for _ in range(3):
        engine.on_trade_closed(loss)
    engine.refresh()
    engine.reset("strategy fixed", who="alice")
    assert engine.events[-1].action == "reset"
    assert engine.events[-1].detail == "admin: strategy fixed by alice (was HALTED)"
    (row,) = engine.summary()["rules"]  # type: ignore[misc]
    assert (row["rule"], row["resets"], row["reset_by"]) == (
        "consecutive_losses",
        1,
        "admin: strategy fixed",
    )
    assert engine.summary()["halted_periods"][0]["end"] is not None  # type: ignore[index]


def test_outputs_carry_the_summary(tmp_path: Path) -> None:
    result = streak_run("daily")
    result.write(tmp_path)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["risk_summary"] == json.loads(json.dumps(result.risk_summary))
    csv = (tmp_path / "risk_events.csv").read_text().splitlines()
    assert any(",consecutive_losses,halt," in line for line in csv)
    assert any(",consecutive_losses,reset,daily" in line for line in csv)
    lines = summary_lines(result.risk_summary)
    assert lines[0] == "risk: 1 of 5 orders that add exposure denied (exits always pass)"
    assert lines[1].startswith("  consecutive_losses: first 2021-03-01T")
    assert "fired 1×, denied 1; reset daily (daily ×1)" in lines[1]


def test_a_quiet_run_says_nothing_fired() -> None:
    result = bt.run(scripted(1.0, [1], [3], with_quiet()), {"BTC/USDT": flat_frame([100.0] * 6)})
    assert result.risk_summary["rules"] == [] and result.risk_summary["orders_denied"] == 0
    assert summary_lines(result.risk_summary) == ["risk: no rule fired (every order passed)"]


@pytest.mark.parametrize(
    ("halts", "message"),
    [
        ({"daily_loss": "weekly"}, "'daily' or 'manual'"),
        ({"drawdown": "manual"}, "drawdown"),
        ({"performance": {"reset": "daily", "when": 1}}, "when"),
    ],
    ids=["bad-policy", "unknown-rule", "unknown-key"],
)
def test_bad_halts_config_is_refused_by_name(halts: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        bt.run(scripted(1.0, [1], [], {"halts": halts}), {"BTC/USDT": flat_frame([100.0] * 4)})


# -- property: the summary adds up ------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.sampled_from([-3.0, -1.0, 1.0, 2.0]), min_size=4, max_size=40),
    policy=st.sampled_from(["daily", "manual"]),
)
def test_the_summary_adds_up(moves: list[float], policy: str) -> None:
    """Each round trip: buy, then the price moves, then close; 6 bars apart (4 per day)."""
    prices, buys, closes = [100.0], [], []
    for move in moves:
        buys.append(len(prices))
        prices += [100.0, 100.0 + move, 100.0, 100.0, 100.0]
        closes.append(buys[-1] + 2)
    risk = with_quiet(halts={"consecutive_losses": policy}, limits={"max_consecutive_losses": 2})
    result = bt.run(scripted(1.0, buys, closes, risk), {"BTC/USDT": flat_frame(prices)})
    summary = result.risk_summary
    table = result.risk_table
    assert summary["orders_denied"] == len(table[table["action"] == "deny"])
    assert summary["orders_total"] == summary["orders_denied"] + len(
        table[table["action"] == "approve"]
    )
    assert sum(r["denied"] for r in summary["rules"]) == summary["orders_denied"]
    periods = summary["halted_periods"]
    for a, b in itertools.pairwise(periods):
        assert a["end"] is not None and a["start"] <= a["end"] <= b["start"]
    halts = len(table[table["action"] == "halt"])
    resets = len(table[table["action"] == "reset"])
    assert sum(r["fired"] for r in summary["rules"]) == halts
    assert sum(r["resets"] for r in summary["rules"]) == resets
    if policy == "manual":
        assert resets == 0 and halts <= 1
