"""Tests for genebot.config.loader: loading, validation messages, interpolation, overrides."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from genebot.config.loader import (
    GenebotConfig,
    apply_overrides,
    format_validation_error,
    load_config,
    redacted_dict,
)
from genebot.core.errors import ConfigError, InputError
from genebot.orchestrator.settings import ALLOCATION_KEYS, OrchestratorSettings
from genebot.testkit import gbm_bars

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return str(info.value)


BASE = """
exchanges:
  binance: {}
strategies:
  moving_average:
    type: MovingAverageStrategy
    parameters: {short_period: 10, long_period: 20}
    symbols: [BTC/USDT, ETH/USDT]
    timeframes: [5m]
    position_sizing: {method: percent_equity, fraction: 0.45}
  rsi:
    enabled: false
    type: RSIStrategy
    parameters: {period: 14}
    symbols: [ETH/USDT]
    timeframes: [1h]
backtest:
  start_date: 2021-05-01
  end_date: 2021-05-31
"""


@pytest.fixture
def base_cfg(tmp_path: Path) -> GenebotConfig:
    return load_config(write(tmp_path, BASE), env={})


# --- defaults and shipped files -----------------------------------------------------------------


def test_defaults_without_source() -> None:
    cfg = load_config(None)
    assert cfg == GenebotConfig()
    assert cfg.exchanges == {} and cfg.strategies == {}
    bt = cfg.backtest
    assert (bt.initial_cash, bt.fee, bt.slippage_bps) == (100_000, None, 0)
    assert (bt.fill_timing, bt.engine_mode, bt.data_dir) == ("next_open", "auto", "data/sample")
    assert (bt.output_dir, bt.quote_currency, bt.data) == ("backtest_output", "USDT", ())
    assert bt.volume_participation is None and bt.latency_ms == 0
    assert bt.start_date is None and bt.end_ns is None
    rm = cfg.risk_management
    assert rm.global_.max_portfolio_risk == 0.02
    assert rm.global_.position_sizing_method == "fixed_fractional"
    assert rm.stop_loss.enabled and rm.stop_loss.default_percentage == 0.02
    assert rm.take_profit.enabled and rm.take_profit.default_percentage == 0.05
    assert rm.position_limits.max_position_size == 0.10 and rm.position_limits.max_positions == 5
    assert cfg.logging.level == "INFO"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), env={}) == GenebotConfig()


def test_empty_sections_mean_defaults(tmp_path: Path) -> None:
    text = "exchanges:\nbacktest:\nstrategies:\n  ma:\n    parameters:\n"
    text += "risk_management:\n  stop_loss:\n"
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.exchanges == {} and cfg.backtest.initial_cash == 100_000
    assert cfg.strategies["ma"].parameters == {} and cfg.strategies["ma"].venue == "sim"
    assert cfg.risk_management.stop_loss.enabled


def test_section_and_field_defaults(base_cfg: GenebotConfig) -> None:
    binance = base_cfg.exchanges["binance"]
    assert binance.exchange_type == "binance"
    assert (binance.sandbox, binance.rate_limit, binance.timeout, binance.enabled) == (
        True,
        1200,
        30,
        True,
    )
    assert (binance.account_type, binance.maker_fee, binance.taker_fee) == ("spot", 0.001, 0.001)
    assert binance.api_key is None and binance.leverage == 1
    rsi = base_cfg.strategies["rsi"]
    assert rsi.venue == "binance"  # the first enabled exchange
    assert rsi.position_sizing.method == "percent_equity"
    assert rsi.position_sizing.value == 0.1


def test_venue_defaults_to_sim_without_exchanges() -> None:
    cfg = load_config({"strategies": {"ma": {}}})
    assert cfg.strategies["ma"].venue == "sim"
    assert cfg.strategies["ma"].symbols == ("BTC/USDT",)


def test_shipped_backtest_yaml_loads() -> None:
    cfg = load_config(REPO / "config" / "backtest.yaml", env={})
    ma = cfg.strategies["moving_average"]
    assert ma.type == "MovingAverageStrategy"
    assert ma.parameters == {"short_period": 10, "long_period": 20}
    assert ma.symbols == ("BTC/USDT", "ETH/USDT") and ma.timeframes == ("5m",)
    assert (ma.position_sizing.method, ma.position_sizing.fraction) == ("percent_equity", 0.45)
    assert cfg.backtest.initial_cash == 100_000 and cfg.backtest.fee == 0.001
    assert cfg.backtest.fill_timing == "next_open" and cfg.backtest.data_dir == "data/sample"
    assert cfg.risk_management.position_limits.max_position_size >= 0.45


def test_shipped_full_example_loads_with_and_without_secrets() -> None:
    path = REPO / "config" / "example_full.yaml"
    cfg = load_config(path, env={})
    assert cfg.exchanges["binance"].api_key is None  # ${BINANCE_API_KEY:-} → unset
    assert set(cfg.strategies) == {
        "moving_average",
        "rsi_fixed_quantity",
        "mean_reversion_fixed_amount",
        "atr_sized",
        "cross_venue",
    }
    assert cfg.strategies["mean_reversion_fixed_amount"].parameters == {
        "lookback_period": 30,
        "std_dev_threshold": 2.5,
    }
    assert cfg.backtest.data[0].timeframe == "5m"
    assert cfg.risk_management.global_.max_drawdown == 0.15
    cfg = load_config(path, env={"BINANCE_API_KEY": "k-123"})
    assert cfg.exchanges["binance"].api_key is not None
    assert cfg.exchanges["binance"].api_key.get_secret_value() == "k-123"


def test_full_example_mentions_every_key() -> None:
    text = (REPO / "config" / "example_full.yaml").read_text(encoding="utf-8")
    models = [GenebotConfig]
    seen: set[type] = set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            nested = {flat: key for key, flat in ALLOCATION_KEYS.items()}  # allocation.<key>
            if issubclass(model, OrchestratorSettings) and name in nested:
                key = nested[name]
            assert f"{key}:" in text, f"{model.__name__}.{name} missing"
            for arg in _model_args(field.annotation):
                models.append(arg)


def _model_args(annotation: object) -> list[type]:
    import typing

    from pydantic import BaseModel

    found: list[type] = []
    stack = [annotation]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found.append(tp)
        stack.extend(typing.get_args(tp))
    return found


def test_config_is_frozen(base_cfg: GenebotConfig) -> None:
    with pytest.raises(ValidationError):
        base_cfg.backtest.initial_cash = 5  # type: ignore[misc]


def test_mapping_and_instance_sources(base_cfg: GenebotConfig) -> None:
    assert load_config(base_cfg) is base_cfg
    cfg = load_config({"backtest": {"fee": "${FEE}"}}, env={"FEE": "0.002"})
    assert cfg.backtest.fee == 0.002


def test_yaml_dates_and_seed_class_alias(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
            backtest: {start_date: 2021-05-01, end_date: "2021-05-02T12:00:00Z"}
            strategies:
              ma: {class: MovingAverageStrategy, symbols: BTC/USDT, timeframes: 1h}
            logging: {level: debug}
            """,
        ),
        env={},
    )
    assert cfg.backtest.start_date == "2021-05-01"
    assert cfg.backtest.start_ns == 1_619_827_200 * 10**9
    assert cfg.backtest.end_ns == (1_619_827_200 + 36 * 3600) * 10**9
    assert cfg.strategies["ma"].type == "MovingAverageStrategy"
    assert cfg.strategies["ma"].symbols == ("BTC/USDT",)
    assert cfg.logging.level == "DEBUG"


