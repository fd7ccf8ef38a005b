"""Risk vocabulary: trading states, order intents, verdicts and risk events.

Every decision of the risk engine is a :class:`RiskEvent` with the rule and the numbers behind
it. A denial is an event with a reason, never an exception.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple, Protocol

from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.risk.config import RiskManagementConfig

ZERO = Decimal(0)


class TradingState(enum.Enum):
    """ACTIVE: everything passes the checks. REDUCING: only orders that reduce exposure.
    HALTED: the kill switch; nothing new passes, protective exits still run."""

    __hash__ = object.__hash__

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class RiskEvent(NamedTuple):
    ts: int
    strategy: str
    symbol: str
    rule: str
    action: str  # approve | resize | limit | deny | halt | reducing | reset | flag
    detail: str


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order a strategy wants, before it exists. ``price`` is the expected fill price (limit
    price, stop trigger, or the current mark for market orders); ``stop_price`` the protective
    stop the entry will carry, when known (for heat and risk-per-trade)."""

    strategy_id: str
    instrument: Instrument
    side: str
    quantity: Decimal
    order_type: str
    price: Decimal
    reduce_only: bool
    tag: str
    stop_price: Decimal | None = None
    signal_price: Decimal | None = None  # price the strategy decided at (slippage protection)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    def with_quantity(self, quantity: Decimal) -> OrderIntent:
        return replace(self, quantity=quantity)

    def reduces(self, position_qty: Decimal) -> bool:
        """True when the order only brings the position toward flat (never flips it)."""
        if self.reduce_only:
            return True
        if position_qty == 0:
            return False
        return (position_qty > 0) != (self.side == "BUY") and self.quantity <= abs(position_qty)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's answer: ``None`` from a check means approve; otherwise resize or deny."""

    action: str  # "resize" | "deny"
    rule: str
    detail: str
    quantity: Decimal = ZERO
    as_limit: Decimal | None = None  # slippage protection may turn a market order into a limit

    @staticmethod
    def deny(rule: str, detail: str) -> Verdict:
        return Verdict("deny", rule, detail)

    @staticmethod
    def resize(rule: str, detail: str, quantity: Decimal) -> Verdict:
        return Verdict("resize", rule, detail, quantity)


class RiskView(Protocol):
    """What checks may read: the account as it is now (never the future)."""

    @property
    def now_ns(self) -> int: ...

    def equity(self) -> Decimal:
        """Account equity in the account currency, positions marked at the last close."""

    def equity_at(self, ts_ns: int) -> Decimal:
        """Equity with today's holdings marked at the last closes known at ``ts_ns``."""

    def peak_equity_since(self, since_ns: int | None, now_ns: int) -> Decimal | None:
        """Highest marked equity over the bars closed in (since_ns, now_ns], holdings as now."""

    def sleeve_equity(self, strategy_id: str) -> Decimal: ...

    def position_qty(self, strategy_id: str, instrument_id: str) -> Decimal: ...

    def open_positions(self) -> Sequence[tuple[str, str, Decimal, Decimal]]:
        """(strategy_id, instrument_id, signed quantity, average entry price) of each."""

    def mark(self, instrument_id: str) -> Decimal | None: ...

    def quote_balance(self) -> Decimal:
        """Free cash in the account currency over all venues."""

    def closed_trades(self) -> Sequence[ClosedTrade]: ...

    def returns(self, instrument_id: str, bars: int) -> Sequence[float]:
        """The last ``bars`` close-to-close returns of the instrument, up to now (fewer at
        the start of the data)."""

    def bars_per_day(self, instrument_id: str) -> float:
        """Bars of the instrument's execution feed in 24 hours (e.g. 288 for 5m)."""

    def stop_for(self, strategy_id: str, instrument_id: str) -> Decimal | None:
        """Trigger price of the working protective stop of that position, if any."""

    def working_entries(self, strategy_id: str, instrument_id: str) -> int: ...


class PreTradeCheck(Protocol):
    """One rule, one small class. ``check`` returns None (approve) or a Verdict."""

    rule: str

    def check(
        self, intent: OrderIntent, view: RiskView, state: RiskStateView
    ) -> Verdict | None: ...


class RiskStateView(Protocol):
    """Counters the engine keeps (read-only for checks)."""

    @property
    def config(self) -> RiskManagementConfig: ...

    @property
    def trades(self) -> Sequence[ClosedTrade]:
        """Closed round trips, oldest first."""

    @property
    def recent_exits(self) -> Sequence[tuple[int, str, str, Decimal]]:
        """(ts, instrument_id, exit_reason, pnl_pct) of closed trades, oldest first."""

    @property
    def order_times(self) -> Sequence[tuple[int, str]]:
        """(ts, strategy_id) of orders approved recently."""
