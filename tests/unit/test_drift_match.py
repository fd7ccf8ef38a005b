"""Drift pairing: nearest entry of the same strategy, symbol and side within the tolerance;
the rest missed or extra; price differences signed adverse-positive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from genebot.services.drift import DriftReport, Leg, match

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def leg(minute: int, side: str = "long", entry: str = "100", exit_: str = "110",
        pnl: str = "10", strategy: str = "s") -> Leg:  # fmt: skip
    at = T0 + timedelta(minutes=minute)
    return Leg(strategy, "BTC/USDT", side, at, D(entry), at + timedelta(hours=1), D(exit_),
               D("1"), D(pnl))  # fmt: skip


def test_identical_trades_match_with_zero_drift() -> None:
    trades = [leg(0), leg(90), leg(300, "short")]
    pairs = match(trades, list(trades), tolerance_s=60)
    assert [p.kind for p in pairs] == ["matched"] * 3
    summary = DriftReport("d", "n", "paper", "a", "b", 60, pairs).summary()
    assert summary["match_rate"] == 1.0 and summary["pnl_diff"] == 0
    assert summary["mean_entry_diff_bps"] == 0.0 and summary["max_abs_entry_lag_s"] == 0.0


@pytest.mark.parametrize(
    ("deployed", "backtest", "kinds"),
    [
        ([leg(1)], [leg(0)], ["matched"]),  # one minute late: within 60 s
        ([leg(2)], [leg(0)], ["missed", "extra"]),  # two minutes: outside
        ([leg(0, "short")], [leg(0)], ["missed", "extra"]),  # the side differs
        ([leg(0, strategy="t")], [leg(0)], ["missed", "extra"]),  # the strategy differs
        ([], [leg(0)], ["missed"]),
        ([leg(0)], [], ["extra"]),
        ([leg(1), leg(0)], [leg(0)], ["matched", "extra"]),  # the nearer one is taken
    ],
)
def test_pairing_scenarios(deployed: list[Leg], backtest: list[Leg], kinds: list[str]) -> None:
    assert sorted(p.kind for p in match(deployed, backtest, 60)) == sorted(kinds)


def test_price_and_timing_differences_are_signed_against_the_deployment() -> None:
    # long: bought 0.5 % dearer, sold 1 % cheaper, 60 s late -> both adverse (positive)
    (pair,) = match([leg(1, entry="100.5", exit_="108.9", pnl="8.4")], [leg(0)], 60)
    f = pair.figures()
    assert f["entry_diff_bps"] == pytest.approx(50.0) and f["exit_diff_bps"] == pytest.approx(100.0)
    assert f["entry_lag_s"] == 60.0 and f["pnl_diff"] == pytest.approx(-1.6)
    # short: sold dearer (favourable) -> negative
    (short,) = match([leg(0, "short", entry="101")], [leg(0, "short")], 60)
    assert short.figures()["entry_diff_bps"] == pytest.approx(-100.0)
