"""``genebot optimize orchestration``: search the orchestrator's settings.

The ranges file names settings by their place in the config file (``orchestrator.`` may be left
out), with a range or a list of choices as for strategy parameters::

    allocation.method: [equal_weight, risk_parity, sharpe_ratio]
    allocation.lookback_days: {low: 7, high: 28, step: 7}
    orchestrator.allocation.max_allocation: {low: 0.3, high: 0.6, step: 0.1}

Each trial writes its values into the config file's mapping and validates the whole config, so
every setting keeps its own checks: a value the config refuses (min above max ...) makes the
trial infeasible (pruned and marked), not a crash. A key the config does not know is refused up
front, naming the file, the key and the config's message.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genebot.backtest.batch import BatchRunner
from genebot.config.loader import GenebotConfig, load_config
from genebot.core.errors import ConfigError, InputError
from genebot.optimize.ranges import Range, parse_range, read_ranges_file
from genebot.optimize.study import Objective, StudySpec
from genebot.trading.params import Param

PREFIX = "orchestrator."


def with_values(raw: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the config mapping with each dotted path set to its value."""
    data: dict[str, Any] = copy.deepcopy(dict(raw))
    for path, value in values.items():
        node = data
        *parents, last = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[last] = value
    return data


def _current(raw: Mapping[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def load_orchestration_ranges(path: Path, raw: Mapping[str, Any]) -> dict[str, Range]:
    """The file's ranges, keyed by full dotted path; each key checked against the config."""
    spec = read_ranges_file(path)
    if not isinstance(spec, Mapping) or not spec:
        raise InputError(
            f"{path}: expected a mapping of orchestrator setting → {{low, high, step}} or a "
            "list of choices, e.g. allocation.lookback_days: {low: 7, high: 28, step: 7}"
        )
    ranges: dict[str, Range] = {}
    for key, entry in spec.items():
        name = str(key) if str(key).startswith(PREFIX) else PREFIX + str(key)
        current = _current(raw, name)
        if isinstance(entry, list) and entry:
            sample = entry[0]
        elif isinstance(entry, Mapping):
            sample = entry.get("low")
        else:
            sample = None
        default = current if isinstance(current, int | float | str) else sample
        if isinstance(default, int) and isinstance(sample, float):
            default = float(default)  # an integer in the file, a fractional range
        r = parse_range(path, str(key), entry, Param(default))
        ranges[name] = Range(name, r.low, r.high, r.step, r.integer, r.choices)
        first = r.choices[0] if r.choices is not None else _typed(r.low, r.integer)
        try:
            load_config(with_values(raw, {name: first}))
        except ConfigError as exc:
            line = str(exc).splitlines()[-1].strip()
            raise InputError(f"{path}: {key}: the config refuses {first!r}: {line}") from None
    return ranges


def _typed(value: float | None, integer: bool) -> Any:
    return int(value) if integer and value is not None else value


class OrchestrationObjective(Objective):
    """Trials over orchestrator settings: each candidate is the whole config, validated."""

    def __init__(self, spec: StudySpec, runner: BatchRunner) -> None:
        super().__init__(spec, runner)
        if spec.raw is None:
            raise InputError("orchestration study without its config mapping")
        self.raw = spec.raw

    def candidate(self, params: Mapping[str, Any]) -> GenebotConfig:
        return load_config(with_values(self.raw, params))  # ConfigError: infeasible
