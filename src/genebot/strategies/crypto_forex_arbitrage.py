"""CryptoForexArbitrageStrategy: a coin priced in two fiat currencies against the forex rate.

Trades: BTC/USD, BTC/EUR and EUR/USD on one venue that lists all three. The implied rate
BTC/USD ÷ BTC/EUR should equal EUR/USD; when they part by more than ``spread_threshold`` after
the fee of every leg, it runs the round trip that earns the difference (USD → EUR → BTC → USD or
the reverse), leg after leg, unwinding a leg that fails — the engine of
:class:`~genebot.strategies.triangular_arbitrage.TriangularArbitrageStrategy`.

Parameters: ``crypto_pairs`` (default ["BTC/USD", "BTC/EUR"]), ``forex_pairs`` (default
["EUR/USD"]), ``spread_threshold`` (net return of a cycle, default 0.002; optimize 0.001–0.01).

Made for: venues quoting a coin in several fiat currencies, where the fiat legs lag the forex
market; the account currency is the forex pair's quote (USD).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from genebot.core.errors import ParameterError
from genebot.strategies.triangular_arbitrage import TriangularArbitrageStrategy
from genebot.trading.params import Param


class CryptoForexArbitrageStrategy(TriangularArbitrageStrategy):
    """Coin in two currencies against the forex rate between them."""

    name = "crypto_forex_arbitrage"
    default_data = ("BTC/USD,BTC/EUR,EUR/USD", "1m")
    # Binance BTC/USDT (USDT taken as USD) with SYNTHETIC BTC/EUR and EUR/USD derived from it
    # (data/sample/derived): no real BTC/EUR or minute EUR/USD of that time is bundled.
    default_setup: ClassVar[Mapping[str, Any]] = {
        "backtest": {
            "quote_currency": "USD",
            "start_date": "2021-05-18",
            "end_date": "2021-05-20",
            "data": [
                {"file": "crypto/binance_BTC-USDT_1m.csv", "symbol": "BTC/USD"},
                {"file": "derived/derived_BTC-EUR_1m.synthetic.csv", "symbol": "BTC/EUR"},
                {"file": "derived/derived_EUR-USD_1m.synthetic.csv", "symbol": "EUR/USD"},
            ],
        },
    }
    crypto_pairs = Param(["BTC/USD", "BTC/EUR"], doc="the coin quoted in the two currencies")
    forex_pairs = Param(["EUR/USD"], doc="the rate between those currencies")
    spread_threshold = Param(
        0.002,
        min=0.0,
        max=0.2,
        opt=(0.001, 0.01, 0.0005),
        doc="net return of a cycle after all fees",
    )

    def validate_parameters(self) -> None:
        crypto, forex = self.params["crypto_pairs"], self.params["forex_pairs"]
        if len(crypto) != 2 or len(forex) != 1:
            raise ParameterError(
                f"strategy {self.strategy_id}: crypto_pairs needs two pairs and forex_pairs "
                f"one (got {crypto} and {forex})"
            )
        coins = {p.split("/")[0] for p in crypto}
        fiats = {p.split("/")[1] for p in crypto}
        fx_base, fx_quote = forex[0].split("/")
        if len(coins) != 1 or fiats != {fx_base, fx_quote}:
            raise ParameterError(
                f"strategy {self.strategy_id}: crypto_pairs {crypto} must quote one coin in "
                f"the two currencies of {forex[0]}"
            )

    @property
    def min_profit_threshold(self) -> float:  # type: ignore[override]
        return float(self.params["spread_threshold"])

    def on_start(self) -> None:
        triplet = ",".join([*self.params["crypto_pairs"], *self.params["forex_pairs"]])
        self.params["currency_triplets"] = [triplet]
        super().on_start()
