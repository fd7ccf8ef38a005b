"""Frozen pydantic models for the genebot YAML configuration: the seed's layout
(``exchanges:``, ``strategies:``, ``risk_management:`` ...) plus ``backtest:`` and genebot's
own sections. Every model is frozen and rejects unknown keys; loading, ``${VAR}``
interpolation, error formatting and CLI overrides live in :mod:`genebot.config.loader`.
Cross-field checks raise :class:`KeyedValueError`, so an error names the exact key
(``backtest.start_date``), not the enclosing section.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from genebot.config.alerts import AlertingConfig, MonitoringConfig, OrchestrationAlertsConfig
from genebot.config.mt5 import Mt5Fields
from genebot.config.notifications import NotificationsConfig
from genebot.config.schedule import ScheduleConfig
from genebot.config.sections import (
    ApiSectionConfig,
    BackupSectionConfig,
    LiveSectionConfig,
    LoggingConfig,
    PaperSectionConfig,
    RunSectionConfig,
)
from genebot.core.config import (
    FeeRate,
    Fraction,
    FrozenModel,
    KeyedValueError,
    TimeZone,
    drop_empty_sections,
    ranged,
)
from genebot.core.errors import InputError
from genebot.core.time import parse_datetime, timeframe_to_ns
from genebot.orchestrator.settings import OrchestratorSettings, flatten_allocation
from genebot.risk.config import RiskManagementConfig
from genebot.venues.ccxt.urls import parse_base_url

SIM_VENUE = "sim"
"""Venue name used when no exchange is configured: the built-in simulated venue."""


class EnvStr(str):
    """A string produced by a whole-value ``${VAR}`` substitution; may be re-typed later."""

    __slots__ = ()


_SYMBOL_RE = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._:-]+$")


def _check_symbol(value: str) -> str:
    if not _SYMBOL_RE.match(value):
        raise ValueError("must look like BASE/QUOTE, for example BTC/USDT")
    return value


def _check_timeframe(value: str) -> str:
    try:
        timeframe_to_ns(value)
    except InputError:
        raise ValueError(
            "is not a valid timeframe: use a number and a unit s, m, h, d or w "
            "(for example 1m, 5m, 1h, 1d)"
        ) from None
    return value.strip()


def _check_date(value: str) -> str:
    try:
        parse_datetime(value)
    except InputError:
        raise ValueError(
            "is not a valid ISO-8601 date: use for example 2021-01-31 or 2021-01-31T12:00:00Z"
        ) from None
    return value.strip()


Symbol = Annotated[str, AfterValidator(_check_symbol)]
Timeframe = Annotated[str, AfterValidator(_check_timeframe)]
IsoDate = Annotated[str, AfterValidator(_check_date)]
NonEmptyStr = Annotated[str, Field(min_length=1)]

ParamScalar = int | float | bool | str
ParamValue = int | float | bool | str | list[int | float | str]


def _non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one entry")
    return value


def _unique(value: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        raise ValueError(f"lists {', '.join(repeated)} more than once; list each once")
    return value


def _one_or_many(value: object) -> object:
    """Accept ``symbols: BTC/USDT`` as shorthand for ``symbols: [BTC/USDT]``."""
    return [value] if isinstance(value, str) else value


def _date_to_text(value: object) -> object:
    """A mapping source may hold date objects; keep dates as ISO text like the YAML loader."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class _VenueFields(FrozenModel):
    """The ccxt venue's part of an ``exchanges:`` entry (listed first in messages)."""

    exchange_type: str | None = Field(
        default=None, description="ccxt exchange id; defaults to the config key"
    )
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    passphrase: SecretStr | None = None
    sandbox: bool = True
    rate_limit: Annotated[int, Field(gt=0)] = 1200
    timeout: Annotated[float, Field(gt=0)] = 30.0
    enabled: bool = True
    account_type: Literal["spot", "margin"] = "spot"
    maker_fee: FeeRate = 0.001
    taker_fee: FeeRate = 0.001
    leverage: Annotated[float, Field(ge=1, le=125)] = 1.0
    margin_requirement: Fraction = 1.0
    native_stops: bool = Field(
        default=True,
        description="the venue holds stop/target orders itself; false: genebot emulates them "
        "locally and sends a market order on trigger",
    )
    base_url: str | None = Field(
        default=None,
        description="replaces the scheme and host of every REST and websocket URL of this "
        "exchange (a regional mirror, a proxy, a local test exchange); paths stay ccxt's",
    )
    ccxt_options: dict[str, Any] = Field(
        default_factory=dict,
        description="passed to the ccxt constructor's options (e.g. recvWindow), merged over "
        "genebot's defaults",
    )


