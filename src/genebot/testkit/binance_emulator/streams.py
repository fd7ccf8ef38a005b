"""The emulator's market streams: Binance's kline websocket (``/ws``, ``/ws/<n>``).

A client sends ``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}`` and gets
``{"result": null, "id": 1}``; then every :meth:`KlineStreams.push` of a subscribed stream
reaches it as Binance's ``{"e": "kline", "E": ..., "s": ..., "k": {...}}`` event.
:meth:`KlineStreams.drop` closes every connection (a disconnect, for reconnect tests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from aiohttp import WSMsgType, web

from genebot.testkit.binance_emulator.api import close_time


class KlineStreams:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subs: dict[web.WebSocketResponse, set[str]] = {}
        self.connections = 0  # every connection accepted so far

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._subs[ws] = set()
        self.connections += 1
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                names = set(data.get("params") or [])
                if data.get("method") == "SUBSCRIBE":
                    self._subs[ws] |= names
                elif data.get("method") == "UNSUBSCRIBE":
                    self._subs[ws] -= names
                await ws.send_str(json.dumps({"result": None, "id": data.get("id")}))
        finally:
            self._subs.pop(ws, None)
        return ws

    def subscriptions(self) -> set[str]:
        return {name for names in list(self._subs.values()) for name in names}

    def push(
        self, market_id: str, interval: str, row: Sequence[object], closed: bool, event_ms: int
    ) -> int:
        """Send one kline update to its subscribers; how many connections it reached."""
        name = f"{market_id.lower()}@kline_{interval}"
        t = int(str(row[0]))
        o, h, low, c, v = (str(x) for x in row[1:6])
        k = {"t": t, "T": close_time(t, interval), "s": market_id, "i": interval, "o": o,
             "c": c, "h": h, "l": low, "v": v, "x": closed}  # fmt: skip
        text = json.dumps({"e": "kline", "E": event_ms, "s": market_id, "k": k})
        targets = [ws for ws, names in list(self._subs.items()) if name in names]
        loop = self.loop
        if loop is not None:
            for ws in targets:
                asyncio.run_coroutine_threadsafe(ws.send_str(text), loop)
        return len(targets)

    async def close_all(self) -> None:
        for ws in list(self._subs):
            await ws.close()

    def drop(self) -> None:
        """Close every stream connection (the client sees a disconnect)."""
        loop = self.loop
        if loop is None:
            return
        for ws in list(self._subs):
            asyncio.run_coroutine_threadsafe(ws.close(), loop).result(timeout=5)
