"""Market-condition checks and pair locks, one scenario table per rule.

Every table walks the limit: just under, at and just over it, for buy and sell intents; the
protections also walk the lock expiry moment and the order rate its one-second window edges.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pytest

from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.risk.checks.market import (
    CorrelationCheck,
    OrderRateCheck,
    SlippageCheck,
    VolatilityCheck,
    correlation,
    market_checks,
    realized_slippage,
)
from genebot.risk.checks.protections import (
    CooldownCheck,
    LowProfitCheck,
    StoplossGuardCheck,
    protection_checks,
)
from genebot.risk.config import RiskManagementConfig
from genebot.risk.engine import RiskEngine
from genebot.risk.types import OrderIntent, Verdict

D = Decimal
SEC = 1_000_000_000
MIN = 60 * SEC
NOW = 1_700_000_000 * SEC  # 2023-11-14 22:13:20 UTC
BTC = Instrument.create("BTC/USDT", "binance", tick_size="0.01", lot_size="0.0001")
ETH = Instrument.create("ETH/USDT", "binance", tick_size="0.01", lot_size="0.0001")
SOL = Instrument.create("SOL/USDT", "binance", tick_size="0.01", lot_size="0.0001")
SIDES = ("BUY", "SELL")


@dataclass
class FakeView:
    """The RiskView protocol over plain attributes."""

    now_ns: int = NOW
    equity_value: Decimal = field(default_factory=lambda: D(10_000))
    series: dict[str, list[float]] = field(default_factory=dict)
    bars_day: dict[str, float] = field(default_factory=dict)
    positions: list[tuple[str, str, Decimal, Decimal]] = field(default_factory=list)

    def equity(self) -> Decimal:
        return self.equity_value

    def equity_at(self, ts_ns: int) -> Decimal:
        return self.equity_value

    def peak_equity_since(self, since_ns: int | None, now_ns: int) -> Decimal | None:
        return self.equity_value

    def sleeve_equity(self, strategy_id: str) -> Decimal:
        return self.equity_value

    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal:
        return sum(
            (q for s, i, q, _ in self.positions if s == strategy_id and i == instrument_id), D(0)
        )

    def open_positions(self) -> Sequence[tuple[str, str, Decimal, Decimal]]:
        return self.positions

    def mark(self, instrument_id: str) -> Decimal | None:
        return D(100)

    def quote_balance(self) -> Decimal:
        return self.equity_value

    def closed_trades(self) -> Sequence[ClosedTrade]:
        return []

    def returns(self, instrument_id: str, bars: int) -> Sequence[float]:
        return self.series.get(instrument_id, [])[-bars:]

    def bars_per_day(self, instrument_id: str) -> float:
        return self.bars_day.get(instrument_id, 288.0)

    def stop_for(self, strategy_id: str, instrument_id: str) -> Decimal | None:
        return None

    def working_entries(self, strategy_id: str, instrument_id: str) -> int:
        return 0


@dataclass
class FakeState:
    """The RiskStateView protocol: the engine's counters as plain attributes."""

    config: RiskManagementConfig = field(default_factory=RiskManagementConfig)
    trades: list[ClosedTrade] = field(default_factory=list)
    recent_exits: list[tuple[int, str, str, Decimal]] = field(default_factory=list)
    order_times: deque[tuple[int, str]] = field(default_factory=deque)


def intent(
    side: str = "BUY",
    *,
    instrument: Instrument = BTC,
    price: str = "100",
    order_type: str = "MARKET",
    signal: str | None = None,
    strategy: str = "s1",
) -> OrderIntent:
    return OrderIntent(
        strategy_id=strategy,
        instrument=instrument,
        side=side,
        quantity=D("1"),
        order_type=order_type,
        price=D(price),
        reduce_only=False,
        tag="signal",
        signal_price=None if signal is None else D(signal),
    )


def assert_outcome(verdict: Verdict | None, rule: str, denied: bool) -> None:
    if denied:
        assert verdict is not None and verdict.action == "deny" and verdict.rule == rule
        assert "\n" not in verdict.detail
    else:
        assert verdict is None


