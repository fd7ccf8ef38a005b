"""ForexCarryTradeStrategy: hold the higher-yielding currency against the lower-yielding one.

Trades: goes long BASE/QUOTE while the base currency's interest rate exceeds the quote's by more
than ``interest_rate_threshold`` (per year), short while the quote's exceeds the base's by more
than that, and flat in between. The profit is the daily rollover (swap) the simulated venue books
on the open position (``backtest.rollover``), on top of the price move. Rates come from
``backtest.rates_file`` / ``backtest.interest_rates``, else the bundled 2018 policy rates.

Parameters: ``interest_rate_threshold`` (default 0.01 = 1 % a year; optimize 0.0025–0.03) and
``currency_pairs`` (default empty: trade every configured symbol; otherwise only these).

Made for: major and emerging-market currency pairs on a margin account, held for weeks; it
suffers in risk-off moves when carry trades unwind together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from genebot.core.errors import ParameterError
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

BUNDLED_RATES = "data/sample/rates/policy_rates_2018.csv"


class ForexCarryTradeStrategy(Strategy):
    """Long the higher-yielding currency, short the lower-yielding one."""

    name = "forex_carry"
    allow_short = True
    default_data = ("EUR/USD", "1h")
    default_rates: ClassVar[str] = BUNDLED_RATES
    interest_rate_threshold = Param(
        0.01,
        min=0.0,
        max=0.5,
        opt=(0.0025, 0.03, 0.0025),
        doc="minimum yearly rate differential to hold a position",
    )
    currency_pairs = Param([], doc="pairs to trade (empty: every configured symbol)")

    def validate_parameters(self) -> None:
        for pair in self.params["currency_pairs"]:
            if not isinstance(pair, str) or pair.count("/") != 1:
                raise ParameterError(
                    f"strategy {self.strategy_id}: currency_pairs entry {pair!r} must look "
                    "like EUR/USD"
                )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        rates = self.ctx.rates
        if rates is None:
            raise ParameterError(
                f"strategy {self.strategy_id} needs interest rates: set backtest.rates_file "
                "or backtest.interest_rates"
            )
        base, quote = data.symbol.split("/")
        known = data.ts + data.timeframe_ns  # the rate in force when each bar closes
        diff = np.array(
            [np.nan if (d := rates.differential(base, quote, int(t))) is None else d for t in known]
        )
        return {"rate_differential": diff}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        diff = ind["rate_differential"]
        pairs = self.params["currency_pairs"]
        active = not pairs or data.symbol in pairs
        threshold = self.interest_rate_threshold
        with np.errstate(invalid="ignore"):
            longs = (diff > threshold) & active
            shorts = (diff < -threshold) & active
        return Signals(entries=longs, exits=~longs, short_entries=shorts, short_exits=~shorts)
