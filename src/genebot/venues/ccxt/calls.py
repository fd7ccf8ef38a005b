"""Calling ccxt with the error table's reactions applied: the one place retries happen.

:class:`Caller` runs a read or a cancel and reacts as :mod:`genebot.venues.ccxt.errors` says —
back off and retry (honouring Retry-After), re-sync the clock then retry, or stop and alert
(after which every further call is refused until an operator clears it). An order creation is
never retried here unless the exchange refused it before taking it (429, clock skew): those
keep the same client order id, so even a wrong guess is caught by the exchange as a duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from genebot.venues.ccxt.errors import (
    Backoff,
    Classified,
    ExchangeAccessLost,
    Operation,
    Reaction,
    classify,
)

log = logging.getLogger("genebot.venues.ccxt")
T = TypeVar("T")
_AGAIN = frozenset({Reaction.RETRY, Reaction.RATE_LIMITED, Reaction.RESYNC_CLOCK})
_REFUSED_BEFORE_TAKEN = frozenset({Reaction.RATE_LIMITED, Reaction.RESYNC_CLOCK})


class Caller:
    """One exchange's calls with backoff; ``halted`` (a reason) once access was lost."""

    def __init__(
        self,
        exchange: Any,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_halt: Callable[[str], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.on_halt = on_halt
        self.halted: str | None = None
        self.errors: list[Classified] = []  # every classified error, newest last (bounded)
        self.error_count = 0  # every classified error since the start (for the alerts)
        # per operation: [calls, seconds in all, slowest] of every attempt, failed or not
        self.latency: dict[str, list[float]] = {}

    def __call__(self, operation: Operation, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` with the reactions applied; raises the classified genebot error
        when the reaction is not to try again (or the tries ran out)."""
        if self.halted is not None:
            raise ExchangeAccessLost(f"not sending to {self.exchange.id}: {self.halted}")
        delays = self.backoff.delays()
        while True:
            started = time.perf_counter()
            try:
                result = fn(*args, **kw)
            except Exception as exc:  # every failure goes through the table
                self._timed(operation, started)
                found = self._classify(exc, operation)
                if not self._again(found, operation):
                    raise found.error from None
                wait = next(delays, None)
                if wait is None:
                    raise found.error from None
                self._prepare_retry(found, wait)
                continue
            self._timed(operation, started)
            return result

    def _timed(self, operation: str, started: float) -> None:
        took = time.perf_counter() - started
        seen = self.latency.setdefault(operation, [0.0, 0.0, 0.0])
        seen[0] += 1
        seen[1] += took
        seen[2] = max(seen[2], took)

    def _classify(self, exc: BaseException, operation: Operation) -> Classified:
        found = classify(exc, operation)
        self.errors = [*self.errors[-99:], found]
        self.error_count += 1
        log.warning("%s: %s", self.exchange.id, found.error)
        if found.reaction is Reaction.STOP_AND_ALERT:
            self.halt(str(found.error))
        return found

    @staticmethod
    def _again(found: Classified, operation: Operation) -> bool:
        if operation == "create":
            return found.reaction in _REFUSED_BEFORE_TAKEN
        return found.reaction in _AGAIN

    def _prepare_retry(self, found: Classified, wait: float) -> None:
        if found.reaction is Reaction.RESYNC_CLOCK:
            self.resync_clock()
        self.sleep(max(wait, found.retry_after_s or 0.0))

    def resync_clock(self) -> None:
        """Measure the exchange's clock offset again; ccxt signs with it from now on."""
        options = self.exchange.options
        options["adjustForTimeDifference"] = True
        try:
            self.exchange.load_time_difference()
        except Exception as exc:  # the retry will say what is wrong
            log.warning("%s: could not re-sync the clock: %s", self.exchange.id, exc)

    def halt(self, reason: str) -> None:
        if self.halted is None:
            self.halted = reason
            log.error("%s: stopped sending: %s", self.exchange.id, reason)
            if self.on_halt is not None:
                self.on_halt(reason)
