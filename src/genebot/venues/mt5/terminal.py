"""Reaching an MT5 terminal: the lazily imported module, and the logged-in session.

``bridge: native`` uses the official ``MetaTrader5`` package (Windows, next to the terminal);
``bridge: mt5linux`` reaches a terminal running under Wine or on another host through the
``mt5linux`` RPyC bridge (``host``/``port``), so a Linux server can trade. Neither package is
a genebot dependency: it is imported only when an MT5 exchange is used, and a missing one is
an :class:`~genebot.core.errors.InputError` that says how to install it.

The password is passed to ``initialize``/``login`` and nowhere else: it is never logged, never
put in an error message, never kept on the session object.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genebot.core.errors import InputError, StopError

log = logging.getLogger("genebot.venues.mt5")
BRIDGES = ("native", "mt5linux")
INSTALL = {
    "native": "pip install MetaTrader5  (Windows only, next to a MetaTrader 5 terminal)",
    "mt5linux": (
        "pip install mt5linux  (and run `python -m mt5linux <python.exe under Wine>` next to "
        "the terminal, so genebot can reach it at host:port)"
    ),
}


class TerminalError(StopError):
    """The terminal cannot be reached or refused the login."""


@dataclass(frozen=True)
class Mt5Settings:
    """What genebot needs to reach the terminal (the password is read once, at login)."""

    login: int | None = None
    server: str | None = None
    terminal_path: str | None = None
    bridge: str = "native"
    host: str = "127.0.0.1"
    port: int = 18812
    timeout_ms: int = 60_000


def load_module(
    bridge: str = "native",
    host: str = "127.0.0.1",
    port: int = 18812,
    importer: Callable[[str], Any] = importlib.import_module,
) -> Any:
    """The MetaTrader5 module (``native``) or an ``mt5linux`` proxy with the same functions."""
    if bridge not in BRIDGES:
        raise InputError(f"exchanges.mt5.bridge: {bridge!r} is not one of {', '.join(BRIDGES)}")
    package = "MetaTrader5" if bridge == "native" else "mt5linux"
    try:
        module = importer(package)
    except ImportError:
        raise InputError(
            f"exchanges.mt5 (bridge: {bridge}) needs the {package} package, which is not "
            f"installed: {INSTALL[bridge]}"
        ) from None
    if bridge == "mt5linux":
        return module.MetaTrader5(host=host, port=port)
    return module


def settings_of(cfg: Any) -> Mt5Settings:
    """The settings of one ``exchanges:`` entry (an ExchangeConfig with the MT5 keys)."""
    login = getattr(cfg, "login", None)
    return Mt5Settings(
        login=None if login is None else int(login),
        server=getattr(cfg, "server", None),
        terminal_path=getattr(cfg, "terminal_path", None),
        bridge=str(getattr(cfg, "bridge", "native") or "native"),
        host=str(getattr(cfg, "host", None) or "127.0.0.1"),
        port=int(getattr(cfg, "port", None) or 18812),
        timeout_ms=round(float(getattr(cfg, "timeout", 60.0)) * 1000),
    )


def connect(mt5: Any, settings: Mt5Settings, password: str | None) -> Any:
    """Start the terminal connection and log in; the account info. Errors name the login and
    the server, never the password."""
    kwargs: dict[str, Any] = {"timeout": settings.timeout_ms}
    if settings.login is not None:
        kwargs["login"] = settings.login
    if password:
        kwargs["password"] = password
    if settings.server:
        kwargs["server"] = settings.server
    args = (settings.terminal_path,) if settings.terminal_path else ()
    if not mt5.initialize(*args, **kwargs):
        code, text = _last_error(mt5)
        mt5.shutdown()
        raise TerminalError(
            f"MT5 initialize failed for login {settings.login} on {settings.server} "
            f"({code}: {text}); check the terminal path, the login and the password"
        )
    account = mt5.account_info()
    if account is None:
        code, text = _last_error(mt5)
        raise TerminalError(f"MT5 account_info failed ({code}: {text})")
    log.info("MT5: logged in as %s on %s", account.login, account.server)
    return account


def _last_error(mt5: Any) -> tuple[int, str]:
    err = mt5.last_error()
    if isinstance(err, tuple) and len(err) == 2:
        return int(err[0]), str(err[1])
    return -1, str(err)
