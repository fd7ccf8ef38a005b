"""The optimizer's search space: declared ``Param(opt=...)`` ranges and the YAML override file."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from genebot.core.errors import InputError
from genebot.optimize.ranges import Range, declared_ranges, load_ranges
from genebot.optimize.study import parse_metrics, storage_url, suggest
from genebot.strategies.moving_average import MovingAverageStrategy
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

PARAMS = MovingAverageStrategy.parameters


class _Mixed(Strategy):
    name = "mixed_for_ranges"
    period = Param(14, min=2, max=100, opt=(5, 30, 5))
    level = Param(0.5, min=0.0, max=1.0, opt=(0.1, 0.9, 0.1))
    mode = Param("fast", choices=("fast", "slow"))
    fixed = Param(3, min=1)  # no opt: not searched


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ranges.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_declared_ranges_come_from_param_opt_and_choices() -> None:
    ranges = declared_ranges(PARAMS)
    assert ranges["short_period"] == Range("short_period", 5, 50, 1, integer=True)
    assert ranges["long_period"] == Range("long_period", 10, 200, 5, integer=True)
    mixed = declared_ranges(_Mixed.parameters)
    assert set(mixed) == {"period", "level", "mode"}
    assert mixed["level"].integer is False
    assert mixed["mode"].choices == ("fast", "slow")
    assert mixed["period"].size() == 6


def test_file_overrides_declared_ranges_and_keeps_the_others(tmp_path: Path) -> None:
    path = _file(tmp_path, "short_period: {low: 3, high: 9, step: 2}\n")
    ranges = load_ranges(path, "moving_average", PARAMS)
    assert ranges["short_period"] == Range("short_period", 3, 9, 2, integer=True)
    assert ranges["long_period"] == declared_ranges(PARAMS)["long_period"]


def test_file_step_defaults_to_the_declared_step_and_lists_are_choices(tmp_path: Path) -> None:
    path = _file(tmp_path, "long_period: {low: 20, high: 60}\nshort_period: [4, 8]\n")
    ranges = load_ranges(path, "moving_average", PARAMS)
    assert ranges["long_period"].step == 5
    assert ranges["short_period"].choices == (4, 8)


def test_file_may_nest_ranges_under_the_strategy_name(tmp_path: Path) -> None:
    path = _file(tmp_path, "moving_average:\n  short_period: {low: 6, high: 7}\n")
    assert load_ranges(path, "moving_average", PARAMS)["short_period"].low == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shortt: {low: 1, high: 5}\n", "shortt: not a parameter of moving_average"),
        ("short_period: {low: 9, high: 3}\n", "short_period: low=9 is above high=3"),
        ("short_period: {low: x, high: 3}\n", "short_period: low='x' must be a number"),
        ("short_period: {low: 1}\n", "short_period: high is missing"),
        ("short_period: {low: 1, high: 5, stp: 1}\n", "short_period: unknown key stp"),
        ("short_period: {low: 1, high: 5, step: 0}\n", "short_period: step=0 must be above 0"),
        ("short_period: {low: 1.5, high: 5}\n", "must be whole numbers"),
        ("short_period: {low: 0, high: 5}\n", "low=0 is below the parameter's minimum 1"),
        ("short_period: []\n", "short_period: the list of choices is empty"),
        ("short_period: [3, 3]\n", "a choice is listed twice"),
        ("short_period: [0]\n", "short_period=0 is below the minimum 1"),
        ("short_period: 7\n", "short_period: 7 is not a range"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("short_period: {low: [\n", "not valid YAML (line"),
    ],
)
def test_bad_file_names_file_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_ranges(path, "moving_average", PARAMS)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_ranges(tmp_path / "nope.yaml", "moving_average", PARAMS)


def test_numeric_range_for_a_text_parameter_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "mode: {low: 1, high: 2}\n")
    with pytest.raises(InputError, match="give a list of choices"):
        load_ranges(path, "mixed_for_ranges", _Mixed.parameters)


def test_suggested_values_stay_on_the_grid() -> None:
    ranges = {
        "period": Range("period", 5, 31, 5, integer=True),  # 31 is off the grid: top is 30
        "level": Range("level", 0.1, 0.9, 0.1),
        "mode": Range("mode", choices=("fast", "slow")),
    }
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = []
    for _ in range(30):
        trial = study.ask()
        values = suggest(trial, ranges)
        study.tell(trial, 0.0)
        seen.append(values)
    assert {v["period"] for v in seen} <= {5, 10, 15, 20, 25, 30}
    assert all(isinstance(v["period"], int) for v in seen)
    assert all(0.1 - 1e-9 <= v["level"] <= 0.9 + 1e-9 for v in seen)
    assert {v["mode"] for v in seen} <= {"fast", "slow"}


def test_metrics_are_checked_and_postgres_urls_use_psycopg3() -> None:
    assert parse_metrics("sharpe, max_drawdown") == ("sharpe", "max_drawdown")
    with pytest.raises(InputError, match="unknown metric"):
        parse_metrics("sharp")
    with pytest.raises(InputError, match="twice"):
        parse_metrics("sharpe,sharpe")
    assert storage_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert storage_url("sqlite:///x.db") == "sqlite:///x.db"
