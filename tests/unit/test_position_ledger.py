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

from genebot.domain.account import Account, LedgerEntry
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


@pytest.mark.parametrize(
    ("quantum", "first", "cost", "avg", "second"),
    [
        ("0.00000001", "0.33333333", "203.33333333", "101.666666665", "0.66666667"),
        ("0.01", "0.33", "203.33", "101.665", "0.67"),
    ],
    ids=["quantum-1e-8", "quantum-cent"],
)
def test_realized_pnl_is_booked_to_the_quantum_and_the_cost_basis_keeps_the_rest(
    quantum: str, first: str, cost: str, avg: str, second: str
) -> None:
    pos = Position("s", "X", D(quantum))
    pos.apply_fill("BUY", D(1), D(101), D(0), 1, "signal")
    pos.apply_fill("BUY", D(2), D(102), D(0), 2, "signal")
    assert (pos.cost, pos.avg_px) == (305, D(305) / 3)
    realized, _ = pos.apply_fill("SELL", D(1), D(102), D(0), 3, "signal")  # (102 − 101.67) × 1
    assert (realized, pos.cost, pos.avg_px) == (D(first), D(cost), D(avg))
    realized, [trade] = pos.apply_fill("SELL", D(2), D(102), D(0), 4, "signal")
    assert realized == D(second)
    assert pos.realized_pnl == trade.pnl == 1  # 3 × 102 − 305: nothing leaks
    assert (pos.quantity, pos.cost) == (0, 0)


def test_a_flat_position_keeps_no_cost() -> None:
    pos = Position("s", "X", D("0.01"))
    pos.apply_fill("BUY", D("0.1"), D("100.04"), D(0), 1, "signal")  # cost 10.004
    realized, _ = pos.apply_fill("SELL", D("0.1"), D("100.06"), D(0), 2, "signal")
    # Each notional is booked rounded, as the ledger books it: 10.01 fetched − 10.00 paid.
    assert realized == D("0.01")
    assert pos.cost == 0
    pos.apply_fill("BUY", D("0.1"), D("100"), D(0), 3, "signal")
    assert pos.avg_px == 100


def test_a_remainder_under_the_dust_ends_the_round_trip_and_is_carried() -> None:
    # BTC held through several pairs: bought 1, sold in whole lots, 0.000005 cannot be sold.
    pos = Position("s", "BTC/USDT@sim")
    pos.dust = D("0.00001")
    pos.apply_fill("BUY", D(1), D(100), D(0), 1, "leg1")
    realized, [trade] = pos.apply_fill("SELL", D("0.999995"), D(110), D(0), 2, "leg3")
    assert realized == D("9.99995")  # 109.99945 fetched − 99.9995 of cost
    assert (trade.quantity, trade.entry_price, trade.exit_price, trade.exit_ts) == (1, 100, 110, 2)
    assert (pos.quantity, pos.cost) == (D("0.000005"), D("0.0005"))
    assert not pos.in_trade and not pos.is_flat  # held, but no round trip is open
    pos.apply_fill("BUY", D(1), D(120), D(0), 3, "leg1")  # a new round trip, with the remainder
    assert pos.in_trade
    _, [second] = pos.apply_fill("SELL", D(1), D(130), D(0), 4, "leg3")
    assert (second.entry_ts, second.quantity) == (3, D("1.000005"))
    # (0.0005 carried + 120) / 1.000005, to 12 decimals (the money quantum 1e-8, 4 beyond)
    assert second.entry_price == D("119.9999000005")
    assert pos.quantity == D("0.000005") and not pos.in_trade
    _, [last] = pos.apply_fill("SELL", D("0.000005"), D(130), D(0), 5, "sweep")  # sold at last
    assert (pos.quantity, pos.cost, last.quantity) == (0, 0, D("0.000005"))


def test_without_dust_a_remainder_keeps_the_round_trip_open() -> None:
    pos = Position("s", "X")
    pos.apply_fill("BUY", D(1), D(100), D(0), 1, "signal")
    assert pos.apply_fill("SELL", D("0.999995"), D(110), D(0), 2, "signal")[1] == []
    assert pos.in_trade


def test_a_notional_paid_in_another_currency_replaces_qty_times_price() -> None:
    pos = Position("s", "ETH/USDT@sim", D("0.00000001"))
    pos.apply_fill("BUY", D(10), D(2600), D(26), 1, "leg2", D(26000))  # 0.5 BTC worth 26,000
    assert (pos.cost, pos.fees) == (26000, 26)
    realized, [trade] = pos.apply_fill("SELL", D(10), D(2700), D(27), 2, "leg3")
    assert realized == 1000 and trade.pnl == D(947)