def test_venue_fees_with_and_without_backtest_fee() -> None:
    cfg = load_config({"exchanges": {"kraken": {"maker_fee": 0.0002, "taker_fee": 0.0005}}})
    assert cfg.venue_fees("kraken") == (0.0002, 0.0005)
    assert cfg.venue_fees("sim") == (0.001, 0.001)
    overridden = load_config({**cfg.model_dump(by_alias=True), "backtest": {"fee": 0.0}})
    assert overridden.venue_fees("kraken") == (0.0, 0.0)


# --- range checks ---------------------------------------------------------------------------------

RANGE_CASES = [
    ("backtest:\n  initial_cash: 0\n", "backtest.initial_cash: must be greater than 0 (got 0)"),
    ("backtest:\n  fee: 0.1\n", "backtest.fee: must be >= 0 and < 0.1 (got 0.1)"),
    ("backtest:\n  fee: -0.001\n", "backtest.fee: must be >= 0 and < 0.1 (got -0.001)"),
    ("backtest:\n  slippage_bps: -1\n", "backtest.slippage_bps: must be >= 0 and < 10000 (got -1)"),
    ("backtest:\n  latency_ms: -5\n", "backtest.latency_ms: must be greater than or equal to 0"),
    (
        "backtest:\n  volume_participation: 1.5\n",
        "backtest.volume_participation: must be > 0 and <= 1 (got 1.5)",
    ),
    ("backtest:\n  fill_timing: open\n", "backtest.fill_timing: must be one of 'next_open' or"),
    ("backtest:\n  engine_mode: turbo\n", "backtest.engine_mode: must be one of 'auto', 'per_bar'"),
    ("backtest:\n  start_date: 2021-13-01\n", "backtest.start_date: is not a valid ISO-8601 date"),
    (
        "backtest:\n  start_date: 2021-06-01\n  end_date: 2021-05-01\n",
        "backtest.start_date: start_date 2021-06-01 must be before end_date 2021-05-01",
    ),
    (
        "exchanges:\n  binance:\n    maker_fee: 0.5\n",
        "exchanges.binance.maker_fee: must be >= 0 and < 0.1 (got 0.5)",
    ),
    (
        "exchanges:\n  binance:\n    rate_limit: 0\n",
        "exchanges.binance.rate_limit: must be greater than 0 (got 0)",
    ),
    (
        "exchanges:\n  binance:\n    account_type: futures\n",
        "exchanges.binance.account_type: must be one of 'spot' or 'margin' (got 'futures')",
    ),
    (
        "exchanges:\n  binance:\n    leverage: 3\n",
        "exchanges.binance.leverage: must be 1 for a spot account",
    ),
    (
        "exchanges:\n  binance:\n    account_type: margin\n    margin_requirement: 0\n",
        "exchanges.binance.margin_requirement: must be > 0 and <= 1 (got 0)",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: fixed_quantity, quantity: -1}\n",
        "strategies.ma.position_sizing.quantity: must be greater than 0 (got -1)",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: fixed_quantity}\n",
        "strategies.ma.position_sizing.quantity: is required when method is fixed_quantity",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: percent_equity, fraction: 2}\n",
        "strategies.ma.position_sizing.fraction: must be > 0 and <= 1 (got 2)",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: fixed_amount, amount: 0}\n",
        "strategies.ma.position_sizing.amount: must be greater than 0 (got 0)",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: fixed_amount, amount: 5, "
        "fraction: 0.1}\n",
        "strategies.ma.position_sizing.fraction: is not used by method fixed_amount; use amount",
    ),
    (
        "strategies:\n  ma:\n    position_sizing: {method: kelly}\n",
        "strategies.ma.position_sizing.method: must be one of 'fixed_quantity', 'percent_equity'",
    ),
    (
        "strategies:\n  ma:\n    symbols: [BTCUSDT]\n",
        "strategies.ma.symbols[0]: must look like BASE/QUOTE, for example BTC/USDT (got 'BTCUSDT')",
    ),
    ("strategies:\n  ma:\n    symbols: []\n", "strategies.ma.symbols: must list at least one"),
    ("strategies:\n  ma:\n    timeframes: [5x]\n", "strategies.ma.timeframes[0]: is not a valid"),
    (
        "strategies:\n  ma:\n    parameters: {a: {b: 1}}\n",
        "strategies.ma.parameters.a: must be a number, true/false, text or a list",
    ),
    (
        "strategies:\n  ma:\n    venue: kraken\n",
        "strategies.ma.venue: unknown venue 'kraken'; allowed: sim",
    ),
    (
        "risk_management:\n  global:\n    max_portfolio_risk: 0\n",
        "risk_management.global.max_portfolio_risk: must be > 0 and <= 1 (got 0)",
    ),
    (
        "risk_management:\n  global:\n    position_sizing_method: martingale\n",
        "risk_management.global.position_sizing_method: must be one of 'fixed_fractional'",
    ),
    (
        "risk_management:\n  stop_loss:\n    default_percentage: 1.5\n",
        "risk_management.stop_loss.default_percentage: must be > 0 and <= 1 (got 1.5)",
    ),
    (
        "risk_management:\n  position_limits:\n    max_positions: 0\n",
        "risk_management.position_limits.max_positions: must be greater than or equal to 1",
    ),
    ("logging:\n  level: LOUD\n", "logging.level: must be one of 'DEBUG'"),
    ("backtest: 5\n", "backtest: must be a mapping of keys to values (got 5)"),
    ("backtest:\n  initial_cash: yes\n", "backtest.initial_cash: must be a number (got true)"),
    ("backtest:\n  data: {file: a.csv}\n", "backtest.data: must be a list (got {'file': 'a.csv'})"),
    ("strategies:\n  1: {}\n", "strategies: key 1 must be text (quote it in YAML)"),
    ("backtest:\n  initial_cash: lots\n", "backtest.initial_cash: must be a valid number"),
    (
        "backtest:\n  data:\n    - {symbol: BTC/USDT}\n",
        "backtest.data[0].file: is required",
    ),
    (
        "backtest:\n  rollover: {timezone: Nowhere/Foo}\n",
        "backtest.rollover.timezone: is not a known time zone: use an IANA name",
    ),
    (
        "backtest:\n  rollover: {timezone: America}\n",  # a folder of zones, not a zone
        "backtest.rollover.timezone: is not a known time zone: use an IANA name",
    ),
    ("backtest:\n  on_broken: drop\n", "backtest.on_broken: must be one of 'fail' or 'warn'"),
]


