"""``config validate`` and ``config-help`` (issue 13 §2): the seed user guide's YAML examples
validate and mean what the guide says; every problem names file, line, key path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from genebot.config.check import SECTIONS, check_files, config_template, validate_file
from genebot.config.loader import load_config
from genebot.core.errors import ConfigError

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed_000"
SEED_FILES = sorted(SEED.glob("*.yaml"))
ENV = {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_every_seed_example_validates(path: Path) -> None:
    assert validate_file(path) == []
    load_config(path, env=ENV)  # and loads as a run would


def test_seed_files_are_all_there() -> None:
    assert len(SEED_FILES) == 12


def test_nested_orchestrator_means_what_the_guide_says() -> None:
    cfg = load_config(SEED / "orchestrator.yaml", env={})
    orch = cfg.orchestrator
    assert orch is not None
    assert (orch.allocation_method, orch.rebalance_frequency) == ("performance_based", "daily")
    assert (orch.min_allocation, orch.max_allocation) == (0.01, 0.25)
    assert orch.risk.max_portfolio_drawdown == 0.10 and orch.risk.position_size_limit == 0.05
    assert orch.risk.max_strategy_correlation == 0.80 and orch.risk.stop_loss_threshold == 0.02
    assert orch.priors == {"ma_short": 1.0, "rsi_oversold": 1.0}
    assert set(cfg.strategies) == {"ma_short", "rsi_oversold"}  # the strategies that run
    assert cfg.strategies["ma_short"].parameters["short_period"] == 10


def test_full_seed_orchestrator_lists_every_strategy() -> None:
    cfg = load_config(SEED / "orchestrator_full.yaml", env={})
    assert cfg.orchestrator is not None and len(cfg.orchestrator.strategies) == 11
    assert cfg.strategies["carry_trade"].type == "ForexCarryTradeStrategy"


def test_seed_alerts_are_parsed_rules() -> None:
    cfg = load_config(SEED / "alerting.yaml", env={})
    rules = {r.name: r for r in cfg.alerting.rules}
    assert rules["high_loss"].condition == "daily_pnl < -0.03"
    assert rules["high_loss"].severity == "critical"
    cfg = load_config(SEED / "orchestration_alerts.yaml", env={})
    alerts = cfg.orchestration_alerts
    assert alerts.allocation_change is not None and alerts.allocation_change.threshold == 0.05
    assert alerts.performance_degradation is not None
    assert alerts.performance_degradation.lookback_days == 7


def test_seed_exchange_keys_come_from_the_environment() -> None:
    cfg = load_config(SEED / "exchanges.yaml", env=ENV)
    binance = cfg.exchanges["binance"]
    assert binance.sandbox is True and binance.api_key is not None
    assert binance.api_key.get_secret_value() == "k"
    assert validate_file(SEED / "exchanges.yaml") == []  # unset variables do not fail validation


def test_an_unnamed_orchestrated_strategy_is_named_by_its_type() -> None:
    cfg = load_config(SEED / "disable_orchestrated.yaml", env={})
    assert cfg.orchestrator is not None
    (entry,) = cfg.orchestrator.strategies
    assert (entry.name, entry.enabled) == ("moving_average", False)


def test_flat_allocation_keys_stay_an_alias() -> None:
    cfg = load_config({"orchestrator": {"allocation_method": "risk_parity"}})
    assert cfg.orchestrator is not None and cfg.orchestrator.allocation_method == "risk_parity"


def test_nested_and_flat_together_is_refused(tmp_path: Path) -> None:
    text = "orchestrator:\n  allocation_method: risk_parity\n  allocation:\n    method: x\n"
    (line,) = validate_file(_write(tmp_path, text))
    assert ":4: orchestrator.allocation.method: is also given as allocation_method" in line


BAD = """\
risk_managment:
  max_daily_loss: 0.05
orchestrator:
  allocation:
    methd: equal_weight
  risk:
    max_portfolio_drawdwn: 0.1
  strategies:
    - type: MovingAverageStrategy
      name: ma
      paramters: {short_period: 10}
    - type: RSIStrateg
      name: rsi
alerting:
  rules:
    - name: x
      condition: "daily_pnll < 3"
      severity: critcal
"""


def test_every_problem_with_line_path_and_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD)
    problems = validate_file(path)
    text = "\n".join(problems)
    assert (
        f"{path}:1: risk_managment: unknown key" in text and "did you mean risk_management" in text
    )
    assert f"{path}:5: orchestrator.allocation.methd: unknown key" in text
    assert "did you mean 'method'" in text
    assert f"{path}:11: orchestrator.strategies[0].paramters: unknown key" in text
    assert "did you mean parameters?" in text
    assert f"{path}:17: alerting.rules[0].condition: unknown metric 'daily_pnll'" in text
    assert "did you mean daily_pnl?" in text
    assert f"{path}:18: alerting.rules[0].severity: must be one of" in text and "'critcal'" in text
    assert not any(line.startswith(f"{path}:1: strategies.") for line in problems)  # no copies


def test_strategy_class_and_parameter_bounds_are_checked(tmp_path: Path) -> None:
    text = (
        "strategies:\n"
        "  ma:\n"
        "    type: MovingAverageStrategy\n"
        "    parameters:\n"
        "      short_period: 30\n"
        "      long_period: 20\n"
        "  rsi:\n"
        "    type: RSIStrateg\n"
    )
    problems = validate_file(_write(tmp_path, text))
    assert any(":5: strategies.ma.parameters.short_period" in p for p in problems), problems
    assert any(":8: strategies.rsi.type: unknown strategy 'RSIStrateg'" in p for p in problems)
    assert any("did you mean RSIStrategy?" in p for p in problems)


def test_orchestrated_parameter_problem_points_at_its_entry(tmp_path: Path) -> None:
    text = (
        "orchestrator:\n  strategies:\n    - type: RSIStrategy\n      name: rsi\n"
        "      parameters:\n        rsi_period: 14\n"
    )
    (line,) = validate_file(_write(tmp_path, text))
    assert ":6: orchestrator.strategies[0].parameters.rsi_period: unknown parameter" in line


def test_syntax_errors_and_files_that_are_not_there(tmp_path: Path) -> None:
    broken = _write(tmp_path, "backtest:\n  fee: [0.1\n")
    lines, ok = check_files([broken, tmp_path / "missing.yaml", SEED / "strategies.yaml"])
    assert not ok
    assert str(broken) in lines[0] and "line" in lines[0]
    assert "missing.yaml" in lines[1]
    assert lines[2] == f"{SEED / 'strategies.yaml'}: OK"


def test_partial_files_are_fine(tmp_path: Path) -> None:
    assert validate_file(_write(tmp_path, "logging:\n  level: DEBUG\n")) == []
    assert validate_file(_write(tmp_path, "")) == []


@pytest.mark.parametrize("section", [None, *SECTIONS])
def test_config_help_templates_validate(tmp_path: Path, section: str | None) -> None:
    text = config_template(section)
    assert validate_file(_write(tmp_path, text)) == [], text


def test_config_help_is_annotated() -> None:
    text = config_template("orchestrator")
    assert "allocation:" in text and "method: equal_weight" in text
    assert "one of equal_weight | performance_based | risk_parity" in text
    assert "must be >= 2, <= 3650" in text


def test_config_help_unknown_section_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'orchestrator'"):
        config_template("orchestratr")
