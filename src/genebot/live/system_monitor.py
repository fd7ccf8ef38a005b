"""SystemMonitor: CPU, memory and disk use of the machine (psutil) against the configured
ceilings (``monitoring.max_cpu_usage`` … in percent); a reading over a ceiling is an alert,
logged and handed to ``on_alert`` (the live trader's event list; the alerting issue routes it
to channels)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped]

log = logging.getLogger("genebot.live.system")


@dataclass(frozen=True)
class SystemHealth:
    ts: float  # time.time()
    cpu: float  # percent
    memory: float
    disk: float
    process_rss_mb: float
    alerts: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.alerts


class SystemMonitor:
    def __init__(
        self,
        max_cpu_usage: float = 80.0,
        max_memory_usage: float = 80.0,
        max_disk_usage: float = 90.0,
        *,
        interval_s: float = 60.0,
        disk_path: str = ".",
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        self.ceilings = {"cpu": max_cpu_usage, "memory": max_memory_usage, "disk": max_disk_usage}
        self.interval_s = interval_s
        self.disk_path = disk_path
        self.on_alert = on_alert
        self.latest: SystemHealth | None = None
        self._next = 0.0
        self._process = psutil.Process()
        psutil.cpu_percent(None)  # the first reading starts the measuring interval

    def check(self) -> SystemHealth:
        """Read the machine now; alerts for every reading over its ceiling."""
        readings = {
            "cpu": float(psutil.cpu_percent(None)),
            "memory": float(psutil.virtual_memory().percent),
            "disk": float(psutil.disk_usage(self.disk_path).percent),
        }
        alerts = tuple(
            f"{name} usage {value:.1f} % is over the {self.ceilings[name]:.1f} % ceiling"
            for name, value in readings.items()
            if value > self.ceilings[name]
        )
        rss = self._process.memory_info().rss / 2**20
        cpu, memory, disk = readings["cpu"], readings["memory"], readings["disk"]
        self.latest = SystemHealth(time.time(), cpu, memory, disk, rss, alerts)
        for alert in alerts:
            log.warning("system: %s", alert)
            if self.on_alert is not None:
                self.on_alert(alert)
        return self.latest

    def maybe_check(self, now: float | None = None) -> SystemHealth | None:
        """:meth:`check` when ``interval_s`` has passed since the last one."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return None
        self._next = now + self.interval_s
        return self.check()