@pytest.mark.parametrize(("text", "expected"), RANGE_CASES)
def test_range_checks_name_key_path_and_value(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text)
    assert f"{tmp_path / 'config.yaml'}: {expected}" in message
    assert "Traceback" not in message


def test_all_problems_reported_one_per_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "backtest:\n  initial_cash: -1\n  fee: 1\n  latency_ms: -1\n")
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / 'config.yaml'}: backtest.") for line in lines)


# --- unknown keys ---------------------------------------------------------------------------------

UNKNOWN_CASES = [
    (
        "backtesting: {}\n",
        "backtesting",
        "strategies_path, exchanges, backtest, strategies, risk_management, orchestrator, logging",
    ),
    ("backtest:\n  inital_cash: 5\n", "backtest.inital_cash", "initial_cash, fee, slippage_bps"),
    (
        "exchanges:\n  binance:\n    apikey: x\n",
        "exchanges.binance.apikey",
        "exchange_type, api_key",
    ),
    ("strategies:\n  ma:\n    symbol: [BTC/USDT]\n", "strategies.ma.symbol", "enabled, type"),
    (
        "strategies:\n  ma:\n    position_sizing: {method: fixed_quantity, quantity: 1, qty: 2}\n",
        "strategies.ma.position_sizing.qty",
        "method, quantity, fraction, amount",
    ),
    (
        "risk_management:\n  stop_loss:\n    trailing: true\n",
        "risk_management.stop_loss.trailing",
        "enabled, default_percentage, trailing_stop, trailing_percentage",
    ),
    ("risk_management:\n  globals: {}\n", "risk_management.globals", "enabled, global, stop_loss"),
    (
        "backtest:\n  data:\n    - {file: a.csv, symbol: BTC/USDT, tf: 5m}\n",
        "backtest.data[0].tf",
        "file, symbol, timeframe, venue",
    ),
]


