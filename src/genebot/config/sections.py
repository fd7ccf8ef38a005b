"""Small top-level config sections: ``logging:``, ``run:``, ``paper:`` and ``live:``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from genebot.core.config import FrozenModel


class LoggingConfig(FrozenModel):
    """The ``logging:`` section."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    file: str | None = Field(default=None, description="also log to this file")
    directory: str | None = Field(
        default="logs",
        description="genebot run writes the seed's JSON-lines log files here (trading_bot.log, "
        "errors.log, trades.log, orchestration.log, performance.log, strategies/); null: none",
    )
    max_bytes: int = Field(default=10 * 2**20, ge=4096, description="rotate a file past this size")
    backups: int = Field(default=5, ge=0, le=1000, description="rotated files kept per log")
    max_age_days: float = Field(
        default=7.0, ge=0, description="rotate a file older than this; 0: never"
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class BackupSectionConfig(FrozenModel):
    """The ``backup:`` section: ``genebot db backup`` on a schedule while a runner trades."""

    enabled: bool = Field(True, description="take scheduled backups during paper and live runs")
    every_hours: float = Field(24.0, gt=0, description="hours between backups (first after one)")
    directory: str = Field("backups", description="folder the backup files are written to")
    keep: int = Field(7, ge=1, le=10_000, description="newest backup files kept")


class RunSectionConfig(FrozenModel):
    """The ``run:`` section: how ``genebot run`` (paper trading) behaves."""

    feed: Literal["precomputed", "bar_by_bar"] = Field(
        "precomputed",
        description="how replayed bars reach the strategies: precomputed (fastest) or "
        "bar_by_bar (one close time at a time, signals from the trailing window: the live path)",
    )
    cancel_open_orders_on_stop: bool = Field(
        False,
        description="cancel the deployment's working orders on Ctrl-C / SIGTERM (it then "
        "cannot resume: a re-execution would not cancel them)",
    )

    @field_validator("feed", mode="before")
    @classmethod
    def _dashes(cls, value: Any) -> Any:
        return value.replace("-", "_").lower() if isinstance(value, str) else value


Currency = Annotated[str, Field(pattern=r"^[A-Za-z0-9]+$")]


class PaperSectionConfig(FrozenModel):
    """The ``paper:`` section: paper trading's simulated wallet and where its prices come from."""

    prices: Literal["replay", "exchange"] = Field(
        "replay",
        description="replay: the backtest.data files on the replay clock; exchange: the "
        "strategies' exchange's live candles (public data, no API key), simulated fills",
    )
    starting_balances: dict[Currency, Annotated[float, Field(ge=0)]] | None = Field(
        default=None,
        description="the simulated wallet per currency, e.g. {USDT: 10000, BTC: 0.1}; the "
        "account currency's amount is the strategies' capital (default: backtest.initial_cash)",
    )

    @field_validator("starting_balances", mode="after")
    @classmethod
    def _upper(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else {k.upper(): v for k, v in value.items()}


class LiveSectionConfig(FrozenModel):
    """The ``live:`` section: how ``genebot run --live`` trades on an exchange."""

    warmup_bars: int = Field(
        500, ge=1, le=5000, description="closed candles per feed fetched before trading starts"
    )
    quote_interval_s: float = Field(
        1.0, gt=0, le=3600, description="quotes: true — seconds between asks for the best bid/ask"
    )
    poll_delay_s: float = Field(
        2.0, ge=0, le=60, description="seconds after a bar's close before it is asked for"
    )
    stale_after_bars: int = Field(
        3, ge=1, description="no new candle for this many intervals: the feed is stale (alert)"
    )
    reconcile_interval: float = Field(
        300.0, gt=0, description="seconds between checks of genebot's books against the exchange"
    )
    resolve_after_s: float = Field(
        10.0, gt=0, description="an unanswered order not on the exchange after this is rejected"
    )
    websocket: bool = Field(
        True, description="candles over the exchange's websocket where ccxt.pro has it (else REST)"
    )
    staged_sizing: bool = Field(
        True, description="the first weeks live trade a fraction of the configured size"
    )
    staged_weekly: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 0.75],
        description="staged_sizing: the fraction of the size in week 1, 2, ... (full after)",
    )


class ApiSectionConfig(FrozenModel):
    """The ``api:`` section: the API and dashboard that ``genebot run`` and ``genebot serve``
    serve. Tokens come from the environment (GENEBOT_API_ADMIN_TOKEN, GENEBOT_API_VIEWER_TOKEN),
    never from this file."""

    enabled: bool = Field(True, description="serve the API and dashboard while genebot runs")
    host: str = Field("127.0.0.1", description="beyond loopback only with tokens set")
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed to call the API from a browser"
    )
    rate_limit_per_minute: int = Field(
        60, ge=1, le=100000, description="changes (POST/PUT/PATCH/DELETE) per token per minute"
    )
    command_wait_s: float = Field(
        10.0, gt=0, le=120, description="how long a control call waits for the runner"
    )
