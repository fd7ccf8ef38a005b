"""Go-live readiness (seed 001): a score out of 100 with its parts, and whether a strategy is
ready for real money.

* **Performance validation, 40 points**: the seed's five criteria (win rate, Sharpe, max
  drawdown, profit factor, total return) on the out-of-sample part of the data (the last
  ``oos_fraction`` of the configured period, a backtest the strategy's parameters were not
  chosen on) — 8 points each.
* **System health, 40 points**: the seed's five components — the database answers, exchange
  connectivity (every enabled exchange reachable; none needed for paper), data quality (bars
  present / bars expected over 95 %), alerting (rules configured and a notification channel to
  deliver them), circuit breakers armed (the risk engine on, with the daily loss and
  consecutive-loss halts) — 8 points each.
* **Paper track record, 20 points**: the newest finished or running paper deployment of the
  strategy passes the same five criteria (4 points each; a finished run's own statistics, a
  running one's from its equity snapshots and trades); none yet gives 0 and a warning.

Ready = score >= 80 and no critical issue (a failing out-of-sample drawdown or return, a dead
database, circuit breakers off). Thresholds are the seed's targets and configurable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

THRESHOLDS: dict[str, float] = {
    "win_rate": 0.55,  # at least
    "sharpe": 1.0,  # at least
    "max_drawdown": 0.15,  # at most (as a positive fraction)
    "profit_factor": 1.3,  # at least
    "total_return": 0.0,  # above
}
CRITICAL = ("max_drawdown", "total_return")


@dataclass(frozen=True)
class Item:
    part: str  # performance | system | paper
    name: str
    passed: bool
    points: float
    of: float
    detail: str


@dataclass
class Report:
    strategy: str
    items: list[Item] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(i.points for i in self.items), 1)

    @property
    def ready(self) -> bool:
        return self.score >= 80 and not self.critical

    def part(self, name: str) -> tuple[int, int]:
        mine = [i for i in self.items if i.part == name]
        return sum(1 for i in mine if i.passed), len(mine)

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "score": self.score,
            "ready": self.ready,
            "performance": self.part("performance"),
            "system": self.part("system"),
            "paper": self.part("paper"),
            "critical": self.critical,
            "warnings": self.warnings,
            "items": [asdict(i) for i in self.items],
        }


def _value(stats: Mapping[str, Any], name: str) -> float | None:
    raw = stats.get(name)
    if raw is None:
        return None
    value = float(raw)
    return abs(value) if name == "max_drawdown" else value


def _passes(name: str, value: float | None, threshold: float) -> bool:
    if value is None:
        return False
    if name == "max_drawdown":
        return value <= threshold
    if name == "total_return":
        return value > threshold
    return value >= threshold


def judge(
    report: Report,
    part: str,
    stats: Mapping[str, Any],
    thresholds: Mapping[str, float],
    each: float,
    where: str,
) -> None:
    """The five criteria on one set of statistics."""
    for name, threshold in thresholds.items():
        value = _value(stats, name)
        passed = _passes(name, value, threshold)
        shown = "n/a" if value is None else f"{value:.4g}"
        sign = "<=" if name == "max_drawdown" else (">" if name == "total_return" else ">=")
        report.items.append(
            Item(
                part,
                name,
                passed,
                each if passed else 0.0,
                each,
                f"{where}: {shown} (needs {sign} {threshold:g})",
            )
        )
        if not passed and part == "performance" and name in CRITICAL:
            report.critical.append(f"{where} {name} {shown} fails {sign} {threshold:g}")


Check = Callable[[], tuple[bool, str]]


def system(report: Report, checks: Mapping[str, Check], critical: tuple[str, ...]) -> None:
    for name, check in checks.items():
        try:
            passed, detail = check()
        except Exception as exc:  # a check that cannot run has failed, with the reason
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        report.items.append(Item("system", name, passed, 8.0 if passed else 0.0, 8.0, detail))
        if not passed and name in critical:
            report.critical.append(f"{name}: {detail}")
