"""Delivery that never blocks trading, and the daily summary.

:meth:`Dispatcher.send` files a message on the bounded queue of every channel that takes it and
returns at once. Each channel has its own worker thread, so a channel that is down delays only
itself: the worker retries with exponential backoff (``backoff_s``, doubling, at most
``max_backoff_s``) up to ``retries`` times, then gives the message up. A full queue drops its
oldest message of the lowest severity (INFO first), or the new one when everything queued is more
severe; drops are counted.

A channel that gives a message up is failing: the other channels get one ``channel NAME failing:
<reason>`` alert per outage (ERROR, category ``alert``), and the same channels get ``channel NAME
recovered`` when it delivers again. :meth:`Dispatcher.close` flushes with a bounded wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Protocol
from zoneinfo import ZoneInfo

from genebot.core.errors import InputError
from genebot.notify import DeliveryError, Message, Severity
from genebot.notify.channels import Channel

log = logging.getLogger("genebot.notify")


@dataclass
class ChannelStats:
    """What one channel did: delivered, given up (``failed``), dropped from a full queue."""

    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    retries: int = 0
    failing: bool = False
    last_error: str | None = None


@dataclass
class _Outage:
    reason: str
    told: tuple[str, ...] = ()  # the channels that got the failing alert
    missed: int = 0


class _Lane:
    """One channel's queue and worker thread."""

    def __init__(self, channel: Channel, owner: Dispatcher) -> None:
        self.channel, self.owner = channel, owner
        self.queue: deque[Message] = deque()
        self.cond = threading.Condition()
        self.stats = ChannelStats()
        self.busy = self.stopping = self.aborted = False
        self.thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)

    def put(self, message: Message) -> bool:
        with self.cond:
            if self.stopping:
                return False
            if len(self.queue) >= self.owner.queue_size:
                victim = min(range(len(self.queue)), key=lambda i: (self.queue[i].severity, i))
                self.stats.dropped += 1
                if self.queue[victim].severity > message.severity:
                    return False
                del self.queue[victim]
            self.queue.append(message)
            self.stats.queued = len(self.queue)
            self.cond.notify_all()
            return True

    def _take(self) -> Message | None:
        with self.cond:
            self.busy = False
            self.cond.notify_all()
            while not self.queue and not self.stopping:
                self.cond.wait()
            if self.aborted or not self.queue:
                return None
            self.busy = True
            message = self.queue.popleft()
            self.stats.queued = len(self.queue)
            return message

    def _run(self) -> None:
        while (message := self._take()) is not None:
            self._deliver(message)
        with self.cond:
            self.busy = False
            self.cond.notify_all()

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; False when the dispatcher gave up waiting (close timed out)."""
        with self.cond:
            return not self.cond.wait_for(lambda: self.aborted, timeout=seconds)

    def _deliver(self, message: Message) -> None:
        reason = ""
        for attempt in range(self.owner.retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = min(self.owner.backoff_s * 2 ** (attempt - 1), self.owner.max_backoff_s)
                if not self._pause(delay):
                    return
            try:
                self.channel.deliver(message)
            except DeliveryError as exc:
                reason = str(exc)
                log.debug(
                    "notify %s: attempt %d failed: %s", self.channel.name, attempt + 1, reason
                )
                continue
            self.stats.delivered += 1
            self.stats.failing = False
            self.owner._delivered(self.channel.name)
            return
        self.stats.failed += 1
        self.stats.failing, self.stats.last_error = True, reason
        log.warning("notify %s: gave up on %r: %s", self.channel.name, message.title, reason)
        self.owner._failed(self.channel.name, reason)

    def drained(self) -> bool:
        return not self.queue and not self.busy


class Dispatcher:
    """Queues messages for the channels and delivers them from worker threads."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        queue_size: int = 1000,
        retries: int = 3,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        flush_timeout_s: float = 10.0,
    ) -> None:
        if queue_size < 1 or min(retries, backoff_s, max_backoff_s, flush_timeout_s) < 0:
            raise InputError("queue_size must be >= 1; retries, backoffs and timeout >= 0")
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise InputError(f"channel names repeat: {', '.join(names)}")
        self.queue_size, self.retries = queue_size, retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.flush_timeout_s = flush_timeout_s
        self._lanes = {c.name: _Lane(c, self) for c in channels}
        self._outages: dict[str, _Outage] = {}
        self._lock = threading.Lock()
        self._closed = False
        for lane in self._lanes.values():
            lane.thread.start()

    @property
    def channels(self) -> list[Channel]:
        return [lane.channel for lane in self._lanes.values()]

    def send(self, message: Message) -> int:
        """Queue ``message`` for every channel that takes it; never waits. Returns how many."""
        if self._closed:
            log.debug("notify: dispatcher closed, %r not sent", message.title)
            return 0
        lanes = [lane for lane in self._lanes.values() if lane.channel.accepts(message)]
        return self._post(message, lanes)

    def _post(self, message: Message, lanes: Iterable[_Lane]) -> int:
        return sum(lane.put(message) for lane in lanes)

    def stats(self) -> dict[str, ChannelStats]:
        """A snapshot per channel."""
        out: dict[str, ChannelStats] = {}
        for name, lane in self._lanes.items():
            with lane.cond:
                out[name] = ChannelStats(**vars(lane.stats))
        return out

    def _failed(self, name: str, reason: str) -> None:
        with self._lock:
            outage = self._outages.get(name)
            if outage is not None:
                outage.missed += 1
                return
            self._outages[name] = outage = _Outage(reason, missed=1)
        alert = Message(
            title=f"channel {name} failing",
            body=f"channel {name} failing: {reason}",
            severity=Severity.ERROR,
            category="alert",
        )
        others = [
            lane
            for other, lane in self._lanes.items()
            if other != name and lane.channel.accepts(alert)
        ]
        outage.told = tuple(lane.channel.name for lane in others)
        self._post(alert, others)

    def _delivered(self, name: str) -> None:
        with self._lock:
            outage = self._outages.pop(name, None)
        if outage is None:
            return
        log.info("notify %s: recovered (%d message(s) not delivered)", name, outage.missed)
        recovered = Message(
            title=f"channel {name} recovered",
            body=f"channel {name} delivers again; {outage.missed} message(s) were not delivered "
            f"while it was failing ({outage.reason})",
            severity=Severity.INFO,
            category="alert",
            always=True,
        )
        self._post(recovered, [self._lanes[n] for n in outage.told if n in self._lanes])

    def close(self, timeout_s: float | None = None) -> bool:
        """Deliver what is queued, waiting at most ``timeout_s`` (default ``flush_timeout_s``);
        True when everything went. What is still queued then is abandoned (and logged)."""
        self._closed = True
        wait = self.flush_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + max(wait, 0.0)
        lanes = list(self._lanes.values())
        for lane in lanes:
            with lane.cond:
                lane.stopping = True
                lane.cond.notify_all()
        for lane in lanes:
            with lane.cond:
                lane.cond.wait_for(lane.drained, timeout=max(deadline - time.monotonic(), 0))
        left = 0
        for lane in lanes:
            with lane.cond:
                left += len(lane.queue) + lane.busy
                lane.aborted = True
                lane.cond.notify_all()
        end = time.monotonic() + 1.0  # a send in progress cannot be interrupted: daemon threads
        for lane in lanes:
            lane.thread.join(timeout=max(end - time.monotonic(), 0.0))
        if left:
            log.warning("notify: %d message(s) not delivered when the run ended", left)
        return left == 0

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AlertLike(Protocol):
    """What an alert engine fires (``genebot.monitoring.alerts.Fired``)."""

    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def channels(self) -> tuple[str, ...]: ...


