"""Account balances per currency and the exact ledger behind them.

Every balance change is a ledger entry; the balance is the sum of its entries, to the last
quantum. Spot accounts settle the full notional in both currencies and may never go below zero.
Margin accounts settle only realized PnL and fees in the quote currency; positions are held
against a margin requirement.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

from genebot.core.errors import LedgerError
from genebot.domain.instrument import AccountType, Instrument

ZERO = Decimal(0)


class LedgerEntry(NamedTuple):
    ts: int
    currency: str
    amount: Decimal
    kind: str  # "deposit" | "trade" | "fee" | "realized_pnl"
    ref: str  # client order id or note


class SpotFill(NamedTuple):
    """One spot fill as the ledger keeps it: its three balance changes (base quantity, quote
    notional, quote fee) in one record, amounts as booked (unsigned; ``side`` gives the signs).
    A third of the memory of three entries, and :meth:`entries` gives them back exactly."""

    ts: int
    ref: str
    side: str
    base: str
    quantity: Decimal
    quote: str
    notional: Decimal
    fee: Decimal

    def entries(self) -> tuple[LedgerEntry, LedgerEntry, LedgerEntry]:
        buy = self.side == "BUY"
        return (
            LedgerEntry(
                self.ts, self.base, self.quantity if buy else -self.quantity, "trade", self.ref
            ),
            LedgerEntry(
                self.ts, self.quote, -self.notional if buy else self.notional, "trade", self.ref
            ),
            LedgerEntry(self.ts, self.quote, -self.fee, "fee", self.ref),
        )


class Account:
    """Balances of one account on one venue."""

    __slots__ = ("_records", "account_type", "balances", "venue")

    def __init__(self, venue: str, account_type: AccountType) -> None:
        self.venue = venue
        self.account_type = account_type
        self.balances: dict[str, Decimal] = {}
        self._records: list[LedgerEntry | SpotFill] = []

    @property
    def entries(self) -> list[LedgerEntry]:
        """Every balance change in booking order (a spot fill is three: base, notional, fee)."""
        out: list[LedgerEntry] = []
        for record in self._records:
            if type(record) is SpotFill:
                out += record.entries()
            else:
                out.append(record)  # type: ignore[arg-type]
        return out

    def clear(self) -> None:
        """Forget every balance and entry (set-up only: before the first deposit)."""
        self.balances.clear()
        self._records.clear()

    def balance(self, currency: str) -> Decimal:
        return self.balances.get(currency, ZERO)

    def _post(self, ts: int, currency: str, amount: Decimal, kind: str, ref: str) -> None:
        if amount == 0:
            return
        self.balances[currency] = self.balances.get(currency, ZERO) + amount
        self._records.append(LedgerEntry(ts, currency, amount, kind, ref))

    def deposit(self, ts: int, currency: str, amount: Decimal, ref: str = "initial") -> None:
        self._post(ts, currency, amount, "deposit", ref)

    def post_financing(self, ts: int, currency: str, amount: Decimal, ref: str) -> None:
        """A rollover (swap) credit or debit on an open position."""
        self._post(ts, currency, amount, "financing", ref)

    def post_fee(self, ts: int, currency: str, amount: Decimal, ref: str) -> None:
        """A fee charged in a currency other than the fill's quote (e.g. BNB on Binance)."""
        self._post(ts, currency, -amount, "fee", ref)

    def settle_fill(
        self,
        instrument: Instrument,
        side: str,
        qty: Decimal,
        px: Decimal,
        fee: Decimal,
        realized_pnl: Decimal,
        ts: int,
        ref: str,
    ) -> None:
        """Book one fill. ``realized_pnl`` is used by margin accounts only."""
        if self.account_type is AccountType.SPOT:
            notional = instrument.round_money(qty * px)
            base, quote = instrument.base, instrument.quote
            balances = self.balances
            if side == "SELL":
                new_base = balances.get(base, ZERO) - qty
                new_quote = balances.get(quote, ZERO) + notional - fee
            else:
                new_base = balances.get(base, ZERO) + qty
                new_quote = balances.get(quote, ZERO) - notional - fee
            if new_base < 0 or new_quote < 0:  # checked before anything is booked
                short = base if new_base < 0 else quote
                raise LedgerError(
                    f"spot balance of {short} on {self.venue} would be "
                    f"{new_base if new_base < 0 else new_quote} after {ref}"
                )
            balances[base], balances[quote] = new_base, new_quote
            self._records.append(SpotFill(ts, ref, side, base, qty, quote, notional, fee))
        else:
            self._post(
                ts, instrument.quote, instrument.round_money(realized_pnl), "realized_pnl", ref
            )
            self._post(ts, instrument.quote, -fee, "fee", ref)

    def totals_by_kind(self, currency: str) -> Mapping[str, Decimal]:
        """Sum of entries per kind for one currency (used to reconcile the ledger)."""
        totals: dict[str, Decimal] = {}
        for entry in self.entries:
            if entry.currency == currency:
                totals[entry.kind] = totals.get(entry.kind, ZERO) + entry.amount
        return totals