@pytest.mark.parametrize(("text", "path", "allowed"), UNKNOWN_CASES)
def test_unknown_keys_rejected_with_allowed_list(
    tmp_path: Path, text: str, path: str, allowed: str
) -> None:
    message = load_error(tmp_path, text)
    assert f"{tmp_path / 'config.yaml'}: {path}: unknown key; allowed: {allowed}" in message


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    message = load_error(tmp_path, "backtest:\n  inital_cash: 5\n")
    assert message.endswith("did you mean initial_cash?")


def test_unknown_key_value_is_not_echoed(tmp_path: Path) -> None:
    message = load_error(tmp_path, "exchanges:\n  binance:\n    secret_key: hunter2\n")
    assert "hunter2" not in message


# --- interpolation --------------------------------------------------------------------------------


def test_env_interpolation_plain_default_and_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        exchanges:
          binance:
            api_key: ${KEY}
            api_secret: ${SECRET:-fallback}
            rate_limit: ${RATE:-600}
        backtest:
          output_dir: out/${RUN:-dev}/results
          data_dir: $${literal}
        strategies:
          ma:
            parameters: {short_period: "${SHORT:-7}", ratio: "${R:-0.5}", name: "${N:-x}"}
        """,
    )
    cfg = load_config(path, env={"KEY": "abc", "RUN": "", "SHORT": "12"})
    binance = cfg.exchanges["binance"]
    assert binance.api_key is not None and binance.api_key.get_secret_value() == "abc"
    assert binance.api_secret is not None and binance.api_secret.get_secret_value() == "fallback"
    assert binance.rate_limit == 600
    assert cfg.backtest.output_dir == "out/dev/results"  # empty RUN uses the default
    assert cfg.backtest.data_dir == "${literal}"
    assert cfg.strategies["ma"].parameters == {"short_period": 12, "ratio": 0.5, "name": "x"}


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENEBOT_TEST_CASH", "2500")
    cfg = load_config(write(tmp_path, "backtest: {initial_cash: '${GENEBOT_TEST_CASH}'}\n"))
    assert cfg.backtest.initial_cash == 2500


def test_missing_env_var_names_var_and_key_path(tmp_path: Path) -> None:
    message = load_error(tmp_path, "exchanges:\n  binance:\n    api_key: ${BINANCE_API_KEY}\n")
    assert message.startswith(f"{tmp_path / 'config.yaml'}: exchanges.binance.api_key: ")
    assert "environment variable BINANCE_API_KEY is not set" in message


def test_malformed_reference_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, "backtest:\n  data_dir: ${not valid}\n")
    assert "backtest.data_dir: malformed variable reference" in message
    message = load_error(tmp_path, "backtest:\n  data_dir: ${OPEN\n")
    assert "backtest.data_dir: malformed variable reference" in message


def test_interpolated_value_is_validated(tmp_path: Path) -> None:
    message = load_error(tmp_path, "backtest: {fee: '${FEE}'}\n", env={"FEE": "0.5"})
    assert "backtest.fee: must be >= 0 and < 0.1" in message


# --- file problems --------------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "backtest:\n  initial_cash: 5\n  fee 0.1\nlogging: {}\n")
    assert message.startswith(str(tmp_path / "config.yaml"))
    assert "line 4" in message and "invalid YAML" in message
    assert len(message.splitlines()) == 1


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, "exchanges:\n  binance: {}\n  binance: {}\n")
    assert "line 3" in message and "duplicate key 'binance' (first given on line 2)" in message


def test_missing_file_directory_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    message = load_error(tmp_path, "- a\n- b\n")
    assert "top level must be a mapping" in message and "got list" in message


def test_a_malformed_reference_in_a_secret_does_not_echo_it(tmp_path: Path) -> None:
    message = load_error(tmp_path, "exchanges:\n  binance:\n    api_key: ${SUPERSECRET123\n")
    assert "exchanges.binance.api_key: malformed variable reference; use ${NAME}" in message
    assert "SUPERSECRET123" not in message


def test_config_error_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_config(tmp_path / "nope.yaml")


def test_format_validation_error_directly() -> None:
    with pytest.raises(ValidationError) as info:
        GenebotConfig.model_validate({"backtest": {"initial_cash": -1, "x": 1}})
    text = format_validation_error(info.value, "my.yaml")
    assert text.splitlines() == [
        "my.yaml: backtest.initial_cash: must be greater than 0 (got -1)",
        "my.yaml: backtest.x: unknown key; allowed: initial_cash, fee, slippage_bps, "
        "slippage_model, price_impact, fill_timing, engine_mode, start_date, end_date, "
        "data_dir, output_dir, quote_currency, data, on_broken, on_gap, quotes, "
        "volume_participation, latency_ms, interest_rates, rates_file, rollover",
    ]


# --- overrides ------------------------------------------------------------------------------------


def test_no_overrides_returns_equal_config(base_cfg: GenebotConfig) -> None:
    assert apply_overrides(base_cfg) == base_cfg


def test_scalar_overrides(base_cfg: GenebotConfig) -> None:
    cfg = apply_overrides(
        base_cfg,
        start_date="2021-05-02",
        end_date="2021-05-20T00:00:00Z",
        data_dir="other/data",
        output_dir="out",
        fee=0.002,
        initial_cash=5000,
        engine_mode="per_bar",
    )
    bt = cfg.backtest
    assert (bt.start_date, bt.end_date) == ("2021-05-02", "2021-05-20T00:00:00Z")
    assert (bt.data_dir, bt.output_dir, bt.fee, bt.initial_cash) == (
        "other/data",
        "out",
        0.002,
        5000,
    )
    assert bt.engine_mode == "per_bar"
    assert base_cfg.backtest.fee is None  # the original is untouched


def test_strategy_override_enables_only_that_one(base_cfg: GenebotConfig) -> None:
    cfg = apply_overrides(base_cfg, strategy="rsi")
    assert {k: s.enabled for k, s in cfg.strategies.items()} == {
        "moving_average": False,
        "rsi": True,
    }
    by_class = apply_overrides(base_cfg, strategy="RSIStrategy")
    assert list(by_class.enabled_strategies) == ["rsi"]


def test_strategy_override_adds_missing_strategy(base_cfg: GenebotConfig) -> None:
    cfg = apply_overrides(base_cfg, strategy="bollinger")
    new = cfg.strategies["bollinger"]
    assert list(cfg.enabled_strategies) == ["bollinger"]
    assert new.parameters == {} and new.type is None and new.venue == "binance"
    assert new.symbols == ("BTC/USDT", "ETH/USDT") and new.timeframes == ("5m",)  # first strategy
    flagged = apply_overrides(base_cfg, strategy="bollinger", symbols=["SOL/USDT"], timeframe="1h")
    assert flagged.strategies["bollinger"].symbols == ("SOL/USDT",)
    assert flagged.strategies["bollinger"].timeframes == ("1h",)
    fresh = apply_overrides(GenebotConfig(), strategy="ma")
    assert fresh.strategies["ma"].symbols == ("BTC/USDT",) and fresh.strategies["ma"].venue == "sim"


def test_strategies_override_selects_several(base_cfg: GenebotConfig) -> None:
    cfg = apply_overrides(base_cfg, strategies=["rsi", "moving_average"])
    assert set(cfg.enabled_strategies) == {"rsi", "moving_average"}


def test_symbols_and_timeframe_replace_on_enabled_strategies(base_cfg: GenebotConfig) -> None:
    cfg = apply_overrides(base_cfg, symbols=["SOL/USDT"], timeframe="15m")
    assert cfg.strategies["moving_average"].symbols == ("SOL/USDT",)
    assert cfg.strategies["moving_average"].timeframes == ("15m",)
    assert cfg.strategies["rsi"].symbols == ("ETH/USDT",)  # disabled: untouched


def test_data_file_override(base_cfg: GenebotConfig, tmp_path: Path) -> None:
    """Without --timeframe the file's own timeframe is read from it, and the strategies trade it."""
    path = tmp_path / "btc.csv"
    gbm_bars(50, freq="1h").to_csv(path)
    cfg = apply_overrides(base_cfg, data_file=str(path))
    assert len(cfg.backtest.data) == 1
    entry = cfg.backtest.data[0]
    assert (entry.file, entry.symbol, entry.timeframe) == (str(path), "BTC/USDT", "1h")
    assert cfg.strategies["moving_average"].timeframes == ("1h",)
    cfg = apply_overrides(base_cfg, data_file="eth.csv", symbols=["ETH/USDT"], timeframe="1m")
    entry = cfg.backtest.data[0]
    assert (entry.file, entry.symbol, entry.timeframe) == ("eth.csv", "ETH/USDT", "1m")


