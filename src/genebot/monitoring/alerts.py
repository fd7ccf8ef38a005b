"""The alert engine: the config's ``alerting.rules`` over live metrics, and the built-in
events (kill switch tripped or reset, risk halt, emergency stop, order rejected, stale data,
a restart after a crash, books that disagree with the exchange).

Pure: the runner gives it metric values and journal entries and acts on what it returns (an
alert to record and notify, and an optional action). A rule fires when its condition holds and
its cool-down has passed since it last fired; it fires again after the cool-down while the
condition still holds. Messages may name metrics in braces (``"drawdown at {drawdown:.1%}"``).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from genebot.monitoring.conditions import Node, evaluate, parse_condition, render

SEVERITIES = ("info", "warning", "error", "critical")


class RuleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def condition(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def cooldown_s(self) -> float: ...
    @property
    def channels(self) -> tuple[str, ...]: ...
    @property
    def action(self) -> str | None: ...


@dataclass(frozen=True)
class Fired:
    rule: str
    severity: str  # info | warning | error | critical
    message: str
    action: str | None = None  # pause_deployment | emergency_stop
    channels: tuple[str, ...] = ()
    values: dict[str, float | None] = field(default_factory=dict)
    builtin: bool = False


class _Formatter(string.Formatter):
    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        value = kwargs.get(str(key)) if isinstance(key, str) else None
        return float("nan") if value is None else value


def _text(template: str, values: Mapping[str, float | None]) -> str:
    try:
        return _Formatter().format(template, **values)
    except (ValueError, IndexError, KeyError, TypeError):
        return template  # a message that does not format is sent as written


@dataclass
class _Compiled:
    rule: RuleLike
    node: Node
    last_s: float | None = None


class AlertEngine:
    """Evaluates the rules; ``check(values, now_s)`` returns the alerts that fire now."""

    def __init__(self, rules: Sequence[RuleLike]) -> None:
        self.rules = [_Compiled(r, parse_condition(r.condition)) for r in rules]

    def check(self, values: Mapping[str, float | None], now_s: float) -> list[Fired]:
        out = []
        for compiled in self.rules:
            rule = compiled.rule
            cooling = compiled.last_s is not None and now_s - compiled.last_s < rule.cooldown_s
            if cooling or not evaluate(compiled.node, values):
                continue
            compiled.last_s = now_s
            message = _text(rule.message, values) if rule.message else render(compiled.node)
            used = {k: values.get(k) for k in sorted(values) if k in rule.condition}
            out.append(
                Fired(rule.name, rule.severity, message, rule.action, tuple(rule.channels), used)
            )
        return out


# -- built-in events: journal kind -> (rule name, severity, message from the payload) --------
def _reason(payload: Mapping[str, Any]) -> str:
    return str(payload.get("reason") or payload.get("detail") or payload.get("error") or "")


BUILTINS: dict[str, tuple[str, str, str]] = {
    "kill_switch.activated": ("kill_switch_tripped", "critical", "kill switch tripped: {why}"),
    "kill_switch.reset": ("kill_switch_reset", "warning", "kill switch reset: {why}"),
    "risk.halt": ("risk_halt", "error", "risk halt ({rule}): {why}"),
    "operator.emergency_stop": ("emergency_stop", "critical", "emergency stop: {why}"),
    "OrderRejected": ("order_rejected", "warning", "order {subject} rejected: {why}"),
    "runtime.stale": ("stale_data", "error", "market data stale: {subject}"),
    "runtime.error": ("runtime_error", "critical", "the runner stopped on an error: {why}"),
}


def builtin(kind: str, subject: str, payload: Mapping[str, Any]) -> Fired | None:
    """The built-in alert a journal entry raises, if any."""
    if kind == "runtime.restarted":
        if not payload.get("after_crash"):
            return None
        return Fired(
            "restart_after_crash",
            "error",
            f"the runner restarted after a crash (resumed after step {payload.get('checkpoint')})",
            builtin=True,
        )
    if kind == "runtime.reconciled":
        if payload.get("agrees", True):
            return None
        lines = "; ".join(str(x) for x in payload.get("lines") or [])
        return Fired(
            "reconciliation_failure",
            "critical",
            f"genebot's books disagree with the exchange: {lines}",
            builtin=True,
        )
    found = BUILTINS.get(kind)
    if found is None:
        return None
    name, severity, template = found
    rule = str(payload.get("rule") or "")
    message = template.format(
        why=_reason(payload) or "(no reason given)", rule=rule, subject=subject
    )
    return Fired(name, severity, message, builtin=True)
