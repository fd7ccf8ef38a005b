"""Candles over the exchange's websocket (ccxt.pro ``watch_ohlcv_for_symbols``), for the bar
client: a background thread with its own event loop keeps the subscription, reconnecting
after a drop, and hands out the candles that have **closed** — a candle is final once the
exchange sends a newer one of the same stream (Binance updates a kline stream every 1–2 s).

The bar client stays the judge: it takes what this watcher has, checks the candles follow on
from the last one held, and backfills by REST a gap or a close the stream did not deliver in
time (see :class:`~genebot.venues.ccxt.data.CcxtBarClient`). ``healthy`` is false until the
first update, and again when no update came for ``silent_after_s``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("genebot.venues.ccxt")
Row = list[float]


class KlineWatcher:
    def __init__(
        self,
        factory: Callable[[], Any],
        pairs: Sequence[tuple[str, str]],
        *,
        reconnect_s: float = 1.0,
        silent_after_s: float = 10.0,
    ) -> None:
        self.factory = factory
        self.pairs = [list(p) for p in pairs]
        self.reconnect_s, self.silent_after_s = reconnect_s, silent_after_s
        self.errors = 0
        self.last_error = ""
        self.last_update = 0.0  # monotonic time of the last update
        self._lock = threading.Lock()
        self._forming: dict[tuple[str, str], Row] = {}  # the newest candle seen, per stream
        self._closed: dict[tuple[str, str], list[Row]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def healthy(self) -> bool:
        return bool(self.last_update) and time.monotonic() - self.last_update < self.silent_after_s

    def start(self) -> KlineWatcher:
        self._thread = threading.Thread(target=self._run, name="genebot-klines", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
            thread.join(timeout=10)

    def take(self, symbol: str, timeframe: str) -> list[Row]:
        """The closed candles received since the last call, oldest first."""
        with self._lock:
            return self._closed.pop((symbol, timeframe), [])

    # -- the background thread ------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._watch())
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    async def _watch(self) -> None:
        exchange = self.factory()
        try:
            while not self._stop.is_set():
                try:
                    got = await exchange.watch_ohlcv_for_symbols(self.pairs)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a drop, a refusal: say it, wait, subscribe again
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                    log.warning("kline stream: %s; reconnecting", self.last_error)
                    await asyncio.sleep(self.reconnect_s)
                    continue
                self._seen(got)
        finally:
            await exchange.close()

    def _seen(self, got: dict[str, dict[str, list[Row]]]) -> None:
        self.last_update = time.monotonic()
        with self._lock:
            for symbol, frames in got.items():
                for timeframe, rows in frames.items():
                    for row in rows:
                        self._update((symbol, timeframe), [float(x) for x in row[:6]])

    def _update(self, key: tuple[str, str], row: Row) -> None:
        forming = self._forming.get(key)
        if forming is not None and row[0] > forming[0]:  # a newer candle: the last is final
            self._closed.setdefault(key, []).append(forming)
        if forming is None or row[0] >= forming[0]:
            self._forming[key] = row
