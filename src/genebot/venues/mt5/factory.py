"""An MT5 account from one ``exchanges:`` entry: the terminal, instruments, and genebot's
clients on it (nothing is sent yet).

``exchanges.mt5: {login: ${MT5_LOGIN}, password: ${MT5_PASSWORD}, server: Broker-Demo,
terminal_path: ..., bridge: native | mt5linux, host, port, server_timezone: "+2"}``.
Each traded symbol is selected in the Market Watch (``symbol_select``) and read with
``symbol_info``; a missing one is a clear error naming it. Its trading sessions
(:func:`~genebot.venues.mt5.sessions.sessions_of`: ``sessions``, ``rollover_pause_minutes``;
default the forex week in server time) go to the execution client (entries refused while the
market is closed) and the bar client (a closed market is not stale data).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genebot.core.errors import ConfigError
from genebot.domain.instrument import Instrument
from genebot.venues.mt5.data import Mt5BarClient, Mt5Stream
from genebot.venues.mt5.execution import Mt5ExecutionClient
from genebot.venues.mt5.sessions import sessions_of
from genebot.venues.mt5.symbols import ServerClock, SymbolSpec, instrument_of, mt5_symbol, spec_of
from genebot.venues.mt5.terminal import connect, load_module, settings_of

MT5_TYPES = ("mt5", "metatrader5", "metatrader")


def is_mt5(name: str, cfg: Any) -> bool:
    """Whether ``exchanges.<name>`` is an MT5 account (exchange_type or key ``mt5``)."""
    return str(getattr(cfg, "exchange_type", None) or name).lower() in MT5_TYPES


def magic_of(tag: str) -> int:
    """A magic number derived from ``tag`` (genebot's default: the exchange key and the login,
    so it stays the same across deployments and restarts: a restart finds the orders)."""
    return zlib.crc32(tag.encode()) % 2_000_000_000 + 1


@dataclass
class Mt5Parts:
    name: str
    mt5: Any
    account: Any
    specs: dict[str, SymbolSpec]
    instruments: dict[str, Instrument]
    client: Mt5ExecutionClient
    bars: Mt5BarClient


def load_specs(mt5: Any, name: str, symbols: Sequence[str]) -> dict[str, SymbolSpec]:
    """``{instrument id: spec}`` for genebot symbols (``EUR/USD``) on the terminal."""
    out: dict[str, SymbolSpec] = {}
    missing = []
    for symbol in symbols:
        native = mt5_symbol(symbol)
        mt5.symbol_select(native, True)
        info = mt5.symbol_info(native)
        if info is None:
            missing.append(native)
            continue
        out[f"{symbol}@{name}"] = spec_of(info)
    if missing:
        raise ConfigError(f"{name}: the terminal has no symbol {', '.join(missing)}")
    return out


def connect_mt5(
    name: str,
    cfg: Any,
    feeds: Sequence[tuple[str, str]],
    tag: str,
    *,
    clock: Callable[[], int] = time.time_ns,
    importer: Callable[[str], Any] | None = None,
    id_prefix: str = "gb-",
) -> Mt5Parts:
    """Log in, read the symbols of ``feeds`` ((symbol, timeframe) pairs), build the clients."""
    settings = settings_of(cfg)
    kwargs = {} if importer is None else {"importer": importer}
    mt5 = load_module(settings.bridge, settings.host, settings.port, **kwargs)
    secret = getattr(cfg, "password", None)
    account = connect(mt5, settings, None if secret is None else secret.get_secret_value())
    symbols = sorted({sym for sym, _ in feeds})
    specs = load_specs(mt5, name, symbols)
    commission = "0"
    instruments = {
        iid: instrument_of(iid.split("@")[0], name, spec, commission) for iid, spec in specs.items()
    }
    server = ServerClock(str(getattr(cfg, "server_timezone", "UTC") or "UTC"))
    magic = getattr(cfg, "magic", None) or magic_of(f"genebot:{name}:{settings.login}")
    hours = sessions_of(cfg, server)
    sessions = dict.fromkeys(instruments, hours)
    client = Mt5ExecutionClient(
        name, mt5, instruments, specs, id_prefix=f"{id_prefix}{tag}-", magic=int(magic),
        currency=str(account.currency), clock=clock, server=server,
        deviation=int(getattr(cfg, "deviation", 20)), sessions=sessions,
    )  # fmt: skip
    streams = [
        Mt5Stream(f"{sym}@{name}", sym, tf, native=specs[f"{sym}@{name}"].name) for sym, tf in feeds
    ]
    bars = Mt5BarClient(mt5, streams, clock=clock, server=server, sessions=sessions)
    return Mt5Parts(name, mt5, account, specs, instruments, client, bars)
