"""Positions per strategy and instrument, closed trades, and each strategy's capital sleeve.

A sleeve is the share of the account a strategy may use: ``allocated`` capital plus its realized
PnL, minus its fees, plus financing and the unrealized PnL of its open positions — all in the
account currency (PnL of an instrument quoted in another currency, e.g. ETH/BTC, is converted at
the rate of the moment). Strategies size orders from
their sleeve, never from the whole account; the orchestrator later moves ``allocated``.

On a spot account a strategy holds currencies, not pairs. A pair quoted in the account currency
(ETH/USDT) is its base currency's position. A cross pair (ETH/BTC in a USDT account) gets no
position of its own when both its currencies have such a pair on its venue: each fill is booked
as two trades in the account currency, of ETH (in ETH/USDT's position) and of BTC (in
BTC/USDT's). So a completed arbitrage cycle USDT → ETH → BTC → USDT closes the ETH round trip,
realizes the BTC leg and leaves only the real residue of each currency, not three offsetting
pair positions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import NamedTuple

from genebot.core.precision import quantize, to_decimal
from genebot.domain.events import OrderFilled
from genebot.domain.instrument import Instrument
from genebot.domain.position import DEFAULT_QUANTUM, ClosedTrade, Position

ZERO = Decimal(0)
MarkFn = Callable[[str], float | None]
RateFn = Callable[[str], Decimal | None]  # currency → account-currency rate
ONE = Decimal(1)


class CrossBooks(NamedTuple):
    """Where a spot cross pair is booked: the positions of its base and of its quote currency,
    each the pair of that currency in the account currency on the same venue."""

    base: str  # ETH/USDT@binance for ETH/BTC@binance in a USDT account
    quote: str  # BTC/USDT@binance
    base_lot: Decimal  # the lot sizes of those pairs: less is a remainder, not a holding
    quote_lot: Decimal


class Sleeve:
    """Capital held for one strategy."""

    __slots__ = (
        "_portfolio",
        "allocated",
        "fees",
        "financing",
        "positions",
        "realized_pnl",
        "strategy_id",
    )

    def __init__(
        self, strategy_id: str, allocated: Decimal, portfolio: Portfolio | None = None
    ) -> None:
        self._portfolio = portfolio
        self.strategy_id = strategy_id
        self.allocated = allocated
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.financing = ZERO
        self.positions: dict[str, Position] = {}

    def equity(self, mark: MarkFn) -> Decimal:
        total = self.allocated + self.realized_pnl - self.fees + self.financing
        for iid, pos in self.positions.items():
            if pos.quantity:
                px = mark(iid)
                if px is not None:
                    pnl = pos.unrealized_pnl(to_decimal(px))
                    total += self._portfolio.to_account(iid, pnl) if self._portfolio else pnl
        return total

    def exposure(self, mark: MarkFn) -> Decimal:
        """Gross notional of open positions at current marks."""
        total = ZERO
        for iid, pos in self.positions.items():
            px = mark(iid)
            if pos.quantity and px is not None:
                total += abs(pos.quantity) * to_decimal(px)
        return total


class Portfolio:
    """All sleeves, their positions and the closed round trips."""

    def __init__(
        self,
        mark: MarkFn,
        quanta: dict[str, Decimal] | None = None,
        quotes: dict[str, str] | None = None,
        rate: RateFn | None = None,
    ) -> None:
        self.mark = mark
        self.quotes = quotes or {}  # instrument id → quote currency
        self.rate: RateFn = rate or (lambda currency: ONE)
        self.quanta = quanta or {}  # money quantum per instrument id (default 1e-8)
        self.sleeves: dict[str, Sleeve] = {}
        self.trades: list[ClosedTrade] = []
        # Per trade, the account-currency value of one unit of its quote currency when it
        # closed (1 in the account currency): results show PnL and fees in one currency.
        self.trade_rates: list[Decimal] = []
        self.open_count = 0  # positions in a round trip, kept up to date at every fill
        self.books: dict[str, CrossBooks] = {}  # spot cross pair → its currencies' positions
        self.account_currency: str | None = None  # set by the kernel; amounts in it need no rate

    def book_spot_currencies(
        self, instruments: Mapping[str, Instrument], spot_venues: Collection[str], account: str
    ) -> None:
        """Book the fills of spot cross pairs as trades of their two currencies (module doc),
        where both currencies have a pair in the ``account`` currency on the same venue;
        a cross pair without them keeps a position of its own. Call before the first fill."""
        direct = {(i.venue, i.base): iid for iid, i in instruments.items() if i.quote == account}
        self.books = {}
        for iid, inst in instruments.items():
            if inst.venue not in spot_venues or account in (inst.base, inst.quote):
                continue
            base = direct.get((inst.venue, inst.base))
            quote = direct.get((inst.venue, inst.quote))
            if base is not None and quote is not None:
                lots = instruments[base].lot_size, instruments[quote].lot_size
                self.books[iid] = CrossBooks(base, quote, *lots)

    def booked_as(self, instrument_id: str) -> str:
        """The position ``instrument_id``'s base is held in (itself unless a booked cross)."""
        books = self.books.get(instrument_id)
        return instrument_id if books is None else books.base

    def add_sleeve(self, strategy_id: str, allocated: Decimal) -> Sleeve:
        sleeve = Sleeve(strategy_id, allocated, self)
        self.sleeves[strategy_id] = sleeve
        return sleeve

    def position(self, strategy_id: str, instrument_id: str) -> Position:
        """The strategy's position; for a booked cross pair, its base currency's."""
        if self.books:
            instrument_id = self.booked_as(instrument_id)
        positions = self.sleeves[strategy_id].positions
        pos = positions.get(instrument_id)
        if pos is None:
            quantum = self.quanta.get(instrument_id, DEFAULT_QUANTUM)
            pos = positions[instrument_id] = Position(strategy_id, instrument_id, quantum)
        return pos

    def on_fill(self, strategy_id: str, fill: OrderFilled, tag: str) -> list[ClosedTrade]:
        books = self.books.get(fill.instrument_id)
        if books is not None:
            return self._on_cross_fill(strategy_id, fill, tag, books)
        sleeve = self.sleeves[strategy_id]
        pos = self.position(strategy_id, fill.instrument_id)
        was_open = pos.in_trade
        realized, closed = pos.apply_fill(
            fill.side, fill.last_qty, fill.last_px, fill.fee, fill.ts_event, tag
        )
        if self.quotes.get(fill.instrument_id) == self.account_currency:  # no rate to apply
            sleeve.realized_pnl += realized
            sleeve.fees += fill.fee
            if closed:
                self.trade_rates.extend([ONE] * len(closed))
        else:
            sleeve.realized_pnl += self.to_account(fill.instrument_id, realized)
            sleeve.fees += self.to_account(fill.instrument_id, fill.fee)
            if closed:
                self.trade_rates.extend([self.to_account(fill.instrument_id, ONE)] * len(closed))
        self.trades.extend(closed)
        self.open_count += pos.in_trade - was_open
        return closed

    def _on_cross_fill(
        self, strategy_id: str, fill: OrderFilled, tag: str, books: CrossBooks
    ) -> list[ClosedTrade]:
        """Book a cross-pair fill as a trade of its base, worth the notional at the quote
        currency's rate now, and the opposite trade of its quote currency, which also pays
        the fee. Both sides use the same rounded amounts, so whatever the rate the books stay
        exact: the account-currency balance is allocated + realized − fees − open cost, and
        every other currency's balance is its position's quantity."""
        base = self.position(strategy_id, books.base)
        quote = self.position(strategy_id, books.quote)
        # Cross fills leave remainders under a lot: they end round trips (Position.dust).
        base.dust, quote.dust = books.base_lot, books.quote_lot
        was_open = base.in_trade + quote.in_trade
        rate = self._quote_rate(books, fill.last_px)
        quantum = self.quanta.get(books.quote, DEFAULT_QUANTUM)  # the account currency's
        pair_quantum = self.quanta.get(fill.instrument_id, DEFAULT_QUANTUM)
        notional = quantize(fill.last_qty * fill.last_px, pair_quantum)  # as the ledger books
        value, fee = quantize(notional * rate, quantum), quantize(fill.fee * rate, quantum)
        ts, qty = fill.ts_event, fill.last_qty
        realized, closed = base.apply_fill(fill.side, qty, value / qty, fee, ts, tag, value)
        buy = fill.side == "BUY"
        moved = (-notional if buy else notional) - fill.fee  # quote currency in (+) or out (-)
        worth = abs((-value if buy else value) - fee)
        if moved:
            side = "BUY" if moved > 0 else "SELL"
            more_pnl, more = quote.apply_fill(
                side, abs(moved), worth / abs(moved), ZERO, ts, tag, worth
            )
            realized += more_pnl
            closed += more
        sleeve = self.sleeves[strategy_id]
        sleeve.realized_pnl += realized
        sleeve.fees += fee
        self.trades.extend(closed)
        self.trade_rates.extend([ONE] * len(closed))  # booked in the account currency
        self.open_count += base.in_trade + quote.in_trade - was_open
        return closed

    def _quote_rate(self, books: CrossBooks, px: Decimal) -> Decimal:
        """Account currency per unit of the cross pair's quote currency: its own pair's mark,
        else the base's mark ÷ the cross price; 0 when neither is known yet (the books stay
        exact, only the split of PnL between the two currencies is off)."""
        mark = self.mark(books.quote)
        if mark:
            return to_decimal(mark)
        mark = self.mark(books.base)
        return to_decimal(mark) / px if mark and px else ZERO

    def to_account(self, instrument_id: str, amount: Decimal) -> Decimal:
        """``amount`` in the instrument's quote currency, in the account currency now."""
        if not amount:
            return amount
        quote = self.quotes.get(instrument_id)
        if quote is None or quote == self.account_currency:
            return amount
        rate = self.rate(quote)
        return amount if rate is None or rate == ONE else amount * rate

    def open_positions(self) -> list[Position]:
        return [p for s in self.sleeves.values() for p in s.positions.values() if p.quantity]