# -- a simulated exchange driven directly ----------------------------------------------------
BTC_USDT = {"tick_size": "0.01", "lot_size": "0.001"}


class Rig:
    """One instrument on one simulated venue, an execution engine and a portfolio."""

    def __init__(
        self, account: AccountType, opens: list[int], closes: list[int], symbol: str = "BTC/USDT",
        **spec: str | int,
    ) -> None:  # fmt: skip
        self.inst = Instrument.create(symbol, "sim", **(spec or BTC_USDT))  # type: ignore[arg-type]
        o = np.array(opens, dtype=float) / 100  # prices come in cents
        c = np.array(closes, dtype=float) / 100
        ts = np.arange(len(o), dtype=np.int64) * MINUTE
        self.bars = BarColumns(ts, o, np.maximum(o, c), np.minimum(o, c), c, np.full(len(o), 1e9))
        self.row = 0
        self.ex = SimulatedExchange("sim", account, [self.inst], mark=self.mark)
        self.ex.attach_bars(self.inst.id, self.bars)
        self.quote = self.inst.quote
        self.ex.account.deposit(0, self.quote, INITIAL)
        self.portfolio = Portfolio(self.mark, {self.inst.id: self.inst.money_quantum})
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
def sessions(draw: st.DrawFn) -> tuple[list[int], list[int], list[tuple[bool, int]]]:
    """Opens and closes in cents (a random walk, at most 5 % a step) and one action a bar."""
    actions = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 100)), min_size=1, max_size=25))
    price = draw(st.integers(1_000_000, 6_000_000))
    opens, closes = [], []
    for _ in range(len(actions) + 1):
        for out in (opens, closes):
            out.append(price)
            price = max(100_00, price + price * draw(st.integers(-500, 500)) // 10_000)
    return opens, closes, actions


def lots(amount: Decimal) -> Decimal:
    return amount.quantize(D("0.001"), rounding="ROUND_DOWN")


def drive(account: AccountType, session) -> Rig:  # type: ignore[no-untyped-def]
    """One market order per bar (filled at the next open): buys, adds, partial closes, flips."""
    opens, closes, actions = session
    rig = Rig(account, opens, closes)
    for buy, pct in actions:
        held = rig.position.quantity
        px = D(closes[rig.row]) / 100
        if account is AccountType.SPOT and not buy:
            side, qty = "SELL", lots(held * pct / 100)
        else:
            side = "BUY" if buy else "SELL"
            budget = rig.ex.account.balance("USDT") if buy else rig.ex.equity_in("USDT")
            qty = lots(budget * pct / 100 / px * D("0.9"))
        if qty > 0:
            rig.order(side, qty)
        rig.next_bar()
    assert rig.ex.book[rig.inst.id] == []
    return rig


def assert_reconciles(rig: Rig) -> None:
    """Both books agree, entries sum to balances, and initial + realized − fees (− the cost
    basis of a spot holding) is the quote balance, exactly."""
    venue, pos = rig.ex.positions[rig.inst.id], rig.position
    sleeve, account = rig.portfolio.sleeves["s"], rig.ex.account
    if account.account_type is AccountType.MARGIN:  # a spot venue holds balances, no position
        assert (venue.quantity, venue.cost, venue.realized_pnl) == (
            pos.quantity,
            pos.cost,
            pos.realized_pnl,
        )
        assert venue.fees == pos.fees
    assert (sleeve.realized_pnl, sleeve.fees) == (pos.realized_pnl, pos.fees)
    for currency, balance in account.balances.items():
        assert sum((e.amount for e in account.entries if e.currency == currency), D(0)) == balance
        assert sum(account.totals_by_kind(currency).values(), D(0)) == balance
    expected = INITIAL + pos.realized_pnl - pos.fees
    if account.account_type is AccountType.SPOT:
        assert account.balance(rig.inst.base) == pos.quantity
        assert all(balance >= 0 for balance in account.balances.values())
        expected -= pos.cost if pos.quantity else 0
    assert account.balance(rig.quote) == expected
    if pos.quantity:
        assert abs(pos.quantity * pos.avg_px - pos.cost) < D("1e-15")
    else:
        assert pos.cost == 0


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
@settings(max_examples=200, deadline=None)
@given(session=sessions())
# regressions: scaling in at two prices made the realized PnL and cost basis non-terminating
@example(session=([10**6, 10**6, 1000100], [10**6, 10**6, 1000100], [(True, 1), (True, 17)]))
@example(
    session=(
        [10**6] * 2 + [1000100] * 2,
        [10**6] * 2 + [1000100] * 2,
        [(True, 1)] * 2 + [(False, 1)],
    )
)
def test_ledger_reconciles_exactly(account: AccountType, session) -> None:  # type: ignore[no-untyped-def]
    assert_reconciles(drive(account, session))


@pytest.mark.parametrize("account", [AccountType.SPOT, AccountType.MARGIN], ids=["spot", "margin"])
def test_ledger_reconciles_exactly_after_scaling_in(account: AccountType) -> None:
    rig = Rig(account, [10_000, 10_100, 10_200, 10_200], [10_000] * 4)
    for side, qty in (("BUY", "1"), ("BUY", "2")):
        assert rig.order(side, D(qty)).status is OrderStatus.ACCEPTED
        rig.next_bar()
    assert rig.position.avg_px == D(305) / 3  # (101 + 2 × 102) / 3
    rig.order("SELL", D(1))
    rig.next_bar()
    assert rig.position.realized_pnl == D("0.33333333")
    assert rig.portfolio.sleeves["s"].fees == D("0.407")  # 0.1 % of 101 + 204 + 102
    balance = {AccountType.SPOT: "99796.593", AccountType.MARGIN: "99999.92633333"}[account]
    assert rig.ex.account.balance("USDT") == D(balance)
    assert_reconciles(rig)


@pytest.mark.parametrize(
    ("symbol", "spec", "prices", "qty"),
    [
        ("BTC/USD", {"tick_size": "0.01", "lot_size": "0.00000001", "quote_decimals": 2},
         [10_004, 10_004, 10_006, 10_006], "0.1"),  # notionals 10.004 → 10.00, 10.006 → 10.01
        ("ETH/BTC", {"tick_size": "0.000001", "lot_size": "0.0001"},
         [5.1237, 5.1237, 5.1311, 5.1311], "0.1234"),  # notional 0.0063226458: 10 decimals
    ],
    ids=["usd-quote-2-decimals", "eth-btc-tick-1e-6"],
)  # fmt: skip
@pytest.mark.parametrize("hold", [True, False], ids=["holding", "flat"])
def test_spot_ledger_reconciles_when_notionals_need_rounding(
    symbol: str, spec: dict, prices: list[float], qty: str, hold: bool
) -> None:
    rig = Rig(AccountType.SPOT, prices, prices, symbol, taker_fee="0", **spec)
    rig.order("BUY", D(qty))
    rig.next_bar()
    if not hold:
        rig.order("SELL", D(qty))
        rig.next_bar()
    assert_reconciles(rig)


def test_a_spot_fill_is_three_ledger_entries_with_their_signs() -> None:
    inst = Instrument.create("ETH/USDT", "sim", tick_size="0.01", lot_size="0.001")
    account = Account("sim", AccountType.SPOT)
    account.deposit(0, "USDT", D(1000))
    account.settle_fill(inst, "BUY", D("2"), D("100.5"), D("0.2"), D(0), 10, "O-1")
    account.settle_fill(inst, "SELL", D("0.5"), D("110"), D("0.055"), D(0), 20, "O-2")
    assert account.entries == [
        LedgerEntry(0, "USDT", D(1000), "deposit", "initial"),
        LedgerEntry(10, "ETH", D("2"), "trade", "O-1"),
        LedgerEntry(10, "USDT", D("-201.00"), "trade", "O-1"),
        LedgerEntry(10, "USDT", D("-0.2"), "fee", "O-1"),
        LedgerEntry(20, "ETH", D("-0.5"), "trade", "O-2"),
        LedgerEntry(20, "USDT", D("55.00"), "trade", "O-2"),
        LedgerEntry(20, "USDT", D("-0.055"), "fee", "O-2"),
    ]
    assert account.balances == {"USDT": D("853.745"), "ETH": D("1.5")}
    assert account.totals_by_kind("USDT") == {
        "deposit": D(1000),
        "trade": D("-146.00"),
        "fee": D("-0.255"),
    }
    account.clear()
    assert account.entries == [] and account.balances == {}
