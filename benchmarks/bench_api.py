"""API latency and throughput while a replay trades, and the delay from a fill to a websocket
client (issue 16's targets: p99 < 20 ms at 200 requests/s; fill → websocket p99 < 50 ms).

    .venv/bin/python benchmarks/bench_api.py [--rate 200] [--seconds 20] [--speed 400]

It starts `genebot serve` (its own process, tokens from the environment) on a fresh SQLite
database, deploys moving_average on the sample BTC/USDT 5m data through the API (a `genebot
run` process), then, while that replay trades, sends GET /api/trading/deployments and
/metrics alternately at a fixed rate (open loop: latency counts from each request's scheduled
time, so a stall is not hidden) over 64 keep-alive connections with a minimal HTTP/1.1 client
(httpx's async client spent ~5 ms per request of its own on these two cores), and listens on
/api/ws. Prints p50/p95/p99/max latency, the
throughput reached, errors, and the fill → websocket delay (the client's receive time minus
the journal entry's recorded_at, both wall clock on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-admin-token-0123456789"
H = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    base = tmp / "base.yaml"
    base.write_text(
        f"backtest: {{data_dir: {ROOT / 'data' / 'sample'}, start_date: '2021-05-01', "
        "end_date: '2021-05-31'}\nstrategies:\n  moving_average:\n    parameters: "
        "{short_period: 10, long_period: 20}\n    symbols: [BTC/USDT]\n    timeframes: [5m]\n",
        encoding="utf-8",
    )
    env = {**os.environ, "GENEBOT_API_ADMIN_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp}/b.db"}
    args = ["serve", "--port", str(port), "--config", str(base)]
    return subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Connection:
    """One keep-alive HTTP/1.1 connection with a minimal client: a request is a few syscalls,
    so the load generator (on the same two cores) does not add its own milliseconds to the
    server's latency, as httpx's async client did (~5 ms p50 on GET /health alone)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        try:
            return await self._get(path)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            partial = getattr(exc, "partial", b"")
            if partial:
                raise
            self.reader = self.writer = None  # the server closed an idle keep-alive connection
            return await self._get(path)

    async def _get(self, path: str) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nAccept: */*\r\n\r\n"
        )
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def load(base: str, rate: float, seconds: float) -> dict[str, list[float]]:
    paths = ["/api/trading/deployments", "/metrics"]
    out: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[float] = []
    host, port = base.removeprefix("http://").split(":")
    idle = [Connection(host, int(port)) for _ in range(64)]

    async def one(path: str, scheduled: float) -> None:
        conn = idle.pop() if idle else Connection(host, int(port))
        try:
            ok = await conn.get(path) == 200
            idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
        (out[path] if ok else errors).append(time.perf_counter() - scheduled)

    tasks = []
    t0 = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % 2], scheduled)))
    await asyncio.gather(*tasks)
    out["_wall"] = [time.perf_counter() - t0]
    out["_errors"] = errors
    return out


async def listen(ws_url: str, seconds: float) -> list[float]:
    delays: list[float] = []
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(
                    ws.recv(), timeout=max(0.1, deadline - time.monotonic())
                )
            except TimeoutError:
                break
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "event" and message.get("kind") == "OrderFilled":
                recorded = datetime.fromisoformat(message["recorded_at"]).timestamp()
                delays.append(received - recorded)
    return delays


async def measure(
    port: int, rate: float, seconds: float
) -> tuple[dict[str, list[float]], list[float]]:
    base = f"http://127.0.0.1:{port}"
    listener = asyncio.create_task(listen(f"ws://127.0.0.1:{port}/api/ws", seconds + 2))
    await asyncio.sleep(0.5)
    loaded = await load(base, rate, seconds)
    return loaded, await listener


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speed", default="3000", help="replay speed of the deployment")
    a = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port()
    server = start(tmp, port)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = {"strategy": "moving_average", "symbols": ["BTC/USDT"], "speed": a.speed}
        dep = httpx.post(f"{base}/api/trading/deploy", headers=H, json=body, timeout=30).json()
        print(f"deployed {dep['deployment_id'][:12]} (replay at {a.speed}x)")
        loaded, delays = asyncio.run(measure(port, a.rate, a.seconds))
        card = httpx.get(f"{base}/api/trading/deployment/{dep['deployment_id']}", headers=H).json()
        httpx.post(f"{base}/api/trading/stop/{dep['deployment_id']}", headers=H, timeout=30)
    finally:
        server.terminate()
        server.wait(20)
    done = sum(len(v) for k, v in loaded.items() if not k.startswith("_"))
    wall = loaded["_wall"][0]
    print(
        f"offered {a.rate:.0f} req/s for {a.seconds:.0f} s: {done / wall:.0f} req/s answered, "
        f"{len(loaded['_errors'])} errors; the replay made {card['orders']} orders meanwhile"
    )
    for path, values in loaded.items():
        if path.startswith("_") or not values:
            continue
        ms = [v * 1000 for v in values]
        print(
            f"  GET {path:28s} n={len(ms):5d}  p50 {percentile(ms, 0.5):6.2f} ms  "
            f"p95 {percentile(ms, 0.95):6.2f} ms  p99 {percentile(ms, 0.99):6.2f} ms  "
            f"max {max(ms):7.2f} ms"
        )
    ms = [d * 1000 for d in delays]
    if ms:
        print(
            f"  fill -> websocket          n={len(ms):5d}  p50 {percentile(ms, 0.5):6.2f} ms  "
            f"p99 {percentile(ms, 0.99):6.2f} ms  max {max(ms):7.2f} ms"
        )
    else:
        print("  fill -> websocket: no fill arrived during the measurement")


if __name__ == "__main__":
    main()
