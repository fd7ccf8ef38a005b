"""CrossMarketArbitrageStrategy: the same asset on two venues, traded when their prices part.

Trades: one symbol on two venues (``venues: [a, b]`` in its config). When the price on one venue
exceeds the other's by more than ``price_threshold`` *after* the taker fees of all four fills
(open and close on both venues), it buys the cheap venue and sells the expensive one in equal
size, and closes both legs when the spread has come back within ``exit_threshold``. If one leg is
refused or cancelled, the other is closed at once (unwound), so it never keeps a naked position.
Shorting the expensive leg needs a margin venue (or inventory there on spot).

Parameters: ``price_threshold`` (net spread to open, default 0.002 = 0.2 %; optimize 0.0005–0.01),
``exit_threshold`` (default 0.0005), ``execution_speed`` (``market``: taker orders now; ``limit``:
limit orders at the observed prices, cheaper but may not fill).

Made for: liquid assets listed on several exchanges whose prices are briefly inconsistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from genebot.core.errors import ParameterError
from genebot.core.precision import to_decimal
from genebot.domain.instrument import Instrument
from genebot.domain.orders import Order, OrderStatus
from genebot.execution.engine import Protection
from genebot.trading.data import BarView
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

_FAILED = frozenset(
    {OrderStatus.REJECTED, OrderStatus.DENIED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
)


class CrossMarketArbitrageStrategy(Strategy):
    """Buy where it is cheap, sell where it is dear, close when the prices meet."""

    name = "cross_market_arbitrage"
    allow_short = True
    default_data = ("BTC/USDT", "1m")
    # The bundled pair of venues: Binance and a SYNTHETIC second venue derived from it
    # (data/sample/derived). Both on margin: the dear leg is sold short.
    default_setup: ClassVar[Mapping[str, Any]] = {
        "exchanges": {
            "binance": {"account_type": "margin"},
            "venue_b": {"account_type": "margin"},
        },
        "backtest": {
            "start_date": "2021-05-18",
            "end_date": "2021-05-20",
            "data": [
                {
                    "file": "crypto/binance_BTC-USDT_1m.csv",
                    "symbol": "BTC/USDT",
                    "venue": "binance",
                },
                {
                    "file": "derived/venue-b_BTC-USDT_1m.synthetic.csv",
                    "symbol": "BTC/USDT",
                    "venue": "venue_b",
                },
            ],
        },
        "strategy": {"venues": ["binance", "venue_b"]},
    }
    price_threshold = Param(
        0.002,
        min=0.0,
        max=0.5,
        opt=(0.0005, 0.01, 0.0005),
        doc="net spread after all fees needed to open",
    )
    exit_threshold = Param(
        0.0005,
        min=0.0,
        max=0.5,
        opt=(0.0, 0.002, 0.00025),
        doc="close when the spread is back within this",
    )
    execution_speed = Param(
        "market",
        choices=("market", "limit"),
        doc="market (taker) or limit orders at the observed prices",
    )

    def validate_parameters(self) -> None:
        if self.exit_threshold >= self.price_threshold + 1e-12 and self.price_threshold > 0:
            raise ParameterError(
                f"strategy {self.strategy_id}: exit_threshold ({self.exit_threshold}) must be "
                f"below price_threshold ({self.price_threshold})"
            )

    def on_start(self) -> None:
        # Legs of a hedged cycle: no per-leg stop or target (one would break the hedge).
        self.protection = Protection()
        venues = sorted(self._instruments.values(), key=lambda i: i.venue)
        symbols = {i.symbol for i in venues}
        if len(venues) != 2 or len(symbols) != 1:
            raise ParameterError(
                f"strategy {self.strategy_id} needs exactly one symbol on two venues "
                f"(venues: [a, b]); it has {', '.join(i.id for i in venues)}"
            )
        self.legs: tuple[Instrument, Instrument] = (venues[0], venues[1])
        self.open_orders_: list[Order] = []

    def on_bar(self, bar: BarView) -> None:
        if bar.instrument is not self.legs[1]:  # act once per time step, on the second venue
            return
        self._unwind_failed_legs()
        a, b = self.legs
        pa, pb = self.ctx.mark(a.id), self.ctx.mark(b.id)
        if not pa or not pb:
            return
        spread = (pb - pa) / pa  # > 0: b is dearer
        costs = 2 * float(a.taker_fee + b.taker_fee)  # open and close on both venues
        qa = self.position(a.id).quantity
        if qa == 0 and not self.open_orders_:
            if spread - costs > self.price_threshold:
                self._open(cheap=a, dear=b, pa=pa, pb=pb)
            elif -spread - costs > self.price_threshold:
                self._open(cheap=b, dear=a, pa=pb, pb=pa)
        elif qa != 0 and abs(spread) <= self.exit_threshold:
            self.close(a.id, tag="converged")
            self.close(b.id, tag="converged")

    def _open(self, cheap: Instrument, dear: Instrument, pa: float, pb: float) -> None:
        ref = to_decimal(pa)
        qty = self.sizer.quantity(cheap, ref, self.capital.equity / 2)
        qty = min(qty, dear.round_quantity(qty))
        if qty <= 0:
            return
        limit = self.execution_speed == "limit"
        buy = self.buy(cheap.id, qty, limit=pa if limit else None, tag="arbitrage")
        sell = self.sell(dear.id, qty, limit=pb if limit else None, tag="arbitrage")
        self.open_orders_ = [o for o in (buy, sell) if o is not None]

    def _unwind_failed_legs(self) -> None:
        """A leg refused or cancelled: close whatever the other leg filled."""
        if not self.open_orders_:
            return
        if any(o.status in _FAILED and o.filled_qty == 0 for o in self.open_orders_):
            for order in self.open_orders_:
                if order.is_open:
                    self.cancel(order)
            for inst in self.legs:
                if self.position(inst.id).quantity != 0:
                    self.close(inst.id, tag="unwind")
            self.open_orders_ = []
        elif all(not o.is_open for o in self.open_orders_):
            self.open_orders_ = []
