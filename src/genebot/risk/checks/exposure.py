"""Exposure checks: account balance, position counts, position size, trade size, risk per
trade and portfolio heat.

Each rule is one small class with ``rule`` and ``check(intent, view, state)``. The engine only
asks them about orders that add exposure. A limit is inclusive: exactly at the limit passes,
just over fails. Where a smaller order would fit, the order is resized down to the largest
quantity that fits, floored to the lot; if that is nothing or under the venue minimum, it is
denied.
"""

from __future__ import annotations

from decimal import Decimal

from genebot.core.precision import to_decimal
from genebot.risk.config import RiskManagementConfig
from genebot.risk.types import OrderIntent, PreTradeCheck, RiskStateView, RiskView, Verdict

ZERO = Decimal(0)


def _money(x: Decimal) -> str:
    """Two decimals, or every digit where rounding would hide why a limit was crossed."""
    if x == x.quantize(Decimal("0.01")):
        return f"{x:,.2f}"
    return f"{x.normalize():,f}"


def _pct(x: Decimal) -> str:
    return f"{x * 100:.2f}%"


def _qty(x: Decimal) -> str:
    return f"{x.normalize():f}" if x else "0"


def _symbol_of(instrument_id: str) -> str:
    """``BTC/USDT@binance`` → ``BTC/USDT`` (instrument ids are ``symbol@venue``)."""
    return instrument_id.rsplit("@", 1)[0]


def _fit(intent: OrderIntent, max_quantity: Decimal, rule: str, detail: str) -> Verdict:
    """Resize ``intent`` down to ``max_quantity`` floored to the lot, or deny if nothing fits
    or the fitting size is under the venue minimum."""
    instrument = intent.instrument
    quantity = instrument.round_quantity(max_quantity) if max_quantity > 0 else ZERO
    if quantity <= 0:
        return Verdict.deny(rule, f"{detail}: no quantity fits")
    problem = instrument.minimum_problem(quantity, intent.price)
    if problem is not None:
        return Verdict.deny(rule, f"{detail}: resized to {_qty(quantity)} but {problem}")
    return Verdict.resize(rule, f"{detail}: resized to {_qty(quantity)}", quantity)


def _opens_position(intent: OrderIntent, view: RiskView) -> bool:
    return view.position_qty(intent.strategy_id, intent.instrument.id) == 0


class MinBalanceCheck:
    """No new exposure when free cash is under the minimum account balance."""

    rule = "min_account_balance"

    def __init__(self, minimum: float | Decimal) -> None:
        self.minimum = to_decimal(minimum)

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        balance = view.quote_balance()
        if balance < self.minimum:
            return Verdict.deny(
                self.rule,
                f"balance {_money(balance)} < minimum {_money(self.minimum)}",
            )
        return None


class MaxPositionsCheck:
    """A new position is refused when the account already holds the maximum number."""

    rule = "max_positions"

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if not _opens_position(intent, view):
            return None
        count = sum(1 for p in view.open_positions() if p[2] != 0)
        if count >= self.maximum:
            return Verdict.deny(
                self.rule,
                f"{count} open positions >= limit {self.maximum}: "
                f"no new position in {intent.instrument.symbol}",
            )
        return None


class PositionsPerSymbolCheck:
    """A new position is refused when the symbol already has the maximum number of open
    positions (any strategy, any venue)."""

    rule = "max_positions_per_symbol"

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if not _opens_position(intent, view):
            return None
        symbol = intent.instrument.symbol
        count = sum(1 for p in view.open_positions() if p[2] != 0 and _symbol_of(p[1]) == symbol)
        if count >= self.maximum:
            return Verdict.deny(
                self.rule,
                f"{count} open positions in {symbol} >= limit {self.maximum}",
            )
        return None


class PositionSizeCheck:
    """The resulting position's notional stays within a fraction of equity; a larger order is
    resized down to fit."""

    rule = "max_position_size"

    def __init__(self, max_fraction: float | Decimal) -> None:
        self.max_fraction = to_decimal(max_fraction)

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        equity = _equity_in_quote(view, intent)
        position = view.position_qty(intent.strategy_id, intent.instrument.id)
        result = position + intent.signed_quantity
        notional = abs(result) * intent.price
        cap = self.max_fraction * equity
        if notional <= cap:
            return None
        share = _pct(notional / equity) if equity > 0 else "n/a"
        detail = (
            f"position {_qty(result)} {intent.instrument.symbol} = {_money(notional)} = "
            f"{share} of equity {_money(equity)} > {_pct(self.max_fraction)}"
        )
        if cap <= 0 or intent.price <= 0:
            return Verdict.deny(self.rule, f"{detail}: no quantity fits")
        # Position measured in the order's direction: negative when the order flips it.
        along = position if intent.side == "BUY" else -position
        return _fit(intent, cap / intent.price - along, self.rule, detail)


