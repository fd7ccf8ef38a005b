"""Market-condition checks: order rate, slippage, volatility and correlation.

Each is one small class with ``rule`` and ``check(intent, view, state)``; the engine calls them
only for orders that add exposure. :func:`market_checks` builds them from the configuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from genebot.core.precision import to_decimal
from genebot.risk.config import RiskManagementConfig
from genebot.risk.types import OrderIntent, PreTradeCheck, RiskStateView, RiskView, Verdict

NS_PER_SECOND = 1_000_000_000
MIN_CORRELATION_POINTS = 5


def _symbol(instrument_id: str) -> str:
    """``"BTC/USDT@binance"`` → ``"BTC/USDT"``."""
    return instrument_id.partition("@")[0]


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if math.isfinite(v)]


class OrderRateCheck:
    """Deny when this strategy already had ``>= max_orders_per_second`` orders approved in the
    last second, the window being ``(now − 1 s, now]``: with a limit of 10 the 11th order inside
    one second is denied, and an order exactly 1 s old no longer counts."""

    rule = "order_rate"

    def __init__(self, max_orders_per_second: float) -> None:
        self.max_orders_per_second = max_orders_per_second

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        now = view.now_ns
        start = now - NS_PER_SECOND
        count = 0
        # Oldest first and appended at "now": walk back from the newest, stop at the window.
        for ts, strategy_id in reversed(state.order_times):
            if ts <= start:
                break
            if ts <= now and strategy_id == intent.strategy_id:
                count += 1
        if count >= self.max_orders_per_second:
            return Verdict.deny(
                self.rule,
                f"{count} orders of {intent.strategy_id} in the last second"
                f" (limit {self.max_orders_per_second:g}/s)",
            )
        return None


def realized_slippage(side: str, signal_price: Decimal, fill_price: Decimal) -> Decimal:
    """Slippage of a fill against the price the strategy decided at, as a fraction of the
    signal price; positive means worse for the trader (paid more on a buy, got less on a sell).
    """
    if signal_price <= 0:
        raise ValueError(f"signal price {signal_price} must be positive")
    side = side.upper()
    if side == "BUY":
        return (fill_price - signal_price) / signal_price
    if side == "SELL":
        return (signal_price - fill_price) / signal_price
    raise ValueError(f"side {side!r} must be BUY or SELL")


class SlippageCheck:
    """Market orders with a ``signal_price`` only: when the expected fill deviates from the
    signal price by more than ``tolerance`` (``|price − signal| / signal > tolerance``; exactly
    at the tolerance passes) the order is denied (``action="deny"``) or turned into a limit
    order at ``signal × (1 + tolerance)`` for buys, ``signal × (1 − tolerance)`` for sells,
    rounded to the tick (``action="limit"``). Deviations either way count: a signal that far
    from the market is stale."""

    rule = "slippage"

    def __init__(self, tolerance: float, action: str = "deny") -> None:
        if action not in ("deny", "limit"):
            raise ValueError(f"slippage action {action!r} must be 'deny' or 'limit'")
        self.tolerance = to_decimal(tolerance)
        self.action = action

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        signal = intent.signal_price
        if intent.order_type != "MARKET" or signal is None or signal <= 0:
            return None
        deviation = abs(intent.price - signal) / signal
        if deviation <= self.tolerance:
            return None
        detail = (
            f"{intent.side} price {intent.price} is {float(deviation):.4%} from signal {signal}"
            f" (tolerance {float(self.tolerance):.4%})"
        )
        if self.action == "deny":
            return Verdict.deny(self.rule, detail)
        factor = 1 + self.tolerance if intent.side == "BUY" else 1 - self.tolerance
        limit = intent.instrument.round_price(signal * factor)
        return Verdict(
            "limit", self.rule, f"{detail}: limit at {limit}", intent.quantity, as_limit=limit
        )


class VolatilityCheck:
    """Deny when the daily realized volatility of the instrument, the sample standard deviation
    (ddof=1) of its last ``window`` returns × sqrt(bars per day), is above ``limit``; exactly at
    the limit passes. Fewer than ``window`` finite returns (start of the data, gaps): approve."""

    rule = "volatility"

    def __init__(self, limit: float, window: int) -> None:
        self.limit = limit
        self.window = window

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        instrument_id = intent.instrument.id
        returns = _finite(view.returns(instrument_id, self.window))[-self.window :]
        if len(returns) < self.window:
            return None
        bars_per_day = view.bars_per_day(instrument_id)
        daily = float(np.std(np.asarray(returns, dtype=float), ddof=1)) * math.sqrt(bars_per_day)
        if daily > self.limit:
            return Verdict.deny(
                self.rule,
                f"{intent.instrument.symbol} daily volatility {daily:.4%} > limit {self.limit:.4%}"
                f" ({self.window} returns, {bars_per_day:g} bars/day)",
            )
        return None


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson correlation of two return series aligned on their last common length, pairs
    with a non-finite value dropped. ``None`` when fewer than 5 points remain or either series
    is flat (the correlation is undefined there, not zero)."""
    n = min(len(a), len(b))
    pairs = [
        (float(x), float(y))
        for x, y in zip(a[len(a) - n :], b[len(b) - n :], strict=True)
        if math.isfinite(x) and math.isfinite(y)
    ]
    if len(pairs) < MIN_CORRELATION_POINTS:
        return None
    xs = [x for x, _ in pairs]
    ys = [y for _, y in pairs]
    mx, my = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    value = sxy / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, value)) if math.isfinite(value) else None


class CorrelationCheck:
    """Deny when the instrument's returns correlate above ``limit`` (exactly at it passes) with
    those of any instrument another open position holds, over the last ``lookback`` returns.
    The correlation of the returns is compared as is, whatever the sides (a short against a
    correlated long is denied too); the highest offending value is reported."""

    rule = "correlation"

    def __init__(self, limit: float, lookback: int) -> None:
        self.limit = limit
        self.lookback = lookback

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        new_id = intent.instrument.id
        others = {
            instrument_id
            for _, instrument_id, qty, _ in view.open_positions()
            if instrument_id != new_id and qty != 0
        }
        if not others:
            return None
        mine = view.returns(new_id, self.lookback)
        worst: tuple[float, str] | None = None
        for other in sorted(others):
            value = correlation(mine, view.returns(other, self.lookback))
            if value is not None and value > self.limit and (worst is None or value > worst[0]):
                worst = (value, other)
        if worst is None:
            return None
        value, other = worst
        return Verdict.deny(
            self.rule,
            f"{intent.instrument.symbol} vs open {_symbol(other)}: correlation {value:.3f}"
            f" > limit {self.limit:g} (last {self.lookback} returns)",
        )


def market_checks(config: RiskManagementConfig) -> list[PreTradeCheck]:
    """The market-condition checks, configured from ``risk_management.limits``."""
    limits = config.limits
    return [
        OrderRateCheck(limits.max_orders_per_second),
        SlippageCheck(limits.slippage_tolerance, limits.slippage_action),
        VolatilityCheck(limits.volatility_limit, limits.volatility_window),
        CorrelationCheck(limits.correlation_limit, limits.correlation_lookback),
    ]