# -- order rate ----------------------------------------------------------------------------
# limit 3/s; offsets are how long ago (ns) each approved order of s1 was
ORDER_RATE = [
    ("under-2-buy", "BUY", [500_000_000, 100], False),
    ("under-2-sell", "SELL", [500_000_000, 100], False),
    ("at-3-buy", "BUY", [900_000_000, 500_000_000, 0], True),
    ("at-3-sell", "SELL", [900_000_000, 500_000_000, 0], True),
    ("over-4-buy", "BUY", [900_000_000, 600_000_000, 300_000_000, 0], True),
    ("over-4-sell", "SELL", [900_000_000, 600_000_000, 300_000_000, 0], True),
    ("edge-oldest-exactly-1s-old-out", "BUY", [SEC, 500_000_000, 0], False),
    ("edge-oldest-1ns-inside-counts", "SELL", [SEC - 1, 500_000_000, 0], True),
    ("edge-old-orders-before-window", "BUY", [5 * SEC, 2 * SEC, SEC + 1, 0], False),
]


@pytest.mark.parametrize(
    ("side", "ago", "denied"), [r[1:] for r in ORDER_RATE], ids=[r[0] for r in ORDER_RATE]
)
def test_order_rate(side: str, ago: list[int], denied: bool) -> None:
    state = FakeState(order_times=deque((NOW - a, "s1") for a in sorted(ago, reverse=True)))
    verdict = OrderRateCheck(3).check(intent(side), FakeView(), state)
    assert_outcome(verdict, "order_rate", denied)
    if verdict:
        assert "limit 3/s" in verdict.detail


def test_order_rate_counts_only_this_strategy() -> None:
    state = FakeState(
        order_times=deque([(NOW - 3, "s2"), (NOW - 2, "s2"), (NOW - 1, "s2"), (NOW, "s1")])
    )
    assert OrderRateCheck(3).check(intent(strategy="s1"), FakeView(), state) is None
    assert OrderRateCheck(3).check(intent(strategy="s2"), FakeView(), state) is not None


def test_order_rate_through_the_engine_counts_its_approvals() -> None:
    view = FakeView()
    engine = RiskEngine(RiskManagementConfig(), view, [OrderRateCheck(2)], monitors=[])
    assert engine.evaluate(intent()) is None
    view.now_ns += 1
    assert engine.evaluate(intent()) is None
    view.now_ns += 1
    assert engine.evaluate(intent()).rule == "order_rate"  # type: ignore[union-attr]
    view.now_ns = NOW + SEC  # the first approval (at NOW) has left the window
    assert engine.evaluate(intent()) is None


# -- slippage ------------------------------------------------------------------------------
# tolerance 0.5 % of signal 100.00: the at-limit prices 100.50 / 99.50 pass
SLIPPAGE = [
    ("under-buy", "BUY", "100.49", False),
    ("at-buy", "BUY", "100.50", False),
    ("over-buy", "BUY", "100.51", True),
    ("under-sell", "SELL", "99.51", False),
    ("at-sell", "SELL", "99.50", False),
    ("over-sell", "SELL", "99.49", True),
    ("over-buy-favourable-way", "BUY", "99.49", True),
    ("over-sell-favourable-way", "SELL", "100.51", True),
]


@pytest.mark.parametrize(
    ("side", "price", "denied"), [r[1:] for r in SLIPPAGE], ids=[r[0] for r in SLIPPAGE]
)
def test_slippage_deny(side: str, price: str, denied: bool) -> None:
    verdict = SlippageCheck(0.005, "deny").check(
        intent(side, price=price, signal="100.00"), FakeView(), FakeState()
    )
    assert_outcome(verdict, "slippage", denied)


LIMIT_ORDERS = [
    ("under-buy", "BUY", "100.49", "100", None),
    ("at-buy", "BUY", "100.50", "100", None),
    ("over-buy", "BUY", "100.51", "100", "100.50"),
    ("under-sell", "SELL", "99.51", "100", None),
    ("at-sell", "SELL", "99.50", "100", None),
    ("over-sell", "SELL", "99.49", "100", "99.50"),
    ("over-buy-rounded-to-tick", "BUY", "101", "100.003", "100.50"),  # 100.503015
    ("over-sell-rounded-to-tick", "SELL", "99", "100.007", "99.51"),  # 99.506965
]


@pytest.mark.parametrize(
    ("side", "price", "signal", "limit"),
    [r[1:] for r in LIMIT_ORDERS],
    ids=[r[0] for r in LIMIT_ORDERS],
)
def test_slippage_limit(side: str, price: str, signal: str, limit: str | None) -> None:
    order = intent(side, price=price, signal=signal)
    verdict = SlippageCheck(0.005, "limit").check(order, FakeView(), FakeState())
    if limit is None:
        assert verdict is None
        return
    assert verdict is not None
    assert (verdict.action, verdict.rule, verdict.quantity) == ("limit", "slippage", D(1))
    assert verdict.as_limit == D(limit)
    assert limit in verdict.detail


