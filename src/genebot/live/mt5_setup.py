"""The parts of a live run on an MT5 account, shaped as the ccxt run's :class:`ExchangeParts`.

The terminal is reached and logged in (:func:`genebot.venues.mt5.factory.connect_mt5`); the
runtime's ccxt-style calls (balance, open orders, an order by client id, trades) go through a
:class:`~genebot.venues.mt5.ccxt_facade.Mt5Facade` and the ccxt :class:`Caller` (the same
error table and retries), so the live runtime, its restart recovery and its reconciliation
run unchanged; orders go through the MT5 execution client into an
:class:`~genebot.venues.mt5.venue.Mt5Venue` (a margin account).

Stops and targets rest on the terminal's position (``sl``/``tp``, moved with
``TRADE_ACTION_SLTP``) while ``native_stops`` is on (the default), else genebot's emulator
holds them. The symbols' broker sessions (``sessions``, ``rollover_pause_minutes``) keep a
closed market from looking stale and deny entries while it is closed (``market_closed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from genebot.config.models import ExchangeConfig
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.errors import Backoff
from genebot.venues.mt5.ccxt_facade import Mt5Facade
from genebot.venues.mt5.factory import connect_mt5
from genebot.venues.mt5.venue import Mt5Venue

if TYPE_CHECKING:
    from genebot.live.exchange_setup import ExchangeParts

log = logging.getLogger("genebot.live")


def connect_mt5_parts(
    name: str,
    entry: ExchangeConfig,
    feeds: Sequence[tuple[str, str]],
    tag: str,
    clock: Callable[[], int],
    *,
    resolve_after_s: float,
    poll_delay_s: float,
    stale_after: int,
    prefix: str,
) -> ExchangeParts:
    """An ExchangeParts for ``exchanges.<name>`` on MT5 (nothing is sent yet)."""
    from genebot.live.exchange_setup import ExchangeParts

    parts = connect_mt5(name, entry, feeds, tag, clock=clock, id_prefix=prefix)
    client = parts.client
    client.resolve_after_ns = int(resolve_after_s * 1e9)
    facade = Mt5Facade(name, client)
    caller = Caller(facade, Backoff())
    client.call, client.exchange = caller, facade
    bars = parts.bars
    bars.delay_ns, bars.stale_after = int(poll_delay_s * 1e9), stale_after
    if not entry.native_stops:
        client.native_types = frozenset()
    venue = Mt5Venue(client, parts.instruments)
    where = "on the terminal's positions" if client.native_types else "by genebot's emulator"
    log.warning(
        "%s: MT5 login %s on %s (%s); stops and targets are held %s",
        name, parts.account.login, parts.account.server, parts.account.currency, where,
    )  # fmt: skip
    return ExchangeParts(
        name, entry, facade, caller, parts.instruments, cast(Any, bars),
        client=cast(Any, client), venue=cast(Any, venue),
    )  # fmt: skip
