"""Sleeves are in the account currency even for instruments quoted in another currency."""

from __future__ import annotations

from decimal import Decimal

from genebot.domain.events import OrderFilled
from genebot.portfolio.portfolio import Portfolio

D = Decimal
ETHBTC = "ETH/BTC@sim"


def fill(side: str, qty: str, px: str, fee: str) -> OrderFilled:
    return OrderFilled("O-1", "T-1", ETHBTC, side, D(qty), D(px), D(fee), "BTC", "TAKER", 1, 1)


def test_eth_btc_pnl_and_fees_are_converted_to_usdt() -> None:
    btc_usdt = {"rate": D("50000")}
    marks = {ETHBTC: 0.06}
    portfolio = Portfolio(
        lambda iid: marks.get(iid),
        quotes={ETHBTC: "BTC"},
        rate=lambda c: D(1) if c == "USDT" else btc_usdt["rate"],
    )
    sleeve = portfolio.add_sleeve("s", D("10000"))
    portfolio.on_fill("s", fill("BUY", "1", "0.05", "0.00005"), "signal")
    assert sleeve.fees == D("2.5")  # 0.00005 BTC × 50,000
    # unrealized: 1 ETH × (0.06 − 0.05) BTC = 0.01 BTC = 500 USDT
    assert sleeve.equity(portfolio.mark) == D("10000") - D("2.5") + D("500")
    btc_usdt["rate"] = D("40000")  # BTC falls: the same BTC profit is worth less
    portfolio.on_fill("s", fill("SELL", "1", "0.06", "0.00006"), "signal")
    assert sleeve.realized_pnl == D("400")  # 0.01 BTC × 40,000
    assert sleeve.fees == D("2.5") + D("2.4")
    assert sleeve.equity(portfolio.mark) == D("10000") + D("400") - D("4.9")


def test_account_currency_instruments_are_unchanged() -> None:
    portfolio = Portfolio(lambda iid: 110.0, quotes={"X/USDT@sim": "USDT"}, rate=lambda c: D(1))
    assert portfolio.to_account("X/USDT@sim", D("12.34")) == D("12.34")