@pytest.mark.parametrize(
    ("order_type", "signal"),
    [("LIMIT", "90"), ("STOP_MARKET", "90"), ("MARKET", None)],
    ids=["limit-order", "stop-market-order", "no-signal-price"],
)
def test_slippage_ignores_other_orders(order_type: str, signal: str | None) -> None:
    order = intent(price="100", order_type=order_type, signal=signal)
    assert SlippageCheck(0.005).check(order, FakeView(), FakeState()) is None


def test_slippage_limit_verdict_passes_through_the_engine() -> None:
    engine = RiskEngine(
        RiskManagementConfig(), FakeView(), [SlippageCheck(0.005, "limit")], monitors=[]
    )
    verdict = engine.evaluate(intent("BUY", price="101", signal="100"))
    assert verdict is not None and verdict.as_limit == D("100.50")
    assert engine.events[-2].action == "limit"


@pytest.mark.parametrize(
    ("side", "signal", "fill", "expected"),
    [
        ("BUY", "100", "101", "0.01"),
        ("BUY", "100", "99", "-0.01"),
        ("SELL", "100", "99", "0.01"),
        ("SELL", "100", "101", "-0.01"),
        ("BUY", "100", "100", "0"),
    ],
    ids=["buy-paid-more", "buy-paid-less", "sell-got-less", "sell-got-more", "exact"],
)
def test_realized_slippage(side: str, signal: str, fill: str, expected: str) -> None:
    assert realized_slippage(side, D(signal), D(fill)) == D(expected)


def test_realized_slippage_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="side"):
        realized_slippage("HOLD", D(100), D(100))
    with pytest.raises(ValueError, match="signal price"):
        realized_slippage("BUY", D(0), D(100))


# -- volatility ----------------------------------------------------------------------------
RNG = np.random.default_rng(7)
VOL_RETURNS = list(RNG.normal(0, 0.004, 20))
VOL_BARS_DAY = 288.0
# computed as the check does, so that "at" is exactly at the limit (numpy agrees: see below)
VOL_DAILY = statistics.stdev(VOL_RETURNS) * math.sqrt(VOL_BARS_DAY)

# limit = realized daily volatility × factor; exactly at the limit passes
VOLATILITY = [
    ("under-buy", "BUY", 1.000001, 20, False),
    ("under-sell", "SELL", 1.000001, 20, False),
    ("at-buy", "BUY", 1.0, 20, False),
    ("at-sell", "SELL", 1.0, 20, False),
    ("over-buy", "BUY", 0.999999, 20, True),
    ("over-sell", "SELL", 0.999999, 20, True),
    ("too-few-returns-buy", "BUY", 0.5, 19, False),
    ("too-few-returns-sell", "SELL", 0.5, 19, False),
]


@pytest.mark.parametrize(
    ("side", "factor", "available", "denied"),
    [r[1:] for r in VOLATILITY],
    ids=[r[0] for r in VOLATILITY],
)
def test_volatility(side: str, factor: float, available: int, denied: bool) -> None:
    view = FakeView(series={BTC.id: VOL_RETURNS[-available:]}, bars_day={BTC.id: VOL_BARS_DAY})
    verdict = VolatilityCheck(VOL_DAILY * factor, 20).check(intent(side), view, FakeState())
    assert_outcome(verdict, "volatility", denied)
    if verdict:
        assert "BTC/USDT" in verdict.detail and "288 bars/day" in verdict.detail


def test_volatility_limit_is_the_sample_stdev_scaled_to_a_day() -> None:
    expected = float(np.std(VOL_RETURNS, ddof=1)) * math.sqrt(VOL_BARS_DAY)
    daily = VOL_DAILY
    assert daily == pytest.approx(expected, rel=1e-12)


def test_volatility_skips_non_finite_returns() -> None:
    series = [*VOL_RETURNS[:-1], float("nan")]
    view = FakeView(series={BTC.id: series})
    assert VolatilityCheck(1e-9, 20).check(intent(), view, FakeState()) is None


