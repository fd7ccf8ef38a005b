"""Reconciliation of an MT5 account: the same report as the ccxt path.

:func:`reconcile` lets the execution client catch up first (deals made while genebot was down
are applied, pending orders that ended are closed, orders in flight are looked for by their
comment), then compares:

* pending orders (``orders_get``) genebot does not hold: *unknown* — genebot's comment prefix
  but not this book, or a stranger's (never touched);
* the account balance (``account_info().balance``, in the account currency) against the
  ledger's, and the net position per symbol (``positions_get``, lots × contract size, sells
  negative) against genebot's;
* swaps and commissions on genebot's deals (``history_deals_get``, by ``magic``) not booked
  yet: returned as :class:`~genebot.venues.mt5.execution.Charge` rows for the ledger
  (:func:`book_charges`: swaps as financing, commissions as fees).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from genebot.domain.account import Account
from genebot.venues.ccxt.reconcile import BalanceDiff, Report, UnknownOrder, catch_up
from genebot.venues.mt5.execution import Charge, Mt5ExecutionClient

ZERO = Decimal(0)
POSITION_TYPE_SELL = 1


def reconcile(
    client: Mt5ExecutionClient,
    expected_balance: Mapping[str, Decimal],
    expected_positions: Mapping[str, Decimal] | None = None,
    *,
    tolerance: Decimal = Decimal("0.01"),
) -> Report:
    """Catch up, then compare pending orders, the balance and the net positions."""
    report = Report()
    catch_up(client, report, "the terminal")
    report.in_flight = [p.comment for p in client.in_flight.values()]
    report.unknown_orders = _unknown_orders(client)
    report.balances = _balance_diffs(client, expected_balance, tolerance)
    if expected_positions is not None:
        report.balances += _position_diffs(client, expected_positions)
    return report


def _unknown_orders(client: Mt5ExecutionClient) -> list[UnknownOrder]:
    mine = {client.comment_of(coid) for coid in client.working}
    return [
        UnknownOrder(
            o["symbol"],
            o["id"],
            o["clientOrderId"],
            o["side"],
            o["amount"],
            o["price"],
            client.genebot_id(o["clientOrderId"]) is not None,
        )
        for o in client.open_orders()
        if o["clientOrderId"] not in mine
    ]


def _balance_diffs(
    client: Mt5ExecutionClient, expected: Mapping[str, Decimal], tolerance: Decimal
) -> list[BalanceDiff]:
    account = client.mt5.account_info()
    have = {str(account.currency): Decimal(str(account.balance))} if account is not None else {}
    out = []
    for asset, want in sorted(expected.items()):
        got = have.get(asset, ZERO)
        if abs(got - want) > tolerance:
            out.append(BalanceDiff(asset, want, got))
    return out


def net_positions(client: Mt5ExecutionClient) -> dict[str, Decimal]:
    """The account's net position per genebot instrument (units; sells negative)."""
    by_name = {s.name: iid for iid, s in client.specs.items()}
    out: dict[str, Decimal] = {}
    for p in client.mt5.positions_get() or ():
        iid = by_name.get(str(p.symbol))
        if iid is None:
            continue
        units = client.specs[iid].units(float(p.volume))
        sign = -1 if int(p.type) == POSITION_TYPE_SELL else 1
        out[iid] = out.get(iid, ZERO) + sign * units
    return out


def _position_diffs(
    client: Mt5ExecutionClient, expected: Mapping[str, Decimal]
) -> list[BalanceDiff]:
    have = net_positions(client)
    out = []
    for iid in sorted(set(have) | set(expected)):
        want, got = expected.get(iid, ZERO), have.get(iid, ZERO)
        if want != got:
            out.append(BalanceDiff(f"position {iid}", want, got))
    return out


def deal_charges(client: Mt5ExecutionClient, since: dt.datetime, until: dt.datetime) -> list[Any]:
    """Swaps and commissions on genebot's deals (its ``magic``) in the window, not booked yet
    (``client.charges`` holds those already booked, by deal)."""
    booked = {(c.ref, c.kind) for c in client.charges}
    out: list[Charge] = []
    for deal in client.mt5.history_deals_get(since, until) or ():
        if int(deal.magic) != client.magic:
            continue
        ref = f"{client.venue}:{deal.ticket}"
        ts = client.server.to_utc_ns(int(deal.time))
        for kind, value in (("swap", deal.swap), ("commission", deal.commission)):
            amount = Decimal(str(value))
            if amount and (ref, kind) not in booked:
                out.append(Charge(ts, client.currency, amount, kind, ref))
    return out


def book_charges(account: Account, charges: list[Charge]) -> None:
    """Swaps to the ledger as financing, commissions as fees (a cost is negative in MT5)."""
    for c in charges:
        if c.kind == "swap":
            account.post_financing(c.ts, c.currency, c.amount, c.ref)
        else:
            account.post_fee(c.ts, c.currency, -c.amount, c.ref)
