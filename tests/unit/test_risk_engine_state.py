"""RiskEngine state machine and monitors: scenario tables just under, at and just over each
limit. Every engine here has ``checks=[]``, so only the state logic is under test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.risk.config import RiskManagementConfig
from genebot.risk.engine import RiskEngine
from genebot.risk.monitors import DrawdownMonitor
from genebot.risk.types import OrderIntent, RiskEvent, TradingState, Verdict

D = Decimal
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
MINUTE = 60 * 10**9
DAY = 1_440 * MINUTE
BTC = Instrument.create("BTC/USDT", "binance")
D0 = int(datetime(2024, 1, 2, tzinfo=UTC).timestamp()) * 10**9  # a daily boundary (00:00 UTC)
D1, D2 = D0 + DAY, D0 + 2 * DAY
T0 = D0 + 12 * 60 * MINUTE  # noon of the first day
LOOSE_DAILY = {"global": {"max_daily_loss": 0.5}, "position_limits": {"max_daily_loss": 0.5}}
LIMITS = ["just-under", "at", "just-over"]
TEN_K = D(10_000)


@dataclass
class FakeView:
    """Our own RiskView, reduced to what the state logic reads (``checks=[]``: no check reads
    the rest), as settable attributes."""

    now_ns: int = T0
    equity_value: Decimal = TEN_K
    equity_by_ts: dict[int, Decimal] = field(default_factory=dict)  # else ``equity_value``
    peak: Decimal | None = None
    positions: dict[str, Decimal] = field(default_factory=dict)  # instrument id → signed qty
    peak_calls: list[tuple[int | None, int]] = field(default_factory=list)

    def equity(self) -> Decimal:
        return self.equity_value

    def equity_at(self, ts_ns: int) -> Decimal:
        return self.equity_by_ts.get(ts_ns, self.equity_value)

    def peak_equity_since(self, since_ns: int | None, now_ns: int) -> Decimal | None:
        self.peak_calls.append((since_ns, now_ns))
        return self.peak

    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal:
        return self.positions.get(instrument_id, D(0))


def make(config: dict[str, Any] | None = None, **view: Any) -> tuple[RiskEngine, FakeView]:
    fake = FakeView(**view)
    return RiskEngine(RiskManagementConfig.model_validate(config or {}), fake, checks=[]), fake


def intent(side: str = "BUY", qty: str = "0.1", *, reduce_only: bool = False) -> OrderIntent:
    return OrderIntent("s1", BTC, side, D(qty), "MARKET", D(50_000), reduce_only, "entry")


def trade(pnl: float | str, k: int = 0) -> ClosedTrade:
    """A one-hour round trip of 1 unit at 1,000 on day ``k``: pnl 100 = +10 %."""
    entry = T0 + k * DAY
    return ClosedTrade(
        "s1", BTC.id, "long", entry, D(1_000), entry + 60 * MINUTE, D(1_000),
        D(1), D(str(pnl)), D(0), "signal",
    )  # fmt: skip


def halted_by_daily_loss(
    config: dict[str, Any] | None = None, **view: Any
) -> tuple[RiskEngine, FakeView]:
    engine, fake = make(config, equity_by_ts={D0: D(10_000)}, equity_value=D(9_400), **view)
    engine.refresh()
    assert (engine.state, engine.halt_rule) == (HALTED, "daily_loss")
    return engine, fake


# -- 1. daily loss -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("loss", "state"), [("499.99", ACTIVE), ("500", HALTED), ("500.01", HALTED)], ids=LIMITS
)
def test_daily_loss_limit(loss: str, state: TradingState) -> None:
    engine, _ = make(equity_by_ts={D0: D(10_000)}, equity_value=D(10_000) - D(loss))
    engine.refresh()
    assert engine.start_of_day_equity == D(10_000)
    assert engine.state is state
    if state is HALTED:
        detail = f"loss {D(loss):.2f} = 5.00% of start-of-day equity 10000.00 >= limit 5.00%"
        assert engine.events == [RiskEvent(T0, "", "", "daily_loss", "halt", detail)]
    else:
        assert engine.events == []


def test_daily_loss_seed_case_two_losses_add_up() -> None:
    engine, view = make(equity_by_ts={D0: D(10_000)}, equity_value=D(9_700))  # -300
    engine.refresh()
    assert engine.state is ACTIVE
    view.now_ns, view.equity_value = T0 + MINUTE, D(9_450)  # -250 more: 550 ≥ 500
    engine.refresh()
    assert engine.state is HALTED
    assert engine.events[-1].detail.startswith("loss 550.00 = 5.50% of start-of-day equity")


@pytest.mark.parametrize("via", ["refresh", "roll_day"])
def test_daily_loss_halt_lifts_at_the_next_boundary_with_a_new_start(via: str) -> None:
    engine, view = halted_by_daily_loss()
    view.now_ns, view.equity_value = D1 - 1, D(10_500)  # recovered, one nanosecond early
    engine.refresh()
    assert (engine.state, engine.start_of_day_equity) == (HALTED, D(10_000))
    view.now_ns, view.equity_value = D1 + 5 * MINUTE, D(9_400)
    view.equity_by_ts[D1] = D(9_400)
    engine.refresh() if via == "refresh" else engine.roll_day(view.now_ns)
    assert engine.state is ACTIVE
    assert engine.events[-1] == RiskEvent(
        D1, "", "", "daily_loss", "reset", "daily: the daily_loss halt lifts"
    )
    assert (engine.start_of_day_equity, engine.next_boundary) == (D(9_400), D2)
    # The new day's limit is 5% of 9,400 = 470.
    view.equity_value = D("8930.01")
    engine.refresh()
    assert engine.state is ACTIVE
    view.equity_value = D(8_930)
    engine.refresh()
    assert (engine.state, engine.halt_rule) == (HALTED, "daily_loss")


# -- 2. daily boundary time and time zone ------------------------------------------------------
def utc(text: str) -> int:
    """``MM-DDTHH:MM`` in 2021, UTC, as ns."""
    return int(datetime.fromisoformat("2021-" + text).replace(tzinfo=UTC).timestamp()) * 10**9


@pytest.mark.parametrize("offset", [0, 3 * 60 * MINUTE], ids=["at-boundary", "3h-later"])
@pytest.mark.parametrize(
    ("start", "boundaries"),
    [
        ("03-12T18:00", ["03-12T22:00", "03-13T22:00", "03-14T21:00", "03-15T21:00"]),  # EST→EDT
        ("11-05T18:00", ["11-05T21:00", "11-06T21:00", "11-07T22:00", "11-08T22:00"]),  # EDT→EST
    ],
    ids=["spring-forward", "fall-back"],
)
def test_daily_boundary_is_local_wall_clock_across_dst(
    start: str, boundaries: list[str], offset: int
) -> None:
    engine, _ = make({"daily_reset": {"time": "17:00", "timezone": "America/New_York"}})
    expected = [utc(b) for b in boundaries]
    seen, now = [], utc(start)
    for _ in expected:
        engine.roll_day(now)
        assert engine.next_boundary is not None
        seen.append(engine.next_boundary)
        now = engine.next_boundary + offset
    assert seen == expected
    zone = ZoneInfo("America/New_York")
    assert {datetime.fromtimestamp(b / 1e9, zone).strftime("%H:%M") for b in seen} == {"17:00"}


def test_first_roll_just_before_a_boundary_keeps_that_boundary() -> None:
    engine, _ = make(now_ns=D1 - 1)
    engine.roll_day(D1 - 1)
    assert engine.next_boundary == D1


# -- 3. drawdown -------------------------------------------------------------------------------
@pytest.mark.parametrize("peak_from", ["view", "equity"])
@pytest.mark.parametrize(
    ("equity", "state"), [("8500.01", ACTIVE), ("8500", HALTED), ("8499.99", HALTED)], ids=LIMITS
)
def test_drawdown_limit(equity: str, state: TradingState, peak_from: str) -> None:
    engine, view = make(LOOSE_DAILY)
    if peak_from == "view":  # the peak was between decision points
        view.peak, view.equity_value = D(10_000), D(equity)
    else:  # the peak was the equity at an earlier decision point
        engine.refresh()
        view.now_ns, view.equity_value = T0 + MINUTE, D(equity)
    engine.refresh()
    assert engine.peak_equity == D(10_000)
    assert view.peak_calls[-1] == ((T0, T0 + MINUTE) if peak_from == "equity" else (None, T0))
    assert engine.state is state
    if state is HALTED:
        assert engine.events[-1][3:5] == ("max_drawdown", "halt")
        assert engine.events[-1].detail == (
            f"drawdown {1 - float(equity) / 10_000:.2%} from peak 10000.00 "
            f"(equity {D(equity):.2f}) >= limit 15.00%"
        )


def test_drawdown_null_is_off() -> None:
    engine, view = make({**LOOSE_DAILY, "global": {"max_drawdown": None, "max_daily_loss": 0.5}})
    assert not any(isinstance(m, DrawdownMonitor) for m in engine.monitors)
    view.peak, view.equity_value = D(10_000), D(5_000)
    engine.refresh()
    assert engine.state is ACTIVE


# -- 4. consecutive losses ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcomes", "count", "state"),
    [("LL", 2, ACTIVE), ("LLL", 3, HALTED), ("LLWL", 1, ACTIVE), ("LLWLLL", 3, HALTED)],
    ids=["two", "three", "win-resets", "three-after-win"],
)
def test_consecutive_losses(outcomes: str, count: int, state: TradingState) -> None:
    engine, _ = make()
    for k, outcome in enumerate(outcomes):
        engine.on_trade_closed(trade(-10 if outcome == "L" else 10, k))
        engine.refresh()
    assert (engine.consecutive_losses, engine.state) == (count, state)
    if state is HALTED:
        detail = "3 losing trades in a row (limit 3)"
        assert engine.events[-1][3:] == ("consecutive_losses", "halt", detail)


# -- 5. performance ----------------------------------------------------------------------------
PERF = {"limits": {"max_consecutive_losses": 100}}  # performance alone, without the streak rule


def performance_engine(action: str = "reducing") -> RiskEngine:
    return make({**PERF, "performance": {"action": action}})[0]


def close_trades(engine: RiskEngine, pnls: Sequence[float]) -> None:
    for k, pnl in enumerate(pnls):
        engine.on_trade_closed(trade(pnl, k))
        engine.refresh()


@pytest.mark.parametrize(
    ("wins", "action", "state", "event"),
    [
        (7, "reducing", REDUCING, "reducing"),
        (8, "reducing", ACTIVE, None),
        (9, "reducing", ACTIVE, None),
        (7, "halted", HALTED, "halt"),
        (8, "halted", ACTIVE, None),
    ],
    ids=["0.35-reducing", "0.40-reducing", "0.45-reducing", "0.35-halted", "0.40-halted"],
)
def test_performance_win_rate(wins: int, action: str, state: TradingState, event: str) -> None:
    engine = performance_engine(action)
    close_trades(engine, [100] * wins + [-10] * (20 - wins))  # Sharpe well above 0.5
    assert engine.state is state
    if event is None:
        assert engine.events == []
    else:
        detail = "win rate 35.00% over the last 20 trades < 40.00%"
        assert engine.events == [RiskEvent(T0, "", "", "performance", event, detail)]


def test_performance_needs_a_full_window() -> None:
    engine = performance_engine()
    close_trades(engine, [-10] * 19)
    assert engine.state is ACTIVE
    close_trades(engine, [-10])
    assert engine.state is REDUCING


def test_performance_low_sharpe_flags_despite_a_good_win_rate() -> None:
    engine = performance_engine()
    close_trades(engine, [1] * 12 + [-100] * 8)  # win rate 60 %, mean return negative
    assert engine.state is REDUCING
    assert engine.events[-1].detail.startswith("Sharpe -")
    assert engine.events[-1].detail.endswith("over the last 20 trades < 0.5")


# -- 6. error circuit breaker ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offsets", "kept", "state"),
    [
        ([0, 10, 20, 30], 4, ACTIVE),
        ([0, 10, 20, 30, 40], 5, HALTED),
        ([0, 15, 30, 45, 60], 5, HALTED),
        ([0, 15, 30, 45, 60 + 1 / MINUTE], 4, ACTIVE),  # the first is 1 ns too old
        ([0, 20, 40, 60, 80], 4, ACTIVE),
    ],
    ids=["four", "five", "five-at-window-edge", "five-just-over-window", "five-spread"],
)
def test_error_circuit_breaker(offsets: list[float], kept: int, state: TradingState) -> None:
    engine, view = make()
    for minutes in offsets:
        view.now_ns = T0 + round(minutes * MINUTE)
        engine.on_error("venue", "rejected")
    assert (len(engine.errors), engine.state) == (kept, state)
    if state is HALTED:
        detail = "5 errors in 60 min (limit 5); last: venue: rejected"
        assert engine.events[-1][3:] == ("error_circuit_breaker", "halt", detail)


# -- 7. trading-state rules in evaluate --------------------------------------------------------
ORDERS = pytest.mark.parametrize(
    ("position", "order", "passes"),
    [
        ("0", intent("BUY"), False),
        ("0.1", intent("BUY"), False),
        ("0.1", intent("SELL", "0.1"), True),
        ("0.1", intent("SELL", "0.05"), True),
        ("0.1", intent("SELL", "0.2"), False),
        ("-0.1", intent("BUY", "0.1"), True),
        ("0", intent("SELL", reduce_only=True), True),
    ],
    ids=["entry", "add", "close", "partial-exit", "flip", "short-cover", "reduce-only"],
)


@ORDERS
def test_halted_denies_new_exposure_but_exits_run(
    position: str, order: OrderIntent, passes: bool
) -> None:
    engine, _ = halted_by_daily_loss(positions={BTC.id: D(position)})
    verdict = engine.evaluate(order)
    if passes:
        assert verdict is None
        assert list(engine.order_times) == []
    else:
        detail = f"trading is halted by daily_loss: {engine.halt_detail}"
        assert engine.halt_detail.startswith("loss 600.00 = 6.00% of start-of-day equity")
        assert verdict == Verdict.deny("kill_switch", detail)
        assert engine.events[-1] == RiskEvent(T0, "s1", "BTC/USDT", "kill_switch", "deny", detail)


@ORDERS
def test_reducing_denies_new_exposure_but_exits_run(
    position: str, order: OrderIntent, passes: bool
) -> None:
    engine, _ = make(positions={BTC.id: D(position)})
    engine.move_to(REDUCING, "performance", "win rate low")
    verdict = engine.evaluate(order)
    detail = "only exposure-reducing orders pass (performance)"
    assert verdict == (None if passes else Verdict.deny("reducing", detail))
    assert engine.state is REDUCING


def trip(rule: str, engine: RiskEngine, view: FakeView) -> None:
    if rule == "max_drawdown":
        view.peak, view.equity_value = TEN_K, D(8_400)  # 16 % below the peak
    elif rule == "error_circuit_breaker":
        for _ in range(5):
            engine.on_error("venue", "rejected")
    else:  # three losses for the streak; a window of twenty for performance
        for k in range(3 if rule == "consecutive_losses" else 20):
            engine.on_trade_closed(trade(-10, k))
    engine.refresh()


def recover(rule: str, engine: RiskEngine, view: FakeView) -> None:
    """Take away the cause (the errors age out of their window as time passes)."""
    if rule == "max_drawdown":
        view.peak, view.equity_value = None, D(9_000)  # 10 % below the peak
    elif rule == "consecutive_losses":
        engine.on_trade_closed(trade(10, 30))
    elif rule == "performance":
        for k in range(20):
            engine.on_trade_closed(trade(100, 30 + k))
    engine.refresh()


@pytest.mark.parametrize(
    ("rule", "config", "state"),
    [
        ("max_drawdown", {}, HALTED),
        ("consecutive_losses", {"halts": {"consecutive_losses": "manual"}}, HALTED),
        ("error_circuit_breaker", {}, HALTED),
        ("performance", PERF, REDUCING),
    ],
    ids=["drawdown", "consecutive-losses", "errors", "performance"],
)
def test_state_never_de_escalates_on_its_own(
    rule: str, config: dict[str, Any], state: TradingState
) -> None:
    engine, view = make(config)
    trip(rule, engine, view)
    assert (engine.state, engine.halt_rule) == (state, rule)
    recover(rule, engine, view)
    for now in (T0 + 2 * 60 * MINUTE, D1 + MINUTE, D2 + MINUTE):  # the window and days pass
        view.now_ns = now
        engine.refresh()
        assert (engine.state, engine.halt_rule) == (state, rule)


@pytest.mark.parametrize("rule", ["max_drawdown", "consecutive_losses", "error_circuit_breaker"])
def test_a_halt_needing_reset_survives_the_daily_loss_lift(rule: str) -> None:
    engine, view = halted_by_daily_loss({"halts": {"consecutive_losses": "manual"}})
    trip(rule, engine, view)
    if rule == "error_circuit_breaker":
        assert len(engine.errors) == 5
    else:  # the rule's monitor fires, but the engine is already halted
        assert next(m.evaluate(engine, view.equity()) for m in engine.monitors if m.rule == rule)
    recover(rule, engine, view)
    view.now_ns, view.equity_by_ts[D1] = D1 + MINUTE, view.equity_value
    engine.refresh()
    assert (engine.state, engine.halt_rule) == (HALTED, rule)


def test_reset_returns_to_active_and_clears_the_counters() -> None:
    engine, view = make()
    engine.on_error("venue", "rejected")
    for k in range(3):
        engine.on_trade_closed(trade(-10, k))
    view.equity_value = D(9_900)
    engine.refresh()
    assert engine.state is HALTED and len(engine.errors) == 1
    engine.reset("bad fills fixed", who="alice")
    assert engine.state is ACTIVE
    assert (engine.consecutive_losses, list(engine.errors), engine.halt_rule) == (0, [], "")
    assert engine.peak_equity == D(9_900)
    assert engine.events[-1] == RiskEvent(
        T0, "", "", "consecutive_losses", "reset", "admin: bad fills fixed by alice (was HALTED)"
    )
    assert engine.evaluate(intent()) is None
    assert engine.events[-1].action == "approve"


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_reset_needs_a_reason(reason: str) -> None:
    engine, _ = halted_by_daily_loss()
    with pytest.raises(ValueError, match="needs a reason"):
        engine.reset(reason)
    assert engine.state is HALTED
    engine.reset("data fixed")  # ``who`` defaults to admin
    assert engine.events[-1][3:] == ("daily_loss", "reset", "admin: data fixed (was HALTED)")


# -- 8. every decision is recorded -------------------------------------------------------------
def test_a_trading_day_is_recorded_decision_by_decision() -> None:
    engine, view = make(equity_by_ts={D0: D(10_000)})
    assert engine.evaluate(intent()) is None
    assert engine.events == [RiskEvent(T0, "s1", "BTC/USDT", "all", "approve", "quantity 0.1")]
    assert list(engine.order_times) == [(T0, "s1")]
    view.now_ns, view.equity_value = T0 + MINUTE, D(9_500)
    engine.on_fill()
    assert engine.events[-1][:5] == (T0 + MINUTE, "", "", "daily_loss", "halt")
    assert "loss 500.00 = 5.00%" in engine.events[-1].detail
    view.now_ns = T0 + 2 * MINUTE
    assert engine.evaluate(intent()) is not None
    view.now_ns, view.equity_by_ts[D1] = D1, D(9_500)
    assert engine.evaluate(intent()) is None
    assert [(e.ts, e.rule, e.action) for e in engine.events] == [
        (T0, "all", "approve"),
        (T0 + MINUTE, "daily_loss", "halt"),
        (T0 + 2 * MINUTE, "kill_switch", "deny"),
        (D1, "daily_loss", "reset"),
        (D1, "all", "approve"),
    ]