def test_volatility_uses_the_last_window_returns() -> None:
    calm = [0.0001, -0.0001] * 10
    view = FakeView(series={BTC.id: [0.5, -0.5] * 10 + calm}, bars_day={BTC.id: 24.0})
    assert VolatilityCheck(0.01, 20).check(intent(), view, FakeState()) is None


# -- correlation ---------------------------------------------------------------------------
BASE = RNG.normal(0, 0.01, 100)
NOISE = RNG.normal(0, 0.004, 100)
BTC_RETURNS = list(BASE)
ETH_RETURNS = list(BASE + NOISE)
CORR = correlation(BTC_RETURNS, ETH_RETURNS)  # checked against numpy below
assert CORR is not None


def corr_view(qty: str = "2", eth: list[float] | None = None) -> FakeView:
    return FakeView(
        series={BTC.id: BTC_RETURNS, ETH.id: ETH_RETURNS if eth is None else eth},
        positions=[("s2", ETH.id, D(qty), D(2000))],
    )


# limit = correlation × factor; exactly at the limit passes
CORRELATION = [
    ("under-buy-vs-long", "BUY", "2", 1.0000001, False),
    ("under-sell-vs-short", "SELL", "-2", 1.0000001, False),
    ("at-buy-vs-long", "BUY", "2", 1.0, False),
    ("at-sell-vs-long", "SELL", "2", 1.0, False),
    ("over-buy-vs-long", "BUY", "2", 0.9999999, True),
    ("over-sell-vs-long", "SELL", "2", 0.9999999, True),
    ("over-buy-vs-short", "BUY", "-2", 0.9999999, True),
    ("over-sell-vs-short", "SELL", "-2", 0.9999999, True),
    ("flat-position-ignored", "BUY", "0", 0.5, False),
]


@pytest.mark.parametrize(
    ("side", "qty", "factor", "denied"),
    [r[1:] for r in CORRELATION],
    ids=[r[0] for r in CORRELATION],
)
def test_correlation(side: str, qty: str, factor: float, denied: bool) -> None:
    check = CorrelationCheck(CORR * factor, 100)
    verdict = check.check(intent(side), corr_view(qty), FakeState())
    assert_outcome(verdict, "correlation", denied)
    if verdict:
        assert "BTC/USDT" in verdict.detail and "ETH/USDT" in verdict.detail
        assert f"{CORR:.3f}" in verdict.detail


def test_correlation_value_matches_numpy_on_the_common_tail() -> None:
    short = ETH_RETURNS[-30:]
    expected = float(np.corrcoef(BTC_RETURNS[-30:], short)[0, 1])
    assert correlation(BTC_RETURNS, short) == pytest.approx(expected, abs=1e-12)
    full = CORR
    assert full == pytest.approx(float(np.corrcoef(BTC_RETURNS, ETH_RETURNS)[0, 1]), abs=1e-12)


@pytest.mark.parametrize(
    ("eth", "limit"),
    [
        ([0.001] * 100, 0.0001),
        (ETH_RETURNS[-4:], 0.0001),
        ([*ETH_RETURNS[:-96], *[float("nan")] * 96], 0.0001),
        ([-r for r in ETH_RETURNS], 0.7),
    ],
    ids=["flat-series-skipped", "four-points-too-few", "nan-leaves-four", "anti-correlated"],
)
def test_correlation_undefined_or_negative_passes(eth: list[float], limit: float) -> None:
    verdict = CorrelationCheck(limit, 100).check(intent(), corr_view(eth=eth), FakeState())
    assert verdict is None


def test_correlation_ignores_the_same_instrument_and_reports_the_worst() -> None:
    sol = list(BASE + np.random.default_rng(11).normal(0, 0.02, 100))
    view = FakeView(
        series={BTC.id: BTC_RETURNS, ETH.id: ETH_RETURNS, SOL.id: sol},
        positions=[
            ("s1", BTC.id, D(1), D(100)),
            ("s2", SOL.id, D(1), D(100)),
            ("s3", ETH.id, D(-1), D(100)),
        ],
    )
    verdict = CorrelationCheck(0.3, 100).check(intent(), view, FakeState())
    assert verdict is not None and "ETH/USDT" in verdict.detail
    only_btc = FakeView(series=view.series, positions=[("s1", BTC.id, D(1), D(100))])
    assert CorrelationCheck(0.3, 100).check(intent(), only_btc, FakeState()) is None