class ExchangeConfig(Mt5Fields, _VenueFields):
    """One venue: credentials, fee and margin terms, and an MT5 account's (``Mt5Fields``)."""

    @field_validator("base_url")
    @classmethod
    def _base_url_is_a_host(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_base_url(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("api_key", "api_secret", "passphrase", "password", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        # `${BINANCE_API_KEY:-}` in a shared config means "no key here" (backtests need none).
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _leverage_needs_margin(self) -> ExchangeConfig:
        if self.account_type == "spot" and self.leverage != 1:
            raise KeyedValueError(
                "leverage",
                f"must be 1 for a spot account; set account_type: margin to use {self.leverage:g}",
            )
        return self


class DataFileConfig(FrozenModel):
    """An explicit market-data file for a backtest."""

    file: NonEmptyStr
    symbol: Symbol
    timeframe: Timeframe | None = Field(
        default=None, description="inferred from the data if omitted"
    )
    venue: str | None = None


class RolloverConfig(FrozenModel):
    """Daily swap financing of open forex positions on margin accounts (needs rates)."""

    time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "17:00"
    timezone: TimeZone = "America/New_York"
    markup: Annotated[float, Field(ge=0, le=0.2)] = Field(
        default=0.0, description="broker markup on the rate differential, per year"
    )


class QuoteFileConfig(FrozenModel):
    """A top-of-book quote file for a backtest."""

    file: NonEmptyStr
    symbol: Symbol
    venue: str | None = None


class BacktestConfig(FrozenModel):
    """How a backtest runs: cash, costs, fills, period and where data and results live."""

    initial_cash: Annotated[float, Field(gt=0)] = 100_000.0
    fee: FeeRate | None = Field(
        default=None, description="overrides every venue's maker and taker fee"
    )
    slippage_bps: Annotated[
        float, AfterValidator(ranged(0, 10_000, low_inclusive=True, high_inclusive=False))
    ] = 0.0
    slippage_model: Literal["fixed_bps", "volume_share"] = Field(
        default="fixed_bps",
        description="fixed_bps: slippage_bps on every taker fill; volume_share: "
        "price_impact × (quantity / bar volume)², capped at 5 %",
    )
    price_impact: Annotated[float, Field(gt=0, le=10)] = 0.1
    fill_timing: Literal["next_open", "close"] = "next_open"
    engine_mode: Literal["auto", "per_bar", "fast"] = "auto"
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    data_dir: NonEmptyStr = "data/sample"
    output_dir: NonEmptyStr = "backtest_output"
    quote_currency: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9]+$")] = "USDT"
    data: tuple[DataFileConfig, ...] = ()
    on_broken: Literal["fail", "warn"] = Field(
        default="fail",
        description="broken data rows (NaN, price <= 0, OHLC inconsistent, negative volume, "
        "repeated or out-of-order timestamps): fail stops naming file and rows; warn drops "
        "them (sorts out-of-order rows, keeps the first of a repeat) and reports it",
    )
    on_gap: Literal["warn", "fail", "ignore"] = Field(
        default="warn", description="missing bars: warn reports them, fail stops, ignore neither"
    )
    quotes: tuple[QuoteFileConfig, ...] = Field(
        default=(), description="quote files: timestamp,bid,bid_size,ask,ask_size"
    )
    volume_participation: Fraction | None = None
    latency_ms: Annotated[float, Field(ge=0)] = 0.0
    interest_rates: dict[str, float] | None = Field(
        default=None, description="constant annual rates per currency, e.g. {USD: 0.02}"
    )
    rates_file: str | None = Field(
        default=None, description="CSV date,currency,rate of rates over time"
    )
    rollover: RolloverConfig = Field(default_factory=RolloverConfig)

    _dates = field_validator("start_date", "end_date", mode="before")(_date_to_text)

    @model_validator(mode="after")
    def _start_before_end(self) -> BacktestConfig:
        start, end = self.start_ns, self.end_ns
        if start is not None and end is not None and start >= end:
            raise KeyedValueError(
                "start_date",
                f"start_date {self.start_date} must be before end_date {self.end_date}",
            )
        return self

    @property
    def start_ns(self) -> int | None:
        """``start_date`` as nanoseconds since the epoch (UTC), or None."""
        return None if self.start_date is None else parse_datetime(self.start_date)

    @property
    def end_ns(self) -> int | None:
        """``end_date`` as nanoseconds since the epoch (UTC), or None."""
        return None if self.end_date is None else parse_datetime(self.end_date)


class PositionSizingConfig(FrozenModel):
    """How much a strategy buys per entry; ``method`` picks which amount field applies."""

    method: Literal[
        "fixed_quantity", "percent_equity", "fixed_amount", "fixed_fractional", "atr", "staged"
    ]
    quantity: Annotated[float, Field(gt=0)] | None = Field(default=None, description="base units")
    fraction: Fraction | None = Field(
        default=None,
        description="percent_equity: share of equity; fixed_fractional/atr: equity risked per "
        "trade (divided by the stop distance)",
    )
    amount: Annotated[float, Field(gt=0)] | None = Field(default=None, description="quote currency")
    atr_multiple: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="atr: the stop sits this many ATRs away (default 2)"
    )
    atr_period: Annotated[int, Field(ge=2)] | None = Field(
        default=None, description="atr: ATR bars (default 14)"
    )

    @model_validator(mode="after")
    def _matching_field(self) -> PositionSizingConfig:
        needed = {
            "fixed_quantity": "quantity",
            "percent_equity": "fraction",
            "fixed_amount": "amount",
            "fixed_fractional": "fraction",
            "atr": "fraction",
            "staged": None,
        }
        wanted = needed[self.method]
        if wanted is not None and getattr(self, wanted) is None:
            raise KeyedValueError(wanted, f"is required when method is {self.method}")
        for other in ("quantity", "fraction", "amount"):
            if other != wanted and getattr(self, other) is not None:
                raise KeyedValueError(
                    other,
                    f"is not used by method {self.method}" + (f"; use {wanted}" if wanted else ""),
                )
        for extra in ("atr_multiple", "atr_period"):
            if self.method != "atr" and getattr(self, extra) is not None:
                raise KeyedValueError(extra, f"is only used by method atr, not {self.method}")
        return self

    @property
    def value(self) -> float:
        """The amount that goes with ``method`` (quantity, fraction or amount)."""
        result = {
            "fixed_quantity": self.quantity,
            "percent_equity": self.fraction,
            "fixed_amount": self.amount,
            "fixed_fractional": self.fraction,
            "atr": self.fraction,
            "staged": 0.0,
        }[self.method]
        assert result is not None  # guaranteed by _matching_field
        return result


def _retype(value: object) -> object:
    """Give a whole-value ``${VAR}`` substitution the YAML type its text would have had."""
    if isinstance(value, EnvStr):
        loaded = yaml.safe_load(str(value)) if value.strip() else value
        if isinstance(loaded, int | float | bool):
            return loaded
        return str(value)
    return value


class StrategyConfig(FrozenModel):
    """One strategy instance: which class, its parameters, what it trades and how it sizes."""

    enabled: bool = True
    type: str | None = Field(
        default=None,
        validation_alias=AliasChoices("type", "class"),
        description="strategy class name (seed key `class` also accepted); defaults to the key",
    )
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    symbols: Annotated[tuple[Symbol, ...], AfterValidator(_non_empty), AfterValidator(_unique)] = (
        "BTC/USDT",
    )
    timeframes: Annotated[tuple[Timeframe, ...], AfterValidator(_unique)] = ("5m",)
    quotes: bool = Field(
        default=False,
        description="also replay top-of-book quotes of the symbols (on_quote; matching on them)",
    )
    venue: str | None = Field(default=None, description="default: first enabled exchange, else sim")
    venues: tuple[str, ...] | None = Field(
        default=None,
        description="trade the symbols on each of these venues (cross-venue strategies)",
    )
    position_sizing: PositionSizingConfig = Field(
        default_factory=lambda: PositionSizingConfig(method="percent_equity", fraction=0.1)
    )

    @model_validator(mode="after")
    def _something_to_replay(self) -> StrategyConfig:
        if not self.timeframes and not self.quotes:
            raise KeyedValueError("timeframes", "must list at least one entry (or set quotes)")
        return self

    _lists = field_validator("symbols", "timeframes", mode="before")(_one_or_many)

    @field_validator("parameters", mode="before")
    @classmethod
    def _check_parameters(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            return value
        checked: dict[str, object] = {}
        for key, item in value.items():
            item = [_retype(x) for x in item] if isinstance(item, list) else _retype(item)
            scalar_ok = isinstance(item, ParamScalar)
            list_ok = isinstance(item, list) and all(
                isinstance(x, int | float | str) and not isinstance(x, bool) for x in item
            )
            if not (scalar_ok or list_ok):
                raise KeyedValueError(
                    str(key),
                    "must be a number, true/false, text or a list of numbers or text "
                    f"(got {item!r})",
                )
            checked[key] = item
        return checked


class OrchestratedStrategyConfig(StrategyConfig):
    """A strategy under the orchestrator: a strategy config plus its name and prior weight."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
    allocation_weight: Annotated[float, Field(gt=0)] = 1.0


class OrchestratorConfig(OrchestratorSettings):
    """The ``orchestrator:`` section: its settings and the strategies it allocates across."""

    enabled: bool = True
    strategies: tuple[OrchestratedStrategyConfig, ...] = ()

    _nested = model_validator(mode="before")(flatten_allocation)

    @model_validator(mode="after")
    def _unique_names(self) -> OrchestratorConfig:
        seen: set[str] = set()
        for index, entry in enumerate(self.strategies):
            if entry.name in seen:
                raise KeyedValueError(("strategies", index, "name"), f"{entry.name!r} repeats")
            seen.add(entry.name)
        return self

    @property
    def priors(self) -> dict[str, float]:
        """allocation_weight of every enabled strategy, by name."""
        return {s.name: s.allocation_weight for s in self.strategies if s.enabled}


def _orchestrated_strategies(data: dict[str, Any]) -> None:
    """With ``orchestrator.strategies`` and no ``strategies:``, the strategies to run are the
    orchestrator's (keyed by name); with both, every strategy must be one of its."""
    orchestrator = data.get("orchestrator")
    if not isinstance(orchestrator, Mapping) or not _is_enabled(orchestrator):
        return
    entries = orchestrator.get("strategies")
    if not isinstance(entries, list) or not entries:
        return
    entries = [_named(e) for e in entries]
    data["orchestrator"] = {**orchestrator, "strategies": entries}
    named = {e.get("name"): e for e in entries if isinstance(e, Mapping)}
    current = data.get("strategies")
    if isinstance(current, Mapping) and current:
        for key in current:
            if key not in named:
                raise KeyedValueError(
                    ("strategies", key),
                    "is not in orchestrator.strategies: list every strategy there, "
                    "or run it without the orchestrator",
                )
        return
    data["strategies"] = {
        name: {k: v for k, v in entry.items() if k not in ("name", "allocation_weight")}
        for name, entry in named.items()
        if isinstance(name, str)
    }


def _named(entry: Any) -> Any:
    """An ``orchestrator.strategies`` entry without ``name`` is named by its type's config key
    (``MovingAverageStrategy`` -> ``moving_average``), as the seed guide's short examples are."""
    if not isinstance(entry, Mapping) or "name" in entry or not isinstance(entry.get("type"), str):
        return entry
    from genebot.strategies.registry import BUILTIN_MODULES

    keys = {cls: key for key, _module, cls in BUILTIN_MODULES}
    kind = entry["type"]
    return {**entry, "name": keys.get(kind, kind)}


def _fill_exchange_type(key: str, exchange: object) -> object:
    if isinstance(exchange, Mapping) and exchange.get("exchange_type") is None:
        return {**exchange, "exchange_type": key}
    if isinstance(exchange, ExchangeConfig) and exchange.exchange_type is None:
        return exchange.model_copy(update={"exchange_type": key})
    return exchange


def _is_enabled(section: object) -> bool:
    if isinstance(section, Mapping):
        return section.get("enabled", True) is not False
    return getattr(section, "enabled", True) is not False


def _fill_venue(strategy: object, venue: str) -> object:
    if isinstance(strategy, Mapping) and strategy.get("venue") is None:
        return {**strategy, "venue": venue}
    if isinstance(strategy, StrategyConfig) and strategy.venue is None:
        return strategy.model_copy(update={"venue": venue})
    return strategy


class GenebotConfig(FrozenModel):
    """The whole configuration file. Every section is optional."""

    strategies_path: str | None = Field(
        default=None, description="folder with the user's own strategy files (*.py)"
    )
    exchanges: dict[str, ExchangeConfig] = Field(default_factory=dict)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    strategies: dict[str, StrategyConfig] = Field(default_factory=dict)
    risk_management: RiskManagementConfig = Field(default_factory=RiskManagementConfig)
    orchestrator: OrchestratorConfig | None = None
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    run: RunSectionConfig = Field(default_factory=RunSectionConfig)
    paper: PaperSectionConfig = Field(default_factory=PaperSectionConfig)
    api: ApiSectionConfig = Field(default_factory=ApiSectionConfig)
    live: LiveSectionConfig = Field(default_factory=LiveSectionConfig)
    dry_run: bool = Field(True, description="false (and --live) to send real orders")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    orchestration_alerts: OrchestrationAlertsConfig = Field(
        default_factory=OrchestrationAlertsConfig
    )
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    backup: BackupSectionConfig = Field(default_factory=BackupSectionConfig)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """Default ``exchange_type`` to the exchange key and ``venue`` to the first enabled one."""
        if not isinstance(data, Mapping):
            return data
        data = dict(drop_empty_sections(data))
        _orchestrated_strategies(data)
        default_venue = SIM_VENUE
        exchanges = data.get("exchanges")
        if isinstance(exchanges, Mapping):
            exchanges = {k: {} if v is None else v for k, v in exchanges.items()}
            data["exchanges"] = {k: _fill_exchange_type(str(k), v) for k, v in exchanges.items()}
            enabled = [k for k, v in exchanges.items() if isinstance(k, str) and _is_enabled(v)]
            default_venue = enabled[0] if enabled else SIM_VENUE
        strategies = data.get("strategies")
        if isinstance(strategies, Mapping):
            data["strategies"] = {
                k: _fill_venue({} if v is None else v, default_venue) for k, v in strategies.items()
            }
        return data

    @model_validator(mode="after")
    def _known_venues(self) -> GenebotConfig:
        allowed = [*self.exchanges, SIM_VENUE]
        for name, strategy in self.strategies.items():
            for venue in strategy.venues or ():
                if venue not in allowed:
                    raise KeyedValueError(
                        ("strategies", name, "venues"),
                        f"unknown venue {venue!r}; allowed: {', '.join(allowed)}",
                    )
            if strategy.venue not in allowed:
                raise KeyedValueError(
                    ("strategies", name, "venue"),
                    f"unknown venue {strategy.venue!r}; allowed: {', '.join(allowed)}",
                )
        for index, entry in enumerate(self.backtest.data):
            if entry.venue is not None and entry.venue not in allowed:
                raise KeyedValueError(
                    ("backtest", "data", index, "venue"),
                    f"unknown venue {entry.venue!r}; allowed: {', '.join(allowed)}",
                )
        return self

    @property
    def orchestrated(self) -> bool:
        """True when an enabled ``orchestrator:`` section allocates across the strategies."""
        return self.orchestrator is not None and self.orchestrator.enabled

    @property
    def enabled_strategies(self) -> dict[str, StrategyConfig]:
        """The strategies with ``enabled: true``, in file order."""
        return {name: s for name, s in self.strategies.items() if s.enabled}

    def venue_fees(self, venue: str) -> tuple[float, float]:
        """(maker, taker) fee rates for ``venue``; ``backtest.fee`` overrides both when set."""
        if self.backtest.fee is not None:
            return self.backtest.fee, self.backtest.fee
        exchange = self.exchanges.get(venue)
        if exchange is None:
            default = ExchangeConfig()
            return default.maker_fee, default.taker_fee
        return exchange.maker_fee, exchange.taker_fee
