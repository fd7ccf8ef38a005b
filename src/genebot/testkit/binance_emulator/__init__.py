"""A local Binance spot REST emulator the real ccxt can trade against (see ``server``)."""

from genebot.testkit.binance_emulator.book import BookError
from genebot.testkit.binance_emulator.server import BinanceEmulator, Fault

__all__ = ["BinanceEmulator", "BookError", "Fault"]