def test_data_file_is_the_only_data_of_the_run(base_cfg: GenebotConfig, tmp_path: Path) -> None:
    """A config trading two symbols, given one file: its symbol is the only one traded."""
    path = tmp_path / "btc.csv"
    gbm_bars(50, freq="5min").to_csv(path)
    two = apply_overrides(base_cfg, symbols=["BTC/USDT", "ETH/USDT"])
    cfg = apply_overrides(two, data_file=str(path))
    assert cfg.strategies["moving_average"].symbols == ("BTC/USDT",)
    with pytest.raises(ConfigError, match=r"--symbols names 2: BTC/USDT, ETH/USDT; name one"):
        apply_overrides(base_cfg, data_file=str(path), symbols=["BTC/USDT", "ETH/USDT"])


@pytest.mark.parametrize("key", ["symbols", "timeframes"])
def test_a_symbol_or_timeframe_listed_twice_is_refused(key: str) -> None:
    values = {"symbols": ["BTC/USDT", "ETH/USDT", "BTC/USDT"], "timeframes": ["5m", "5m"]}[key]
    with pytest.raises(ConfigError, match=rf"strategies\.ma\.{key}: lists .* more than once"):
        load_config({"strategies": {"ma": {"type": "moving_average", key: values}}})


BAD_OVERRIDES = [
    ({"fee": 2.0}, "--fee 2: must be >= 0 and < 0.1"),
    ({"initial_cash": -5.0}, "--initial-cash -5: must be greater than 0"),
    ({"engine_mode": "turbo"}, "--engine-mode turbo: must be one of 'auto', 'per_bar' or 'fast'"),
    ({"start_date": "garbage"}, "--start-date garbage: is not a valid ISO-8601 date"),
    ({"end_date": "2021-04-01"}, "--end-date 2021-04-01: start_date 2021-05-01 must be before"),
    ({"timeframe": "7q"}, "--timeframe 7q: is not a valid timeframe"),
    ({"symbols": ["BTCUSDT"]}, "--symbols BTCUSDT: must look like BASE/QUOTE"),
    ({"symbols": []}, "--symbols: must name at least one symbol"),
    ({"strategy": ""}, "--strategy '': must name a strategy"),
    ({"strategies": []}, "--strategies: must name at least one strategy"),
    ({"data_dir": ""}, "--data-dir '': must not be empty"),
    ({"output_dir": ""}, "--output-dir '': must not be empty"),
    ({"data_file": ""}, "--data-file '': must not be empty"),
]