def alert_notifier(dispatcher: Dispatcher) -> Callable[[AlertLike, str], None]:
    """A notifier for the runtime's alerts: ``(alert, deployment name)`` → a queued message."""

    def notify(alert: AlertLike, deployment: str) -> None:
        dispatcher.send(
            Message(
                title=f"{deployment}: {alert.rule}",
                body=alert.message or alert.rule,
                severity=Severity.parse(alert.severity),
                category="alert",
                channels=tuple(alert.channels),
            )
        )

    return notify


# ---------------------------------------------------------------------------------------------
# Daily summary


def parse_hhmm(text: str) -> dtime:
    """``"20:00"`` → 20:00; anything else is an InputError."""
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise InputError(f"{text!r}: use HH:MM (24-hour), for example 20:00")
    if int(hours) > 23 or int(minutes) > 59:
        raise InputError(f"{text!r}: use HH:MM (24-hour), for example 20:00")
    return dtime(int(hours), int(minutes))


@dataclass
class DailySummary:
    """When the daily summary is due: once a day, at ``at`` in ``timezone``.

    A slot before ``since`` (when the run started) is skipped, so a restart after the hour does
    not send the day's summary again."""

    at: dtime
    timezone: str = "UTC"
    since: datetime | None = None
    last_sent: date | None = field(default=None)

    def _local(self, moment: datetime) -> datetime:
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(self.timezone))

    def due(self, now: datetime) -> bool:
        local = self._local(now)
        slot = datetime.combine(local.date(), self.at, tzinfo=local.tzinfo)
        if local < slot or self.last_sent == local.date():
            return False
        return self.since is None or self._local(self.since) <= slot

    def mark_sent(self, now: datetime) -> None:
        self.last_sent = self._local(now).date()


_LABELS = {
    "pnl": "P&L",
    "pnl_pct": "P&L %",
    "equity": "Equity",
    "trades": "Trades",
    "wins": "Wins",
    "losses": "Losses",
    "win_rate": "Win rate",
    "drawdown": "Drawdown",
    "risk_state": "Risk state",
}
_PERCENT = {"pnl_pct", "win_rate", "drawdown"}


def _figure(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key in _PERCENT:
        return f"{value:+.2%}" if key == "pnl_pct" else f"{value:.2%}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:+,.2f}" if key == "pnl" else f"{value:,.2f}"


def format_summary(figures: Mapping[str, object], *, day: str | None = None) -> Message:
    """The daily summary message from ``figures`` (``pnl``, ``pnl_pct``, ``equity``, ``trades``,
    ``wins``, ``losses``, ``win_rate``, ``drawdown``, ``risk_state``, then any other keys)."""
    title = f"Daily summary {day}" if day else "Daily summary"
    keys = [k for k in _LABELS if k in figures] + [k for k in figures if k not in _LABELS]
    lines = [f"{_LABELS.get(k, k.replace('_', ' '))}: {_figure(k, figures[k])}" for k in keys]
    return Message(
        title=title,
        body="\n".join(lines) or "no figures",
        severity=Severity.INFO,
        category="performance",
        always=True,
    )
