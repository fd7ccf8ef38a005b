"""Serving the API: in the background of ``genebot run`` (trading never waits on it, and a busy
port only costs the API, never the run), or in the foreground for ``genebot serve``.

Tokens come from the environment. With none set, a loopback server makes an admin token for
its session and writes it to ``.genebot/api_token`` (mode 600) rather than printing it; a
server beyond loopback without tokens refuses to start."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from genebot.api.app import create_app
from genebot.api.context import ApiSettings
from genebot.api.security import ENV, Tokens, check_bind
from genebot.core.errors import ConfigError
from genebot.persistence.database import Database

log = logging.getLogger(__name__)
TOKEN_FILE = Path(".genebot/api_token")


def session_tokens(host: str, token_file: Path = TOKEN_FILE) -> tuple[Tokens, Path | None]:
    """The environment's tokens, or (loopback only) a fresh admin token in ``token_file``."""
    tokens = Tokens()
    if tokens:
        return tokens, None
    check_bind(host, tokens)  # beyond loopback without tokens: refuse
    token = secrets.token_urlsafe(24)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return Tokens({ENV["admin"]: token}), token_file


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a clear error naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"api: cannot listen on {host}:{port} ({exc.strerror}); set api.port / --port, "
            "or api.enabled: false"
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class Served:
    server: uvicorn.Server
    thread: threading.Thread | None
    url: str
    token_file: Path | None

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout_s)


def _server(app: Any, sock: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", ws_ping_interval=20.0
    )
    server = uvicorn.Server(config)
    server._genebot_socket = sock  # type: ignore[attr-defined]
    return server


def start_background(
    db: Database, host: str, port: int, settings: ApiSettings, runtime: Any
) -> Served:
    """The API in a daemon thread of this (runner) process."""
    tokens, token_file = session_tokens(host)
    sock = bind(host, port)
    app = create_app(db, tokens, settings=settings, runtime=runtime)
    server = _server(app, sock)  # (uvicorn takes no signals outside the main thread)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="genebot-api"
    )
    thread.start()
    return Served(server, thread, f"http://{host}:{port}", token_file)


def serve_foreground(
    db: Database, host: str, port: int, settings: ApiSettings, launcher: Any
) -> Served:
    """Prepare ``genebot serve`` (call ``.server.run(sockets=...)`` via :func:`run`)."""
    tokens, token_file = session_tokens(host)
    sock = bind(host, port)
    app = create_app(db, tokens, settings=settings, launcher=launcher)
    return Served(_server(app, sock), None, f"http://{host}:{port}", token_file)


def run(served: Served) -> None:
    sock: socket.socket = served.server._genebot_socket  # type: ignore[attr-defined]
    served.server.run(sockets=[sock])