@pytest.mark.parametrize(("kwargs", "expected"), BAD_OVERRIDES)
def test_bad_override_names_the_flag(
    base_cfg: GenebotConfig, kwargs: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(base_cfg, **kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(expected)


# --- secrets --------------------------------------------------------------------------------------

SECRETS = {"BINANCE_API_KEY": "key-7f3a9", "BINANCE_API_SECRET": "sec-b41c2", "PP": "pp-99d1"}


def test_secrets_never_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        exchanges:
          binance:
            api_key: ${BINANCE_API_KEY}
            api_secret: ${BINANCE_API_SECRET}
            passphrase: ${PP}
        """,
    )
    cfg = load_config(path, env=SECRETS)
    shown = redacted_dict(cfg)
    dumped = json.dumps(shown) + yaml.safe_dump(shown)
    for text in (repr(cfg), str(cfg), dumped, repr(cfg.exchanges), str(cfg.exchanges["binance"])):
        for secret in SECRETS.values():
            assert secret not in text
    assert shown["exchanges"]["binance"]["api_key"] == "***"
    assert shown["exchanges"]["binance"]["passphrase"] == "***"
    assert cfg.exchanges["binance"].api_secret is not None
    assert cfg.exchanges["binance"].api_secret.get_secret_value() == "sec-b41c2"
    overridden = apply_overrides(cfg, fee=0.002)  # secrets survive a round trip
    assert overridden.exchanges["binance"].api_key == cfg.exchanges["binance"].api_key


def test_secret_not_echoed_in_validation_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, "exchanges:\n  binance:\n    api_key: 987654321\n")
    assert "exchanges.binance.api_key: must be a valid string (got ***)" in message
    assert "987654321" not in message


def test_redacted_dict_is_plain_data(base_cfg: GenebotConfig) -> None:
    shown = redacted_dict(base_cfg)
    assert shown["risk_management"]["global"]["max_portfolio_risk"] == 0.02
    assert shown["strategies"]["moving_average"]["symbols"] == ["BTC/USDT", "ETH/USDT"]
    assert shown["exchanges"]["binance"]["api_key"] is None
    assert load_config(shown) == base_cfg  # round-trips
