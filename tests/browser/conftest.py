"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium; never `playwright
install`): a genebot API server on a free loopback port in a background thread, deploying paper
runs as `genebot run` processes over one SQLite database, like `genebot serve`.

Every page is watched: console errors, page errors, failed responses (unless a test says it
expects that one) and any request to a host other than 127.0.0.1 fail the test."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "sample"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ADMIN, VIEWER = "admin-token-browser-0123456789", "viewer-token-browser-0123456789"
TOKENS = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
START, END = "2021-05-01", "2021-05-04"  # three days of 5m bars (864 bars)
RUN_S = 60.0  # how long a paper replay of those days lasts at the speed the tests deploy at
SPAN_S = (date.fromisoformat(END) - date.fromisoformat(START)).days * 86400
SPEED = round(SPAN_S / RUN_S)  # x real time
BASE = f"""
backtest:
  data_dir: {DATA}
  start_date: "{START}"
  end_date: "{END}"
strategies:
  moving_average:
    parameters: {{short_period: 10, long_period: 20}}
    symbols: [BTC/USDT]
    timeframes: [5m]
risk_management:  # the first trades lose: no halt on 3 in a row, so pause/resume is the test's
  limits: {{max_consecutive_losses: 50}}
"""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class Server:
    url: str
    db: Any
    launcher: Any
    tmp: Path
    admin: str = ADMIN
    viewer: str = VIEWER
    speed: int = SPEED  # a replay of the base config's days lasts about RUN_S
    data: Path = DATA
    root: Path = ROOT

    def get(self, path: str, token: str = ADMIN) -> Any:
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def runner_up(self) -> bool:
        return bool(self.get("/health")["runner_up"])

    def wait(self, probe: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = probe()
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"not within {timeout_s} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn

    from genebot.api.app import create_app
    from genebot.api.context import ApiSettings
    from genebot.api.security import Tokens
    from genebot.persistence.database import Database
    from genebot.persistence.migrate import ensure_current
    from genebot.services.launcher import Launcher

    tmp = tmp_path_factory.mktemp("browser")
    db = Database(f"sqlite:///{tmp / 'g.db'}")
    ensure_current(db)
    base = tmp / "base.yaml"
    base.write_text(BASE, encoding="utf-8")
    launcher = Launcher(db, str(base), tmp)
    settings = ApiSettings(base_config=str(base), command_wait_s=20.0, rate_limit_per_minute=600)
    app = create_app(db, Tokens(TOKENS), settings=settings, launcher=launcher)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    served = Server(f"http://127.0.0.1:{port}", db, launcher, tmp)
    served.wait(lambda: uv.started, 15.0)
    try:
        yield served
    finally:
        launcher.close()
        uv.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """What a page did that it should not: console errors, uncaught errors, failed responses
    nobody expected, requests beyond 127.0.0.1. Also every websocket frame it received."""

    errors: list[str] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    expected: list[tuple[int, str]] = field(default_factory=list)  # (status, path) allowed
    frames: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def expect_failure(self, status: int, path: str) -> None:
        self.expected.append((status, path))

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("websocket", self._websocket)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        if text.startswith("Failed to load resource"):
            return  # the response handler judges the failure itself (status and path)
        self.errors.append(f"console: {text} @ {message.location}")

    def _request(self, request: Any) -> None:
        self.requests += 1
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.hostname != "127.0.0.1":
            self.foreign.append(request.url)

    def _response(self, response: Any) -> None:
        if response.status < 400:
            return
        path = urlsplit(response.url).path
        if (response.status, path) in self.expected:
            return
        self.failed.append((response.status, response.request.method, response.url))

    def _websocket(self, ws: Any) -> None:
        def received(payload: Any) -> None:
            try:
                self.frames.append(json.loads(payload))
            except (TypeError, ValueError):
                self.frames.append({"raw": payload})

        ws.on("framereceived", received)

    def frames_of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    def check(self) -> None:
        assert not self.errors, "errors in the page:\n" + "\n".join(self.errors)
        assert not self.failed, f"unexpected failed responses: {self.failed}"
        assert not self.foreign, f"requests beyond 127.0.0.1: {self.foreign}"
        assert self.requests > 0


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[..., tuple[Any, Watch]]]:
    """open_page(width=1280, height=900, scheme="dark") -> (page, watch); checked at the end."""
    made: list[tuple[Any, Any, Watch]] = []

    def opener(
        width: int = 1280, height: int = 900, scheme: str = "dark", **options: Any
    ) -> tuple[Any, Watch]:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            base_url=server.url,
            **options,
        )
        context.set_default_timeout(15000)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        made.append((context, page, watch))
        return page, watch

    yield opener
    try:
        for _, _, watch in made:
            watch.check()
    finally:
        for context, _, _ in made:
            context.close()


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    """shot(page, name): a full-page screenshot in tests/browser/artifacts/name.png."""

    def take(page: Any, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take