class MinTradeAmountCheck:
    """Orders whose notional is under the minimum trade amount are refused (0 = off)."""

    rule = "min_trade_amount"

    def __init__(self, minimum: float | Decimal) -> None:
        self.minimum = to_decimal(minimum)

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if self.minimum <= 0:
            return None
        notional = intent.notional
        if notional < self.minimum:
            return Verdict.deny(
                self.rule,
                f"notional {_qty(intent.quantity)} × {_money(intent.price)} = "
                f"{_money(notional)} < minimum {_money(self.minimum)}",
            )
        return None


class RiskPerTradeCheck:
    """What the trade loses if its stop is hit, (price − stop) × quantity, stays within a
    fraction of equity; a larger order is resized down. Orders without a stop are skipped."""

    rule = "max_portfolio_risk"

    def __init__(self, max_fraction: float | Decimal) -> None:
        self.max_fraction = to_decimal(max_fraction)

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if intent.stop_price is None:
            return None
        per_unit = abs(intent.price - intent.stop_price)
        risk = per_unit * intent.quantity
        equity = _equity_in_quote(view, intent)
        budget = self.max_fraction * equity
        if risk <= budget:
            return None
        share = _pct(risk / equity) if equity > 0 else "n/a"
        detail = (
            f"risk |{_money(intent.price)} − {_money(intent.stop_price)}| × "
            f"{_qty(intent.quantity)} = {_money(risk)} = {share} of equity "
            f"{_money(equity)} > {_pct(self.max_fraction)}"
        )
        if budget <= 0:
            return Verdict.deny(self.rule, f"{detail}: no quantity fits")
        return _fit(intent, budget / per_unit, self.rule, detail)


class PortfolioHeatCheck:
    """Total open risk (distance to stop × size over all positions, plus the new order) stays
    within a fraction of equity. A position or order without a stop counts its full notional
    as at risk. A larger order is resized down to fit."""

    rule = "max_portfolio_heat"

    def __init__(self, max_fraction: float | Decimal) -> None:
        self.max_fraction = to_decimal(max_fraction)

    @staticmethod
    def open_heat(view: RiskView) -> Decimal:
        """Money at risk in the open positions, down to their stops (or to zero)."""
        heat = ZERO
        for strategy_id, instrument_id, quantity, entry in view.open_positions():
            if quantity == 0:
                continue
            stop = view.stop_for(strategy_id, instrument_id)
            if stop is not None:
                at_risk = abs(entry - stop) * abs(quantity)
            else:
                mark = view.mark(instrument_id)
                at_risk = abs(quantity) * (mark if mark is not None else entry)
            heat += _to_account(view, instrument_id, at_risk)
        return heat

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        stop = intent.stop_price
        per_unit = _to_account(
            view,
            intent.instrument.id,
            abs(intent.price - stop) if stop is not None else intent.price,
        )
        existing = self.open_heat(view)
        heat = existing + per_unit * intent.quantity
        equity = view.equity()
        budget = self.max_fraction * equity
        if heat <= budget:
            return None
        share = _pct(heat / equity) if equity > 0 else "n/a"
        detail = (
            f"heat {_money(existing)} open + {_money(per_unit * intent.quantity)} new = "
            f"{_money(heat)} = {share} of equity {_money(equity)} > {_pct(self.max_fraction)}"
        )
        if per_unit <= 0 or budget <= existing:
            return Verdict.deny(self.rule, f"{detail}: no quantity fits")
        return _fit(intent, (budget - existing) / per_unit, self.rule, detail)


def _to_account(view: RiskView, instrument_id: str, amount: Decimal) -> Decimal:
    """An amount in the instrument's quote currency, in the account currency (views without
    currency conversion are single-currency)."""
    convert = getattr(view, "to_account", None)
    return convert(instrument_id, amount) if convert is not None else amount


def _equity_in_quote(view: RiskView, intent: OrderIntent) -> Decimal:
    """Equity in the order's quote currency, so a limit compares like with like (USD/JPY)."""
    equity = view.equity()
    one = _to_account(view, intent.instrument.id, Decimal(1))
    return equity / one if one and one != 1 else equity


def exposure_checks(config: RiskManagementConfig) -> list[PreTradeCheck]:
    """The exposure checks in pipeline order, built from the configuration."""
    limits, position_limits = config.limits, config.position_limits
    return [
        MinBalanceCheck(limits.min_account_balance),
        MaxPositionsCheck(position_limits.max_positions),
        PositionsPerSymbolCheck(position_limits.max_positions_per_symbol),
        PositionSizeCheck(position_limits.max_position_size),
        MinTradeAmountCheck(position_limits.min_trade_amount),
        RiskPerTradeCheck(config.global_.max_portfolio_risk),
        PortfolioHeatCheck(limits.max_portfolio_heat),
    ]