# -- cooldown ------------------------------------------------------------------------------
# cooldown 5 min after the last exit of BTC
COOLDOWN = [
    ("under-buy", "BUY", 5 * MIN - 1, True),
    ("under-sell", "SELL", 5 * MIN - 1, True),
    ("at-expiry-buy", "BUY", 5 * MIN, False),
    ("at-expiry-sell", "SELL", 5 * MIN, False),
    ("over-buy", "BUY", 5 * MIN + 1, False),
    ("over-sell", "SELL", 5 * MIN + 1, False),
    ("just-exited", "BUY", 0, True),
]


@pytest.mark.parametrize(
    ("side", "since_exit", "denied"), [r[1:] for r in COOLDOWN], ids=[r[0] for r in COOLDOWN]
)
def test_cooldown(side: str, since_exit: int, denied: bool) -> None:
    last = NOW - since_exit
    state = FakeState(
        recent_exits=[
            (last - 30 * MIN, BTC.id, "signal", D("0.01")),
            (last, BTC.id, "take_profit", D("0.02")),
        ]
    )
    verdict = CooldownCheck(5).check(intent(side), FakeView(), state)
    assert_outcome(verdict, "cooldown", denied)
    if verdict:
        assert "until 2023-11-14 22:" in verdict.detail and "cooldown 5 min" in verdict.detail


def test_cooldown_other_instrument_and_off() -> None:
    state = FakeState(recent_exits=[(NOW - MIN, ETH.id, "signal", D(0))])
    assert CooldownCheck(5).check(intent(), FakeView(), state) is None
    state = FakeState(recent_exits=[(NOW - MIN, BTC.id, "signal", D(0))])
    assert CooldownCheck(0).check(intent(), FakeView(), state) is None


# -- stop-loss guard -----------------------------------------------------------------------
# 3 stops within 60 min lock BTC for 120 min after the last of them
def stops(*minutes_ago: float, reason: str = "stop_loss") -> list[tuple[int, str, str, Decimal]]:
    return [
        (NOW - round(m * MIN), BTC.id, reason, D("-0.02"))
        for m in sorted(minutes_ago, reverse=True)
    ]


STOPLOSS_GUARD = [
    ("under-2-stops-buy", "BUY", stops(30, 10), False),
    ("under-2-stops-sell", "SELL", stops(30, 10), False),
    ("at-3-stops-buy", "BUY", stops(30, 20, 10), True),
    ("at-3-stops-sell", "SELL", stops(30, 20, 10), True),
    ("over-4-stops-buy", "BUY", stops(40, 30, 20, 10), True),
    ("over-4-stops-sell", "SELL", stops(40, 30, 20, 10), True),
    ("trailing-stops-count", "BUY", stops(30, 20, 10, reason="trailing_stop"), True),
    (
        "other-exits-do-not-count",
        "BUY",
        [*stops(30, 20), (NOW - 10 * MIN, BTC.id, "take_profit", D("-0.01"))],
        False,
    ),
    ("window-edge-first-exactly-60-before-third-out", "BUY", stops(70, 40, 10), False),
    ("window-edge-first-1ns-inside", "SELL", stops(70 - 1 / MIN, 40, 10), True),
    ("lock-1ns-before-expiry", "BUY", stops(140, 130, 120 - 1 / MIN), True),
    ("lock-expiry-moment", "BUY", stops(140, 130, 120), False),
    ("lock-after-expiry", "SELL", stops(140, 130, 120 + 1 / MIN), False),
    ("lock-outlives-the-lookback-window", "SELL", stops(100, 90, 80), True),
    (
        "other-instrument",
        "BUY",
        [(t, ETH.id, r, p) for t, _, r, p in stops(30, 20, 10)],
        False,
    ),
]


@pytest.mark.parametrize(
    ("side", "exits", "denied"),
    [r[1:] for r in STOPLOSS_GUARD],
    ids=[r[0] for r in STOPLOSS_GUARD],
)
def test_stoploss_guard(
    side: str, exits: list[tuple[int, str, str, Decimal]], denied: bool
) -> None:
    state = FakeState(recent_exits=exits)
    verdict = StoplossGuardCheck(3, 60, 120).check(intent(side), FakeView(), state)
    assert_outcome(verdict, "stoploss_guard", denied)
    if verdict:
        assert "locked until" in verdict.detail and "limit 3" in verdict.detail


