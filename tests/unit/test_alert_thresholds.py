"""The built-in threshold alerts: resources over ``monitoring.max_*``, errors within the hour
over their limit, a strategy failing several checks in a row — each with its cool-down."""

from __future__ import annotations

import pytest

from genebot.config.alerts import MonitoringConfig
from genebot.monitoring.thresholds import ErrorWindow, FailureStreaks, Thresholds


def test_error_window_counts_only_the_last_hour() -> None:
    w = ErrorWindow(window_s=3600)
    assert w.observe(3, 0.0) == 3  # counting starts at zero: all three are recent
    assert w.observe(5, 1800.0) == 5
    assert w.observe(5, 3700.0) == 2  # the three before 100 s have left the window
    assert w.observe(9, 9000.0) == 4  # nothing else within the hour before 9000 s
    assert w.observe(9, 20000.0) == 0


@pytest.mark.parametrize(
    ("values", "fired"),
    [
        ({"cpu": 0.5, "memory": 0.5, "disk": 0.5}, []),
        ({"cpu": 0.81}, ["cpu_high"]),
        ({"memory": 0.86, "disk": 0.91}, ["memory_high", "disk_high"]),
        ({"cpu": None, "memory": None}, []),  # unknown is not over
        ({"exchange_errors": 10.0}, []),  # at the limit is not over it
        ({"exchange_errors": 11.0}, ["exchange_errors"]),
        ({"strategy_errors": 6.0}, ["strategy_errors"]),
    ],
)
def test_thresholds_scenarios(values: dict[str, float | None], fired: list[str]) -> None:
    alerts = Thresholds(MonitoringConfig()).check(values, 0.0)
    assert [a.rule for a in alerts] == fired
    assert all(a.builtin for a in alerts)


def test_a_threshold_alert_repeats_only_after_its_cooldown() -> None:
    t = Thresholds(MonitoringConfig(max_cpu_usage=50, cooldown_s=600))
    assert [a.rule for a in t.check({"cpu": 0.9}, 0.0)] == ["cpu_high"]
    assert t.check({"cpu": 0.9}, 599.0) == []
    again = t.check({"cpu": 0.9}, 600.0)
    assert [a.message for a in again] == ["CPU usage 90% is over monitoring.max_cpu_usage (50%)"]


def test_a_failure_streak_fires_once_when_it_reaches_the_count() -> None:
    f = FailureStreaks(3)
    assert f.check({"a": 1}) == [] and f.check({"a": 2}) == []
    fired = f.check({"a": 3})
    assert [a.message for a in fired] == ["strategy a failed 3 times in a row (3 errors)"]
    assert f.check({"a": 4}) == []  # the same streak does not fire again
    assert f.check({"a": 4}) == []  # a clean check ends it
    assert f.check({"a": 5}) == [] and f.check({"a": 6}) == []
    assert len(f.check({"a": 7})) == 1  # a new streak fires again
