"""The risk engine's read-only view of a running kernel (the same in every mode)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from genebot.core.precision import to_decimal
from genebot.domain.instrument import AccountType
from genebot.domain.position import ClosedTrade
from genebot.risk.types import OrderIntent

if TYPE_CHECKING:
    from genebot.system.kernel import Kernel

ZERO = Decimal(0)
DAY_NS = 86_400_000_000_000
_STOPS = frozenset({"STOP_MARKET", "TRAILING_STOP_MARKET", "STOP_LIMIT"})


class KernelRiskView:
    """Equity, positions, marks and returns as of the kernel's current step."""

    def __init__(self, kernel: Kernel, currency: str) -> None:
        self.kernel = kernel
        self.currency = currency

    @property
    def now_ns(self) -> int:
        return self.kernel.now()

    # -- equity ------------------------------------------------------------------------------
    def _holdings(self) -> tuple[Decimal, list[tuple[str, Decimal, Decimal]]]:
        """(constant, [(instrument id, quantity, offset)]) so that equity = constant +
        Σ quantity × close × rate(quote) − offset × rate(quote); spot holdings are currency
        balances valued through their X/account instrument."""
        constant = ZERO
        terms: list[tuple[str, Decimal, Decimal]] = []
        for venue in self.kernel.venues.values():
            account = venue.account  # type: ignore[attr-defined]
            for currency, balance in account.balances.items():
                if currency == self.currency:
                    constant += balance
                elif balance:
                    iid = self.kernel.pricing_instrument(currency, self.currency)
                    if iid is not None:
                        terms.append((iid, balance, ZERO))
            if account.account_type is AccountType.MARGIN:
                for iid, pos in venue.positions.items():  # type: ignore[attr-defined]
                    if pos.quantity:
                        terms.append((iid, pos.quantity, pos.cost))
        return constant, terms

    def equity(self) -> Decimal:
        return self._equity_with(self.mark)

    def equity_at(self, ts_ns: int) -> Decimal:
        return self._equity_with(lambda iid: self._mark_at(iid, ts_ns))

    def _equity_with(self, mark: object) -> Decimal:
        constant, terms = self._holdings()
        total = constant
        for iid, qty, offset in terms:
            px = mark(iid)  # type: ignore[operator]
            if px is not None:
                total += qty * px - offset
        return total

    def _mark_at(self, iid: str, ts_ns: int) -> Decimal | None:
        feed = self.kernel.exec_feed[iid]
        row = self.kernel.row_at(iid, ts_ns)
        return to_decimal(float(feed.close[row])) if row >= 0 else None

    def peak_equity_since(self, since_ns: int | None, now_ns: int) -> Decimal | None:
        """Highest equity over bar closes in (since, now], holdings as now (they did not change
        in between: every fill is a decision point)."""
        if since_ns is None or now_ns <= since_ns:
            return None
        constant, terms = self._holdings()
        series: npt.NDArray[np.float64] | None = None
        for iid, qty, offset in terms:
            feed = self.kernel.exec_feed[iid]
            lo = self.kernel.row_at(iid, since_ns) + 1
            hi = self.kernel.row_at(iid, now_ns) + 1
            if hi <= lo:
                continue
            values = feed.close[lo:hi] * float(qty) - float(offset)
            best = float(values.max())
            series = np.array([best]) if series is None else series + best
        if series is None:
            return None
        # Per-instrument maxima may not coincide; their sum bounds the true peak from above
        # only when several instruments are held. Exact for one holding (the common case).
        return constant + to_decimal(float(series[0]))

    # -- positions and prices --------------------------------------------------------------
    def reduces(self, intent: OrderIntent) -> bool:
        """Does this order only reduce the strategy's exposure? Working orders count (two
        exits of 100 on a long of 100 are one exit and one new short), and on a spot account
        a sale of coins the strategy holds — bought through any pair — is an exit."""
        if intent.reduce_only:
            return True
        execution = self.kernel.execution
        iid, sid = intent.instrument.id, intent.strategy_id
        working = sum(
            (
                o.leaves_qty if o.is_buy else -o.leaves_qty
                for o in execution.orders.values()
                if o.strategy_id == sid
                and o.instrument_id == iid
                and o.is_open
                and o.parent_id is None
            ),
            ZERO,
        )
        spot = intent.instrument.venue in execution.spot_venues
        if spot and intent.side == "BUY":
            return False  # no shorts exist on spot: a purchase is always new exposure
        if spot:
            selling = sum(
                (
                    o.leaves_qty
                    for o in execution.orders.values()
                    if o.strategy_id == sid
                    and o.is_open
                    and not o.is_buy
                    and o.parent_id is None
                    and execution.instruments[o.instrument_id].base == intent.instrument.base
                ),
                ZERO,
            )
            return intent.quantity <= execution.held_base(sid, intent.instrument) - selling
        return intent.reduces(self.position_qty(sid, iid) + working)

    def to_account(self, instrument_id: str, amount: Decimal) -> Decimal:
        """``amount`` in the instrument's quote currency, in the account currency."""
        return self.kernel.portfolio.to_account(instrument_id, amount)

    def sleeve_equity(self, strategy_id: str) -> Decimal:
        return self.kernel.portfolio.sleeves[strategy_id].equity(self.kernel.mark)

    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal:
        """The strategy's position; on spot, its holding of the pair's base currency (however
        it was bought), rounded to dust-free lots."""
        execution = self.kernel.execution
        inst = execution.instruments[instrument_id]
        if inst.venue in execution.spot_venues:
            return inst.round_quantity(execution.held_base(strategy_id, inst))
        return self.kernel.portfolio.position(strategy_id, instrument_id).quantity

    def open_positions(self) -> Sequence[tuple[str, str, Decimal, Decimal]]:
        """Open exposure per strategy. On margin venues, the positions. On spot venues, the
        currencies the strategy holds, whichever pairs moved them — so the three pair legs of
        a completed arbitrage cycle, which net to dust, are no exposure at all."""
        kernel = self.kernel
        spot = kernel.execution.spot_venues
        result: list[tuple[str, str, Decimal, Decimal]] = []
        holdings: dict[tuple[str, str, str], Decimal] = {}  # (strategy, venue, currency)
        entries: dict[tuple[str, str, str], Decimal] = {}
        for pos in kernel.portfolio.open_positions():
            inst = kernel.instruments[pos.instrument_id]
            if inst.venue not in spot:
                result.append((pos.strategy_id, pos.instrument_id, pos.quantity, pos.avg_px))
                continue
            key = (pos.strategy_id, inst.venue, inst.base)
            holdings[key] = holdings.get(key, ZERO) + pos.quantity
            if inst.quote == self.currency:
                entries[key] = pos.avg_px
            else:
                qkey = (pos.strategy_id, inst.venue, inst.quote)
                holdings[qkey] = holdings.get(qkey, ZERO) + pos.realized_pnl - pos.cost - pos.fees
        for (sid, venue, currency), held in holdings.items():
            iid = self.kernel.pricing_instrument(currency, self.currency, venue)
            mark = self.mark(iid) if iid is not None and held else None
            if iid is None or mark is None or abs(held) * mark < 1:  # dust under one unit
                continue
            result.append((sid, iid, held, entries.get((sid, venue, currency), mark)))
        return result

    def mark(self, instrument_id: str) -> Decimal | None:
        px = self.kernel.mark(instrument_id)
        return None if px is None else to_decimal(px)

    def quote_balance(self) -> Decimal:
        return sum(
            (
                v.account.balance(self.currency)  # type: ignore[attr-defined]
                for v in self.kernel.venues.values()
            ),
            ZERO,
        )

    def closed_trades(self) -> Sequence[ClosedTrade]:
        return self.kernel.portfolio.trades

    def returns(self, instrument_id: str, bars: int) -> Sequence[float]:
        feed = self.kernel.exec_feed[instrument_id]
        row = self.kernel.row_at(instrument_id, self.kernel.now()) + 1
        closes = feed.close[max(0, row - bars - 1) : row]
        if len(closes) < 2:
            return []
        return (np.diff(closes) / closes[:-1]).tolist()

    def bars_per_day(self, instrument_id: str) -> float:
        return DAY_NS / self.kernel.exec_feed[instrument_id].timeframe_ns

    def stop_for(self, strategy_id: str, instrument_id: str) -> Decimal | None:
        for order in self.kernel.execution.orders.values():
            if (
                order.strategy_id == strategy_id
                and order.instrument_id == instrument_id
                and order.parent_id is not None
                and order.order_type in _STOPS
                and order.trigger_price is not None
            ):
                return order.trigger_price
        return None

    def working_entries(self, strategy_id: str, instrument_id: str) -> int:
        return sum(
            1
            for o in self.kernel.execution.orders.values()
            if o.strategy_id == strategy_id
            and o.instrument_id == instrument_id
            and o.parent_id is None
            and not o.reduce_only
            and o.is_open
        )
