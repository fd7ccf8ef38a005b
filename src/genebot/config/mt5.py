"""A MetaTrader 5 account's settings on an ``exchanges:`` entry (``exchange_type: mt5``, or the
key ``mt5``; see :mod:`genebot.venues.mt5`): the login, the password (a secret, from the
environment: ``${MT5_PASSWORD}``), the broker server and how the terminal is reached."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator

from genebot.core.config import FrozenModel


class Mt5Fields(FrozenModel):
    """The MT5 part of :class:`~genebot.config.models.ExchangeConfig` (unused by ccxt venues)."""

    login: int | None = Field(default=None, description="MT5: the trading account number")
    password: SecretStr | None = Field(default=None, description="MT5: the account password")
    server: str | None = Field(default=None, description='MT5: the broker server ("Broker-Demo")')
    terminal_path: str | None = Field(default=None, description="MT5: terminal64.exe's path")
    bridge: Literal["native", "mt5linux"] = Field(
        default="native",
        description="MT5: native (the MetaTrader5 package, Windows) or mt5linux (a terminal "
        "under Wine or on another host, reached at host:port)",
    )
    host: str = Field(default="127.0.0.1", description="MT5 mt5linux bridge: its host")
    port: Annotated[int, Field(gt=0, lt=65536)] = 18812
    server_timezone: str = Field(
        default="+2",
        description="MT5: the broker server's time zone (an offset like +2, or a name like "
        "Europe/Athens); bar times are converted to UTC with it",
    )
    magic: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="MT5: the magic number on genebot's orders (default: derived from the "
        "exchange key and the login)",
    )
    deviation: Annotated[int, Field(ge=0)] = Field(
        default=20, description="MT5: the largest slippage accepted on a market order, in points"
    )
    sessions: dict[str, str | list[str]] | None = Field(
        default=None,
        description="MT5: the symbols' trading sessions per weekday, server time, e.g. "
        "{fri: '00:00-23:55'} (default: Mon 00:00 - Fri 23:55)",
    )
    rollover_pause_minutes: Annotated[int, Field(ge=0, le=120)] = Field(
        default=0, description="MT5: new entries pause this long either side of server midnight"
    )

    @field_validator("login", "server", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `${MT5_LOGIN:-}` in a shared config means "no MT5 account here".
        return None if isinstance(value, str) and not value.strip() else value
