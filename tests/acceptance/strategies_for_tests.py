"""Strategies used by the acceptance tests (importable by config ``type: module:Class``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

from genebot.core.errors import LedgerError
from genebot.execution.engine import Protection
from genebot.strategies.moving_average import MovingAverageStrategy
from genebot.trading.data import F64, BarData, BarView, Signals
from genebot.trading.strategy import Strategy


class ProtectedMA(MovingAverageStrategy):
    """The crossover with a stop-loss, a take-profit and a trailing stop on every entry."""

    def on_start(self) -> None:
        self.protection = Protection(
            stop_loss=Decimal("0.004"), take_profit=Decimal("0.008"), trailing=Decimal("0.006")
        )


class LimitEntryMA(MovingAverageStrategy):
    """Callback strategy: enters with a limit below the close (per-bar only)."""

    def on_bar(self, bar: BarView) -> None:
        if self.position().is_flat and not self.ctx.open_orders(self.strategy_id):
            if bar.indicator("fast") > bar.indicator("slow"):
                self.buy(limit=bar.close * 0.999, tif="GTC")
        elif self.position().is_long and bar.indicator("fast") < bar.indicator("slow"):
            self.close()


class PeeksIndicator(MovingAverageStrategy):
    """Cheats: its 'fast' indicator is tomorrow's close."""

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        ind = dict(super().indicators(data))
        ind["fast"] = np.append(data.close[1:], np.nan)
        return ind


class PeeksInCallback(MovingAverageStrategy):
    """Cheats in on_bar by asking for a future indicator value."""

    def on_bar(self, bar: BarView) -> None:
        if bar.indicator("fast", ago=-1) > bar.indicator("slow"):
            self.buy()


class BreaksTheLedger(MovingAverageStrategy):
    """Its callback surfaces a ledger inconsistency on bar 50: the run must stop, not count."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 50:
            raise LedgerError("USDT balance would go below zero")
        super().on_bar(bar)


class Explodes(MovingAverageStrategy):
    """Raises on every 100th bar; the engine must survive and count."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i % 100 == 0:
            raise RuntimeError("boom")
        super().on_bar(bar)


class ShortMA(MovingAverageStrategy):
    """Long and short: shorts on the cross down, covers on the cross up (margin venues)."""

    allow_short = True

    def signals(self, data, ind):  # type: ignore[no-untyped-def]
        from genebot.indicators import crossed_above, crossed_below
        from genebot.trading.data import Signals

        up, down = crossed_above(ind["fast"], ind["slow"]), crossed_below(ind["fast"], ind["slow"])
        return Signals(entries=up, exits=down, short_entries=down, short_exits=up)


SEEN: list[tuple[str, int, int]] = []


class Recorder(MovingAverageStrategy):
    """Records every bar it is handed (symbol, timeframe, open time) and buys on 1h bars."""

    def on_bar(self, bar: BarView) -> None:
        SEEN.append((bar.symbol, bar.timeframe_ns, bar.ts))
        if bar.timeframe_ns == 3_600_000_000_000 and self.position().is_flat and bar.i % 24 == 0:
            self.buy(quantity=0.01)


class Scripted(MovingAverageStrategy):
    """Buys on the bars listed in ``buy_at`` and closes on ``close_at`` (bar indices)."""

    from genebot.trading.params import Param as _P

    buy_at = _P([0], doc="bars to buy on")
    close_at = _P([1], doc="bars to close on")
    short_period = _P(1, min=1)
    long_period = _P(2, min=2)

    def on_bar(self, bar: BarView) -> None:
        if bar.i in self.close_at and not self.position().is_flat:
            self.close()
        if bar.i in self.buy_at and self.position().is_flat:
            self.buy()


