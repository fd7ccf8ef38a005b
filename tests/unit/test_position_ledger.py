"""Positions, closed trades and the account ledger behind a simulated exchange.

PnL numbers are computed by hand in the comments. The ledger properties drive a spot and a
margin ``SimulatedExchange`` directly with random market orders on random price paths.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import OrderStatus
from genebot.domain.position import ClosedTrade, Position
from genebot.execution.engine import ExecutionEngine
from genebot.portfolio.portfolio import Portfolio
from genebot.venues.sim.bars import BarColumns
from genebot.venues.sim.exchange import SimulatedExchange

D = Decimal
INITIAL = D("100000")
MINUTE = 60_000_000_000


# -- Position by hand -----------------------------------------------------------------------
def test_long_round_trip() -> None:
    pos = Position("s", "BTC/USDT@sim")
    assert pos.apply_fill("BUY", D(2), D(100), D("0.2"), 1, "signal") == (0, [])
    assert (pos.quantity, pos.avg_px) == (2, 100)
    assert pos.unrealized_pnl(D(105)) == 10
    realized, closed = pos.apply_fill("SELL", D(2), D(110), D("0.22"), 2, "take_profit")
    assert realized == 20  # (110 − 100) × 2
    assert closed == [
        ClosedTrade(
            "s", "BTC/USDT@sim", "long", 1, D(100), 2, D(110), D(2), D("19.58"), D("0.42"),
            "take_profit",
        )
    ]  # fmt: skip
    assert closed[0].pnl_pct == D("0.0979")  # 19.58 / 200
    assert (pos.is_flat, pos.avg_px, pos.realized_pnl, pos.fees) == (True, 0, 20, D("0.42"))


def test_short_round_trip() -> None:
    pos = Position("s", "X")
    pos.apply_fill("SELL", D(3), D(100), D("0.3"), 1, "signal")
    assert (pos.quantity, pos.avg_px) == (-3, 100)
    assert pos.unrealized_pnl(D(95)) == 15  # (95 − 100) × −3
    realized, [trade] = pos.apply_fill("BUY", D(3), D(90), D("0.27"), 5, "stop_loss")
    assert realized == 30  # (100 − 90) × 3
    assert (trade.side, trade.entry_price, trade.exit_price, trade.quantity) == (
        "short", 100, 90, 3
    )  # fmt: skip
    assert (trade.pnl, trade.fees, trade.entry_ts, trade.exit_ts) == (D("29.43"), D("0.57"), 1, 5)


def test_partial_closes_average_the_exit_price() -> None:
    pos = Position("s", "X")
    pos.apply_fill("BUY", D(2), D(100), D("0.2"), 1, "signal")
    assert pos.apply_fill("SELL", D("0.5"), D(110), D("0.055"), 2, "x") == (5, [])
    assert (pos.quantity, pos.avg_px, pos.realized_pnl) == (D("1.5"), 100, 5)
    realized, [trade] = pos.apply_fill("SELL", D("1.5"), D(120), D("0.18"), 3, "signal")
    assert realized == 30
    assert trade.exit_price == D("117.5")  # (110 × 0.5 + 120 × 1.5) / 2
    assert trade.quantity == 2
    assert trade.fees == D("0.435")
    assert trade.pnl == D("34.565")  # 5 + 30 − 0.435
    assert (trade.entry_ts, trade.exit_ts) == (1, 3)


def test_flip_closes_one_trade_and_opens_the_other_side() -> None:
    pos = Position("s", "X")
    pos.apply_fill("BUY", D(1), D(100), D("0.1"), 1, "signal")
    realized, [long] = pos.apply_fill("SELL", D(3), D(110), D("0.33"), 2, "signal")
    assert realized == 10
    # the closing third of the 0.33 fee belongs to the long trade, the rest to the short
    assert (long.side, long.quantity, long.fees, long.pnl) == ("long", 1, D("0.21"), D("9.79"))
    assert (pos.quantity, pos.avg_px) == (-2, 110)
    realized, [short] = pos.apply_fill("BUY", D(2), D(100), D("0.2"), 3, "stop_loss")
    assert realized == 20
    assert (short.side, short.entry_ts, short.entry_price, short.exit_price) == (
        "short", 2, 110, 100
    )  # fmt: skip
    assert (short.quantity, short.fees, short.pnl, short.exit_reason) == (
        2, D("0.42"), D("19.58"), "stop_loss"
    )  # fmt: skip
    assert (pos.realized_pnl, pos.fees, pos.is_flat) == (30, D("0.63"), True)


def test_adding_to_a_position_averages_the_entry() -> None:
    pos = Position("s", "X")
    pos.apply_fill("BUY", D(1), D(100), D(0), 1, "signal")
    pos.apply_fill("BUY", D(3), D(104), D(0), 2, "signal")
    assert pos.avg_px == 103  # (100 + 312) / 4
    assert pos.unrealized_pnl(D(110)) == 28
    _, [trade] = pos.apply_fill("SELL", D(4), D(110), D(0), 3, "signal")
    assert (trade.entry_price, trade.quantity, trade.pnl, trade.entry_ts) == (103, 4, 28, 1)


def test_pnl_pct_of_a_zero_cost_trade_is_zero() -> None:
    trade = ClosedTrade("s", "X", "long", 0, D(0), 1, D(1), D(1), D(1), D(0), "signal")
    assert trade.pnl_pct == 0


# -- a simulated exchange driven directly ----------------------------------------------------
class Rig:
    """One instrument on one simulated venue, an execution engine and a portfolio."""

    def __init__(self, account: AccountType, opens: list[int], closes: list[int]) -> None:
        self.inst = Instrument.create("BTC/USDT", "sim", tick_size="0.01", lot_size="0.001")
        o = np.array(opens, dtype=float) / 100  # prices come in cents
        c = np.array(closes, dtype=float) / 100
        ts = np.arange(len(o), dtype=np.int64) * MINUTE
        self.bars = BarColumns(ts, o, np.maximum(o, c), np.minimum(o, c), c, np.full(len(o), 1e9))
        self.row = 0
        self.ex = SimulatedExchange("sim", account, [self.inst], mark=self.mark)
        self.ex.attach_bars(self.inst.id, self.bars)
        self.ex.account.deposit(0, "USDT", INITIAL)
        self.portfolio = Portfolio(self.mark)
        self.engine = ExecutionEngine(self.portfolio, {self.inst.id: self.inst})
        self.engine.register_client(self.ex)
        self.portfolio.add_sleeve("s", INITIAL)

    def mark(self, iid: str) -> float:
        return float(self.bars.close[self.row])

    def order(self, side: str, qty: Decimal):  # type: ignore[no-untyped-def]
        return self.engine.create("s", self.inst, side, qty, "MARKET")

    def next_bar(self) -> None:
        self.row += 1
        self.ex.on_bar(self.inst.id, self.row)

    @property
    def position(self) -> Position:
        return self.portfolio.position("s", self.inst.id)


def test_spot_sell_without_holdings_is_rejected_as_a_short() -> None:
    rig = Rig(AccountType.SPOT, [5_000_000] * 2, [5_000_000] * 2)
    order = rig.order("SELL", D("0.1"))
    assert order.status is OrderStatus.REJECTED
    assert "short" in order.reason
    assert rig.ex.book[rig.inst.id] == []


def test_spot_buy_over_the_free_balance_is_rejected() -> None:
    rig = Rig(AccountType.SPOT, [5_000_000] * 2, [5_000_000] * 2)
    order = rig.order("BUY", D("2"))  # 100,000 + 0.1 % fee > 100,000
    assert order.status is OrderStatus.REJECTED
    assert "insufficient USDT" in order.reason
    assert rig.order("BUY", D("1.998")).status is OrderStatus.ACCEPTED  # 99,999.9 fits


def test_spot_buy_counts_funds_reserved_by_working_orders() -> None:
    rig = Rig(AccountType.SPOT, [5_000_000] * 2, [5_000_000] * 2)
    first = rig.engine.create("s", rig.inst, "BUY", D(1), "LIMIT", price=D("49000"))
    assert first.status is OrderStatus.ACCEPTED
    second = rig.order("BUY", D("1.02"))  # 49,049 reserved + 51,051 > 100,000
    assert second.status is OrderStatus.REJECTED


# -- ledger properties ----------------------------------------------------------------------
@st.composite
def price_paths(draw: st.DrawFn, n: int) -> tuple[list[int], list[int]]:
    """Opens and closes in cents: a random walk moving at most 5 % between prices."""
    price = draw(st.integers(1_000_000, 6_000_000))
    opens, closes = [], []
    for _ in range(n + 1):
        for out in (opens, closes):
            out.append(price)
            price = max(100_00, price + price * draw(st.integers(-500, 500)) // 10_000)
    return opens, closes


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[int], list[int], list[tuple[bool, int]]]:
    actions = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 100)), min_size=1, max_size=25))
    opens, closes = draw(price_paths(len(actions)))
    return opens, closes, actions


def lots(amount: Decimal) -> Decimal:
    return amount.quantize(D("0.001"), rounding="ROUND_DOWN")


def drive(account: AccountType, session, scale_in: bool) -> Rig:  # type: ignore[no-untyped-def]
    """Send one market order per bar; fill it at the next bar's open.

    With ``scale_in`` false an order never adds to an open position (it opens one from flat,
    reduces, closes or flips), so every position has a single entry price.
    """
    opens, closes, actions = session
    rig = Rig(account, opens, closes)
    for buy, pct in actions:
        held = rig.position.quantity
        px = D(closes[rig.row]) / 100
        if account is AccountType.SPOT:
            if buy and (scale_in or held == 0):
                side, qty = "BUY", lots(rig.ex.account.balance("USDT") * pct / 100 / px * D("0.9"))
            else:
                side, qty = "SELL", lots(held * pct / 100)
        else:
            side = "BUY" if buy else "SELL"
            if not scale_in and held != 0:
                side = "SELL" if held > 0 else "BUY"
            equity = rig.ex.equity_in("USDT")
            qty = lots(equity * pct / 100 / px * D("0.9"))
            if not scale_in and held != 0:
                qty = lots(abs(held) * pct / 50)  # up to twice the position: flips too
        if qty > 0:
            rig.order(side, qty)
        rig.next_bar()
    assert rig.ex.book[rig.inst.id] == []
    return rig


def assert_books_agree(rig: Rig) -> None:
    venue, mine = rig.ex.positions[rig.inst.id], rig.position
    sleeve = rig.portfolio.sleeves["s"]
    assert (venue.quantity, venue.avg_px) == (mine.quantity, mine.avg_px)
    assert (venue.realized_pnl, venue.fees) == (sleeve.realized_pnl, sleeve.fees)
    for currency, balance in rig.ex.account.balances.items():
        entries = [e.amount for e in rig.ex.account.entries if e.currency == currency]
        assert sum(entries, D(0)) == balance
        assert sum(rig.ex.account.totals_by_kind(currency).values(), D(0)) == balance


def assert_reconciles(rig: Rig) -> None:
    """initial + realized − fees (− cost basis of a spot holding) == quote balance, exactly."""
    pos, sleeve, account = rig.position, rig.portfolio.sleeves["s"], rig.ex.account
    expected = INITIAL + sleeve.realized_pnl - sleeve.fees
    if account.account_type is AccountType.SPOT:
        assert account.balance("BTC") == pos.quantity
        expected -= pos.quantity * pos.avg_px
    assert account.balance("USDT") == expected


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@settings(max_examples=150, deadline=None)
@given(session=sessions())
def test_ledger_entries_sum_to_the_balances(account: AccountType, session) -> None:  # type: ignore[no-untyped-def]
    rig = drive(account, session, scale_in=True)
    assert_books_agree(rig)
    if account is AccountType.SPOT:
        assert all(balance >= 0 for balance in rig.ex.account.balances.values())


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@settings(max_examples=150, deadline=None)
@given(session=sessions())
def test_ledger_reconciles_exactly_with_single_entry_positions(
    account: AccountType,
    session,  # type: ignore[no-untyped-def]
) -> None:
    rig = drive(account, session, scale_in=False)
    assert_books_agree(rig)
    assert_reconciles(rig)


# Buy 1 at 101, buy 2 at 102, sell 1 at 102: the average entry is 101.666…, so the realized
# PnL of the partial close (0.333…) and the remaining cost basis (2 × 101.666…) do not terminate.


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@pytest.mark.xfail(
    strict=True,
    reason="BUG: Position keeps avg_px and realized_pnl as unrounded Decimal quotients "
    "(domain/position.py _increase/_reduce); after scaling in, realized PnL does not terminate, "
    "the margin ledger books it rounded to the money quantum (account.py settle_fill) and the "
    "spot cost basis qty×avg_px is off in the 23rd decimal, so the ledger no longer reconciles "
    "exactly",
)
def test_ledger_reconciles_exactly_after_scaling_in(account: AccountType) -> None:
    rig = Rig(account, [10_000, 10_100, 10_200, 10_200], [10_000] * 4)
    for side, qty in (("BUY", "1"), ("BUY", "2"), ("SELL", "1")):
        assert rig.order(side, D(qty)).status is OrderStatus.ACCEPTED
        rig.next_bar()
    assert rig.position.avg_px == D(305) / 3  # (101 + 2 × 102) / 3
    assert_books_agree(rig)
    assert_reconciles(rig)


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@pytest.mark.xfail(
    strict=True, reason="BUG: same as test_ledger_reconciles_exactly_after_scaling_in"
)
@settings(max_examples=150, deadline=None)
@given(session=sessions())
@example(session=([10**6, 10**6, 1000100], [10**6, 10**6, 1000100], [(True, 1), (True, 17)]))
@example(
    session=(
        [10**6] * 2 + [1000100] * 2,
        [10**6] * 2 + [1000100] * 2,
        [(True, 1)] * 2 + [(False, 1)],
    )
)
def test_ledger_reconciles_exactly_with_random_orders(account: AccountType, session) -> None:  # type: ignore[no-untyped-def]
    rig = drive(account, session, scale_in=True)
    assert_reconciles(rig)


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@settings(max_examples=150, deadline=None)
@given(session=sessions())
def test_ledger_reconciles_to_the_money_quantum(account: AccountType, session) -> None:  # type: ignore[no-untyped-def]
    """What does hold today: the gap is below half a quantum (1e-8) per fill."""
    rig = drive(account, session, scale_in=True)
    pos, sleeve = rig.position, rig.portfolio.sleeves["s"]
    expected = INITIAL + sleeve.realized_pnl - sleeve.fees
    if account is AccountType.SPOT:
        expected -= pos.quantity * pos.avg_px
    fills = sum(1 for o in rig.engine.order_log if o.filled_qty > 0)
    assert abs(rig.ex.account.balance("USDT") - expected) <= D("0.5e-8") * fills