def test_stoploss_guard_lock_until_is_last_stop_plus_lock() -> None:
    state = FakeState(recent_exits=stops(30, 20, 10))
    verdict = StoplossGuardCheck(3, 60, 120).check(intent(), FakeView(), state)
    assert verdict is not None
    assert "until 2023-11-15 00:03:20 UTC" in verdict.detail  # NOW − 10 min + 120 min


def test_stoploss_guard_disabled() -> None:
    state = FakeState(recent_exits=stops(30, 20, 10))
    check = StoplossGuardCheck(3, 60, 120, enabled=False)
    assert check.check(intent(), FakeView(), state) is None


# -- low profit ----------------------------------------------------------------------------
# >= 2 exits within 1440 min summing below 0 lock BTC for 60 min after the last of them
def exits(*rows: tuple[float, str]) -> list[tuple[int, str, str, Decimal]]:
    ordered = sorted(rows, key=lambda r: -r[0])
    return [(NOW - round(m * MIN), BTC.id, "signal", D(p)) for m, p in ordered]


LOW_PROFIT = [
    ("under-count-1-exit-buy", "BUY", exits((10, "-0.05")), False),
    ("under-count-1-exit-sell", "SELL", exits((10, "-0.05")), False),
    ("at-count-2-exits-buy", "BUY", exits((20, "-0.02"), (10, "0.01")), True),
    ("at-count-2-exits-sell", "SELL", exits((20, "-0.02"), (10, "0.01")), True),
    ("over-count-3-exits", "BUY", exits((30, "0.01"), (20, "-0.03"), (10, "0.01")), True),
    ("profit-just-under-required", "SELL", exits((20, "-0.0101"), (10, "0.01")), True),
    ("profit-at-required", "BUY", exits((20, "-0.01"), (10, "0.01")), False),
    ("profit-just-over-required", "SELL", exits((20, "-0.0099"), (10, "0.01")), False),
    ("window-edge-first-exactly-1440-out", "BUY", exits((1450, "-0.05"), (10, "0")), False),
    ("lock-1ns-before-expiry", "BUY", exits((100, "-0.05"), (60 - 1 / MIN, "-0.01")), True),
    ("lock-expiry-moment", "SELL", exits((100, "-0.05"), (60, "-0.01")), False),
    ("lock-after-expiry", "BUY", exits((100, "-0.05"), (60 + 1 / MIN, "-0.01")), False),
]


@pytest.mark.parametrize(
    ("side", "rows", "denied"), [r[1:] for r in LOW_PROFIT], ids=[r[0] for r in LOW_PROFIT]
)
def test_low_profit(side: str, rows: list[tuple[int, str, str, Decimal]], denied: bool) -> None:
    state = FakeState(recent_exits=rows)
    verdict = LowProfitCheck(2, 1440, 0.0, 60).check(intent(side), FakeView(), state)
    assert_outcome(verdict, "low_profit", denied)
    if verdict:
        assert "locked until" in verdict.detail and "required 0.0000%" in verdict.detail


def test_low_profit_disabled_and_other_instrument() -> None:
    rows = exits((20, "-0.02"), (10, "-0.01"))
    state = FakeState(recent_exits=rows)
    assert (
        LowProfitCheck(2, 1440, 0.0, 60, enabled=False).check(intent(), FakeView(), state) is None
    )
    assert LowProfitCheck(2, 1440, 0.0, 60).check(intent(instrument=ETH), FakeView(), state) is None


# -- factories -----------------------------------------------------------------------------
def test_market_checks_from_config() -> None:
    config = RiskManagementConfig.model_validate(
        {"limits": {"slippage_action": "limit", "max_orders_per_second": 2}}
    )
    checks = market_checks(config)
    assert [c.rule for c in checks] == ["order_rate", "slippage", "volatility", "correlation"]
    assert isinstance(checks[1], SlippageCheck) and checks[1].action == "limit"


def test_protection_checks_from_config() -> None:
    assert [c.rule for c in protection_checks(RiskManagementConfig())] == ["stoploss_guard"]
    config = RiskManagementConfig.model_validate(
        {
            "protections": {
                "cooldown_minutes": 5,
                "stoploss_guard": {"enabled": False},
                "low_profit": {"enabled": True, "required_profit": 0.01},
            }
        }
    )
    checks = protection_checks(config)
    assert [c.rule for c in checks] == ["cooldown", "low_profit"]
    assert isinstance(checks[1], LowProfitCheck) and checks[1].required_profit == D("0.01")
