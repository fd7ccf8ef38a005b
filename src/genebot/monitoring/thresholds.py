"""The built-in threshold alerts: system resources over ``monitoring.max_*`` and exchange or
strategy errors over their hourly limit, and a strategy that keeps failing.

Pure like the alert engine: the runner gives counters and resource readings, this returns the
alerts that fire now. Each alert fires on its rising edge and again after ``cooldown_s`` while
the condition still holds, so a runner pinned at 95 % CPU does not send one message a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from genebot.monitoring.alerts import Fired

HOUR_S = 3_600.0


class MonitoringLike(Protocol):
    @property
    def max_cpu_usage(self) -> float: ...
    @property
    def max_memory_usage(self) -> float: ...
    @property
    def max_disk_usage(self) -> float: ...
    @property
    def max_exchange_errors(self) -> int: ...
    @property
    def max_strategy_errors(self) -> int: ...
    @property
    def cooldown_s(self) -> float: ...


@dataclass
class ErrorWindow:
    """Errors within the last ``window_s`` from a monotonic running total."""

    window_s: float = HOUR_S
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(self, total: int, now_s: float) -> int:
        """The number of errors in the window ending now (``total`` never decreases; counting
        starts from zero at the first reading)."""
        if not self.samples:
            self.samples.append((now_s, 0))
        self.samples.append((now_s, total))
        cutoff = now_s - self.window_s
        while len(self.samples) > 1 and self.samples[1][0] <= cutoff:
            self.samples.popleft()  # keep the last reading before the window as the base
        return max(0, total - self.samples[0][1])


@dataclass
class _Edge:
    last_s: float | None = None

    def due(self, now_s: float, cooldown_s: float) -> bool:
        if self.last_s is not None and now_s - self.last_s < cooldown_s:
            return False
        self.last_s = now_s
        return True


RESOURCES = (
    ("cpu", "max_cpu_usage", "CPU"),
    ("memory", "max_memory_usage", "memory"),
    ("disk", "max_disk_usage", "disk"),
)


class Thresholds:
    """``check(values, now_s)`` over the metric values (``cpu``, ``memory``, ``disk`` as
    fractions; ``exchange_errors``, ``strategy_errors`` as counts within the hour)."""

    def __init__(self, settings: MonitoringLike) -> None:
        self.settings = settings
        self.edges: dict[str, _Edge] = {}

    def _due(self, name: str, now_s: float) -> bool:
        return self.edges.setdefault(name, _Edge()).due(now_s, self.settings.cooldown_s)

    def check(self, values: Mapping[str, float | None], now_s: float) -> list[Fired]:
        out: list[Fired] = []
        for metric, key, label in RESOURCES:
            value, limit = values.get(metric), float(getattr(self.settings, key)) / 100.0
            if value is not None and value > limit and self._due(f"{metric}_high", now_s):
                text = f"{label} usage {value:.0%} is over monitoring.{key} ({limit:.0%})"
                out.append(
                    Fired(f"{metric}_high", "warning", text, values={metric: value}, builtin=True)
                )
        for metric, limit in (
            ("exchange_errors", self.settings.max_exchange_errors),
            ("strategy_errors", self.settings.max_strategy_errors),
        ):
            count = values.get(metric)
            if count is not None and count > limit and self._due(metric, now_s):
                what = metric.replace("_", " ")
                text = f"{int(count)} {what} in the last hour (monitoring.max_{metric}: {limit})"
                out.append(Fired(metric, "error", text, values={metric: count}, builtin=True))
        return out


class FailureStreaks:
    """The seed's ``orchestration_alerts.strategy_failure``: a strategy whose error count grew
    at ``consecutive`` checks in a row (a check where it ran clean ends the streak)."""

    def __init__(self, consecutive: int) -> None:
        self.consecutive = consecutive
        self.last: dict[str, int] = {}
        self.streak: dict[str, int] = {}

    def check(self, errors: Mapping[str, int]) -> list[Fired]:
        out = []
        for name, total in errors.items():
            grew = total > self.last.get(name, 0)
            self.last[name] = total
            self.streak[name] = self.streak.get(name, 0) + 1 if grew else 0
            if self.streak[name] == self.consecutive:
                text = f"strategy {name} failed {self.consecutive} times in a row ({total} errors)"
                out.append(Fired("strategy_failure", "error", text, builtin=True))
        return out
