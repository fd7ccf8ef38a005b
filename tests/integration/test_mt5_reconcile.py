"""Reconciliation of an MT5 account: the ccxt path's report from positions, pending orders,
the balance and the deal history; swaps and commissions booked to the ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mt5_harness import MAGIC, PREFIX, Mt5Venue, standin

from genebot.domain.account import Account
from genebot.domain.instrument import AccountType
from genebot.domain.orders import OrderStatus
from genebot.testkit.mt5_standin import C
from genebot.venues.mt5.execution import Charge
from genebot.venues.mt5.reconcile import book_charges, deal_charges, net_positions, reconcile

D = Decimal
WINDOW = (dt.datetime(2018, 1, 1), dt.datetime(2019, 1, 1))


def test_books_that_agree_and_a_strangers_order_reported_not_blocking() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    v.order("BUY", "10000")
    mt5.order_send({
        "action": C.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.02,
        "type": C.ORDER_TYPE_SELL_LIMIT, "price": 1.3, "magic": 1, "comment": "manual",
    })  # fmt: skip
    balance = D(str(mt5.account_info().balance))
    report = reconcile(v.client, {"USD": balance}, {v.inst.id: D("10000")})
    assert report.agrees and report.balances == []
    (unknown,) = report.unknown_orders
    assert (unknown.side, unknown.amount, unknown.genebots) == ("sell", D("2000"), False)
    assert "not placed by genebot" in unknown.describe()


def test_a_fill_while_genebot_was_away_is_applied_and_differences_refuse_trading() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    order = v.order("BUY", "10000", "LIMIT", price=D("1.23"))
    mt5.set_time("2018-03-09T15:00:00Z")  # filled on the terminal meanwhile
    report = reconcile(v.client, {"USD": D("10000")}, {v.inst.id: D("0")})
    assert order.status is OrderStatus.FILLED
    assert any("ACCEPTED → FILLED" in line for line in report.applied)
    assert not report.agrees
    diffs = {b.asset: (b.genebot, b.exchange) for b in report.balances}
    assert diffs["USD"] == (D("10000"), D("9999.65"))  # the deal's commission
    assert diffs[f"position {v.inst.id}"] == (D("0"), D("10000"))
    assert any("trading refused" in line for line in report.lines())
    assert net_positions(v.client) == {v.inst.id: D("10000")}


def test_genebots_prefix_on_an_order_not_in_the_book_is_said() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    mt5.order_send({
        "action": C.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.01,
        "type": C.ORDER_TYPE_BUY_LIMIT, "price": 1.1, "magic": MAGIC,
        "comment": f"{PREFIX}O-99",
    })  # fmt: skip
    (unknown,) = reconcile(v.client, {}).unknown_orders
    assert unknown.genebots and "genebot's prefix" in unknown.describe()


def test_swaps_on_the_closing_deal_go_to_the_ledger_as_financing() -> None:
    mt5 = standin(at="2018-03-05T10:30:00Z")  # a Monday
    v = Mt5Venue(mt5)
    charges: list[Charge] = []
    v.client.on_charge = charges.append
    v.order("BUY", "100000")  # 1 lot long: swap_long -6.5 points a night
    mt5.set_time("2018-03-08T10:30:00Z")  # three nights, Wednesday's counted three times
    close = v.order("SELL", "100000")
    assert close.status is OrderStatus.FILLED and mt5.positions_get() == ()
    (swap,) = charges
    assert swap.kind == "swap" and swap.amount == D("-32.5")  # 6.5 × (1 + 1 + 3) × $1
    assert mt5.deals[-1].swap == -32.5
    account = Account("mt5", AccountType.MARGIN)
    book_charges(account, charges)
    assert account.balance("USD") == D("-32.5")
    assert [e.kind for e in account.entries] == ["financing"]
    # the history shows no charge genebot has not seen (the fills carried the commissions)
    assert deal_charges(v.client, *WINDOW) == []


def test_deal_charges_from_the_history_after_a_restart() -> None:
    mt5 = standin(at="2018-03-05T10:30:00Z")
    v = Mt5Venue(mt5)
    v.order("BUY", "100000")
    mt5.set_time("2018-03-06T10:30:00Z")
    v.order("SELL", "100000")
    fresh = Mt5Venue(mt5).client  # a restart: nothing seen yet
    found = deal_charges(fresh, *WINDOW)
    assert sorted((c.kind, c.amount) for c in found) == [
        ("commission", D("-3.5")), ("commission", D("-3.5")), ("swap", D("-6.5")),
    ]  # fmt: skip
    account = Account("mt5", AccountType.MARGIN)
    book_charges(account, found)
    assert account.balance("USD") == D("-13.5")