class RandomTrader(MovingAverageStrategy):
    """Random entries, adds and exits on two symbols, seeded: fuel for the property test."""

    from genebot.trading.params import Param as _P

    seed = _P(1, min=0)
    short_period = _P(1, min=1)
    long_period = _P(2, min=2)

    def on_start(self) -> None:
        import random

        self.rng = random.Random(self.seed)

    def on_bar(self, bar: BarView) -> None:
        roll = self.rng.random()
        if roll < 0.15:
            self.buy(bar.symbol, quantity=round(self.rng.uniform(0.1, 20), 2))
        elif roll < 0.25 and self.allow_short:
            self.sell(bar.symbol, quantity=round(self.rng.uniform(0.1, 20), 2))
        elif roll < 0.32 and not self.position(bar.symbol).is_flat:
            self.close(bar.symbol)


EVENTS: list[tuple[str, str, int]] = []


class QuoteTaker(MovingAverageStrategy):
    """Buys on quote ``buy_at``, sells on quote ``sell_at``; records every callback."""

    from genebot.trading.params import Param as _P

    buy_at = _P(3, min=0)
    sell_at = _P(20, min=0)
    limit_below = _P(0.0, doc="buy with a limit this far below the ask instead")

    def on_quote(self, quote) -> None:  # type: ignore[no-untyped-def]
        EVENTS.append(("quote", quote.symbol, quote.ts))
        if quote.i == self.buy_at:
            if self.limit_below:
                self.buy(quantity=0.01, limit=quote.ask - self.limit_below)
            else:
                self.buy(quantity=0.01)
        if quote.i == self.sell_at and not self.position().is_flat:
            self.close()

    def on_bar(self, bar: BarView) -> None:
        EVENTS.append(("bar", bar.symbol, bar.ts + bar.timeframe_ns))


class CurrencyChurn(Strategy):
    """Random legs through a triangle on spot, each buying with a share of the quote currency
    held or selling a share of the base held (read from the venue's balances): fuel for the
    check that spot holdings are booked per currency."""

    from genebot.trading.params import Param as _P

    seed = _P(1, min=0)

    def on_start(self) -> None:
        import random

        self.rng = random.Random(self.seed)
        self.pairs = sorted(self._instruments.values(), key=lambda i: i.id)

    def held(self, currency: str) -> Decimal:
        return self.ctx.execution.clients[self.pairs[0].venue].account.balance(currency)

    def on_bar(self, bar: BarView) -> None:
        if bar.instrument is not self.pairs[-1] or self.rng.random() < 0.4:
            return  # at most one leg per time step
        inst = self.rng.choice(self.pairs)
        share = Decimal(self.rng.choice(["0.2", "0.5", "1"]))
        px = Decimal(repr(self.ctx.mark(inst.id)))
        if self.rng.random() < 0.5:  # room for the fee and a move before a next-open fill
            budget = self.held(inst.quote) * share * Decimal("0.98")
            qty = inst.round_quantity(budget / (px * (1 + inst.taker_fee)))
            if qty > 0:
                self.buy(inst.id, qty, tag="buy")
        else:
            qty = inst.round_quantity(self.held(inst.base) * share)
            if qty > 0:
                self.sell(inst.id, qty, tag="sell")


class ScriptedSignals(MovingAverageStrategy):
    """Vectorized signals on the listed bars: an entry on each of ``entry_at``, an exit on each
    of ``exit_at`` (runs in fast mode too)."""

    from genebot.trading.params import Param as _P

    entry_at = _P([0], doc="bars with an entry signal")
    exit_at = _P([1], doc="bars with an exit signal")

    def signals(self, data, ind):  # type: ignore[no-untyped-def]
        entries = np.zeros(len(data), dtype=bool)
        exits = np.zeros(len(data), dtype=bool)
        entries[list(self.entry_at)] = True
        exits[list(self.exit_at)] = True
        return Signals(entries, exits)


class PeeksInSignals(MovingAverageStrategy):
    """Cheats in its signals only (honest indicators): it exits before tomorrow's drop."""

    def signals(self, data, ind):  # type: ignore[no-untyped-def]
        sig = super().signals(data, ind)
        tomorrow = np.append(data.close[1:], np.inf)
        return Signals(sig.entries, sig.exits | (tomorrow < data.close))


