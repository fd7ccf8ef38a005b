"""Reconciliation scenarios against the emulator through the real ccxt: what happened on the
exchange while genebot was not looking is applied; unknown orders are reported (genebot's
prefix told apart); a balance that differs refuses trading and says how to resolve it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from genebot.domain.orders import OrderStatus
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import PREFIX, SYMBOL, Venue, funded_emulator
from genebot.venues.ccxt.reconcile import reconcile

D = Decimal


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        yield emulator


def _expected(btc: str, usdt_spent: str) -> dict[str, Decimal]:
    return {"BTC": D(btc), "USDT": D("10000") - D(usdt_spent)}


# scenario → (exchange-side change, status after, filled after, usdt spent incl. 0.1 % fee)
SCENARIOS = [
    ("fill missed", lambda e, vid: e.fill_while_down(vid), "FILLED", "0.1", "4904.9"),
    ("partial fill", lambda e, vid: e.fill_while_down(vid, qty="0.04"), "PARTIALLY_FILLED",
     "0.04", "1961.96"),
    ("canceled", lambda e, vid: e.cancel_on_exchange(vid), "CANCELED", "0", "0"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "status", "filled", "spent"), SCENARIOS)
def test_what_happened_while_down_is_applied(
    emu: BinanceEmulator, name: str, change: object, status: str, filled: str, spent: str
) -> None:
    v = Venue(emu)
    order = v.buy("0.1", "LIMIT", price=D("49000"))
    assert order.status is OrderStatus.ACCEPTED
    change(emu, PREFIX + order.client_order_id)  # type: ignore[operator]
    report = reconcile(v.client, _expected(filled, spent))
    assert order.status.value == status, name
    assert order.filled_qty == D(filled)
    assert v.portfolio.position("s", v.inst.id).quantity == D(filled)
    assert [line for line in report.applied if order.client_order_id in line], report.lines()
    assert report.agrees, report.lines()
    again = reconcile(v.client, _expected(filled, spent))
    assert again.applied == [] and again.agrees  # applied once


def test_unknown_orders_are_reported_and_never_touched(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "30000", client_order_id="manual-1")
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "31000", client_order_id=PREFIX + "O-99")
    report = reconcile(v.client, _expected("0", "0"))
    assert sorted((u.client_order_id, u.genebots) for u in report.unknown_orders) == [
        (PREFIX + "O-99", True),
        ("manual-1", False),
    ]
    assert all(u.venue_order_id for u in report.unknown_orders)
    assert any("not placed by genebot" in line for line in report.lines())
    assert [o["status"] for o in emu.orders()] == ["NEW", "NEW"]  # untouched


def test_a_balance_that_differs_refuses_trading_and_names_the_fix(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    report = reconcile(v.client, {"BTC": D("0.5"), "USDT": D("10000")})
    assert not report.agrees
    (diff,) = report.balances
    assert (diff.asset, diff.genebot, diff.exchange) == ("BTC", D("0.5"), D("0"))
    lines = report.lines()
    assert any("BTC: genebot's books hold 0.5, the exchange 0" in line for line in lines)
    assert "genebot reconcile --config FILE --show" in lines[-1]
