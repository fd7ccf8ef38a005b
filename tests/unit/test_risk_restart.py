"""A restarted risk engine resumes where it stopped: restoring a snapshot (and the closed trades
journaled up to it) gives exactly the decisions an engine that never stopped makes."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from test_risk_engine_state import DAY, MINUTE, T0, FakeView, intent, make, trade

from genebot.risk.engine import RiskEngine

D = Decimal
CONFIG = {"performance": {"window_trades": 5}, "limits": {"max_consecutive_losses": 3}}

# One step of the life of an account: time passes, equity moves, a trade closes, an error
# happens, an order is asked for.
step = st.one_of(
    st.tuples(st.just("wait"), st.integers(1, 30 * 60)),  # minutes
    st.tuples(st.just("equity"), st.integers(8_000, 12_000)),
    st.tuples(st.just("trade"), st.integers(-50, 50)),
    st.tuples(st.just("error"), st.just(0)),
    st.tuples(st.just("order"), st.just(0)),
)


def play(engine: RiskEngine, view: FakeView, steps: list[tuple[str, int]], k0: int) -> list:
    out = []
    for k, (kind, value) in enumerate(steps, start=k0):
        if kind == "wait":
            view.now_ns += value * MINUTE
            engine.refresh()
        elif kind == "equity":
            view.equity_value = D(value)
            engine.refresh()
        elif kind == "trade":
            engine.on_trade_closed(trade(value, 0)._replace(exit_ts=view.now_ns))
            engine.on_fill()
        elif kind == "error":
            engine.on_error("venue", f"rejected {k}")
        else:
            out.append(engine.evaluate(intent()))
        out.append((engine.state, engine.halt_rule, engine.consecutive_losses))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40), st.lists(step, max_size=40))
def test_restore_then_go_on_equals_never_stopping(
    before: list[tuple[str, int]], after: list[tuple[str, int]]
) -> None:
    engine, view = make(CONFIG)
    play(engine, view, before, 0)
    snapshot = json.loads(json.dumps(engine.snapshot()))  # as journaled: JSON text
    again, view2 = make(CONFIG, now_ns=view.now_ns, equity_value=view.equity_value)
    again.restore(snapshot, engine.trades)
    assert (again.state, again.halt_rule, again.halt_detail) == (
        engine.state,
        engine.halt_rule,
        engine.halt_detail,
    )
    n = len(engine.events)
    assert play(again, view2, after, 100) == play(engine, view, after, 100)
    assert again.events == engine.events[n:]


def test_a_halt_survives_the_restart() -> None:
    engine, view = make(CONFIG)
    for k in range(3):
        engine.on_trade_closed(trade(-10, k))
    engine.refresh()
    assert engine.halt_rule == "consecutive_losses"
    again, _ = make(CONFIG, now_ns=view.now_ns + 60 * MINUTE)  # the same day
    again.restore(json.loads(json.dumps(engine.snapshot())), engine.trades)
    assert again.evaluate(intent()) is not None  # still halted after the restart ...
    again.view.now_ns = T0 + DAY  # type: ignore[misc]
    again.refresh()
    assert again.state.value == "ACTIVE"  # ... until its daily reset, as before