class DailyRange(MovingAverageStrategy):
    """Cheats by a day: each bar sees its whole UTC day's low (a resample that includes today)."""

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        ind = dict(super().indicators(data))
        days = data.ts // 86_400_000_000_000
        low = pd.Series(data.low).groupby(days).transform("min").to_numpy()
        ind["fast"] = np.where(data.close <= low * 1.0005, ind["slow"] * 2, ind["slow"] / 2)
        return ind


class WarmupFill(MovingAverageStrategy):
    """Cheats in the warm-up only: the slow average's first values are back-filled."""

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        ind = dict(super().indicators(data))
        ind["slow"] = pd.Series(ind["slow"]).bfill().to_numpy()
        return ind


class PeeksAfterErrors(MovingAverageStrategy):
    """Five harmless errors first, then a future read on every bar."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i < 5:
            raise RuntimeError("warming up")
        bar.indicator("fast", ago=-1)


class ClosesOnStop(MovingAverageStrategy):
    """Honest: it flattens its position when the data ends (no lookahead)."""

    def on_stop(self) -> None:
        self.close()


class Unseeded(MovingAverageStrategy):
    """Not deterministic: an unseeded random size."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i % 50 == 0 and self.position().is_flat:
            self.buy(quantity=float(np.random.default_rng().integers(1, 1_000)))
        elif bar.i % 50 == 25:
            self.close()


class ExitsTheProcess(MovingAverageStrategy):
    """Calls sys.exit() on bar 10, and raises an error whose message itself fails on bar 20."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 10:
            raise SystemExit(3)
        if bar.i == 20:
            raise _Unprintable()
        super().on_bar(bar)


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("no message")


class OffByOneSignals(MovingAverageStrategy):
    """The common np.diff slip: its signals are one bar short."""

    def signals(self, data, ind):  # type: ignore[no-untyped-def]
        cross = np.diff(np.sign(ind["fast"] - ind["slow"])) > 0
        return Signals(cross, np.zeros_like(cross))


class NaNSignals(MovingAverageStrategy):
    """Float signals with NaN where the averages are not ready."""

    def signals(self, data, ind):  # type: ignore[no-untyped-def]
        up = (ind["fast"] > ind["slow"]).astype(float)
        up[np.isnan(ind["slow"])] = np.nan
        return Signals(up, 1.0 - up)


class OrderOnBar30(MovingAverageStrategy):
    """Places one buy on bar 30 with the arguments named by ``case`` (bad ones on purpose)."""

    from genebot.trading.params import Param as _P

    case = _P("nan_quantity", doc="which arguments")
    CASES: Mapping[str, dict[str, object]] = {
        "nan_quantity": {"quantity": float("nan")},
        "bool_quantity": {"quantity": True},
        "sub_lot": {"quantity": 1e-12},
        "zero_limit": {"quantity": 1, "limit": 0.0},
        "negative_stop_loss": {"quantity": 1, "stop_loss": -0.5},
        "stop_loss_over_one": {"quantity": 1, "stop_loss": 2.0},
        "numpy_quantity": {"quantity": np.int64(2)},
        "numpy_bool": {"quantity": np.True_},
    }

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 30:
            self.buy(**self.CASES[self.case])  # type: ignore[arg-type]


class LastQuotePeek(MovingAverageStrategy):
    """Cheats with quotes: on its first quote it sizes by the last quote of the data."""

    def on_quote(self, quote) -> None:  # type: ignore[no-untyped-def]
        if quote.i == 3:
            last = quote._bid[-1]  # the end of the data, reached through a private array
            self.buy(quantity=round(50_000 / last, 5))


class NeedsManyBars(MovingAverageStrategy):
    """Honest, but its indicators refuse fewer than 1,500 bars (a long model fit)."""

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        if len(data) < 1_500:
            raise ValueError("needs 1,500 bars")
        return super().indicators(data)
