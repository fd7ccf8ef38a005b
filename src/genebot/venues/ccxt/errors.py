"""The ONE table from ccxt's exceptions to genebot's reactions, applied at the ccxt boundary.

Each ccxt exception class (the most specific entry up its class tree wins) says what the
caller must do. What an error means depends on the call: a timeout on a read is retried, but
a timeout on an order creation leaves the order's fate unknown — it is **never resent**; the
order waits in flight until the exchange is asked by its client order id.

======================  ==========================================================
reaction                what the adapter does
======================  ==========================================================
retry                   back off (exponential, jittered) and try again: reads,
                        cancels, balances
resync_clock            re-read the exchange's time offset, then retry
rate_limited            wait (Retry-After when given, else the backoff), then retry
stop_and_alert          stop sending orders, alert: banned IP (418), bad keys,
                        missing permission, suspended account
deny                    the order cannot be valid: record it denied with the reason
query                   outcome unknown: resolve by asking the exchange, never resend
closed                  the market is closed: wait for the session
======================  ==========================================================
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import ccxt

from genebot.core.errors import GenebotError, InputError, RetryableError, StopError

Operation = Literal["create", "cancel", "read"]


class Reaction(enum.Enum):
    RETRY = "retry"
    RESYNC_CLOCK = "resync_clock"
    RATE_LIMITED = "rate_limited"
    STOP_AND_ALERT = "stop_and_alert"
    DENY = "deny"
    QUERY = "query"
    CLOSED = "closed"


class ExchangeUnavailable(RetryableError):
    """The exchange cannot be reached or is overloaded; try again later."""


class OrderOutcomeUnknown(GenebotError):
    """An order was sent but the reply was lost: ask the exchange by client order id."""


class OrderNotOnExchange(OrderOutcomeUnknown):
    """The exchange says it holds no such order (ccxt's OrderNotFound on a read)."""


class ExchangeRefused(InputError):
    """The exchange refused the order as invalid (funds, size, price, symbol)."""


class ExchangeAccessLost(StopError):
    """Keys, permissions or the IP are not accepted: stop sending and tell the operator."""


R = Reaction
# ccxt class → (reaction on reads/cancels, reaction on order creation). Order matters only for
# readability: lookups walk each exception's own class tree, most specific first.
TABLE: dict[type[BaseException], tuple[Reaction, Reaction]] = {
    ccxt.BaseError: (R.STOP_AND_ALERT, R.QUERY),  # anything ccxt did not classify
    ccxt.ExchangeError: (R.STOP_AND_ALERT, R.QUERY),
    ccxt.OperationFailed: (R.RETRY, R.QUERY),
    ccxt.NetworkError: (R.RETRY, R.QUERY),
    ccxt.RequestTimeout: (R.RETRY, R.QUERY),
    ccxt.ExchangeNotAvailable: (R.RETRY, R.QUERY),
    ccxt.OnMaintenance: (R.RETRY, R.QUERY),
    ccxt.BadResponse: (R.RETRY, R.QUERY),
    ccxt.NullResponse: (R.RETRY, R.QUERY),
    ccxt.InvalidNonce: (R.RESYNC_CLOCK, R.RESYNC_CLOCK),  # refused before it was taken
    ccxt.RateLimitExceeded: (R.RATE_LIMITED, R.RATE_LIMITED),  # 429: refused, not taken
    ccxt.DDoSProtection: (R.RATE_LIMITED, R.RATE_LIMITED),  # 418 is a ban: see classify()
    ccxt.CancelPending: (R.QUERY, R.QUERY),
    ccxt.AuthenticationError: (R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ccxt.PermissionDenied: (R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ccxt.AccountSuspended: (R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ccxt.AccountNotEnabled: (R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ccxt.RestrictedLocation: (R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ccxt.InsufficientFunds: (R.DENY, R.DENY),
    ccxt.InvalidOrder: (R.DENY, R.DENY),
    ccxt.OrderNotFound: (R.QUERY, R.DENY),  # a cancel of an order that ended: ask its status
    ccxt.DuplicateOrderId: (R.QUERY, R.QUERY),  # the id was taken: the first send went through
    ccxt.BadRequest: (R.DENY, R.DENY),
    ccxt.BadSymbol: (R.DENY, R.DENY),
    ccxt.ArgumentsRequired: (R.DENY, R.DENY),
    ccxt.NotSupported: (R.DENY, R.DENY),
    ccxt.MarketClosed: (R.CLOSED, R.CLOSED),
    ccxt.OperationRejected: (R.DENY, R.DENY),
}
_ERRORS: dict[Reaction, type[GenebotError]] = {
    R.RETRY: ExchangeUnavailable,
    R.RESYNC_CLOCK: ExchangeUnavailable,
    R.RATE_LIMITED: ExchangeUnavailable,
    R.CLOSED: ExchangeUnavailable,
    R.STOP_AND_ALERT: ExchangeAccessLost,
    R.DENY: ExchangeRefused,
    R.QUERY: OrderOutcomeUnknown,
}
_BANNED = re.compile(r"\b418\b|\bbanned\b|\bIP ban", re.IGNORECASE)
_RETRY_AFTER = re.compile(r"retry[- ]after[\"':= ]+(\d+(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class Classified:
    """What to do about one exchange error, and the genebot error that carries it."""

    reaction: Reaction
    error: GenebotError
    retry_after_s: float | None = None


def reaction_for(exc: BaseException, operation: Operation) -> Reaction:
    """The table's answer for ``exc`` on ``operation`` (non-ccxt errors: a broken connection).
    A 418 (IP ban) is told from a 429 by its text: sending on would lengthen the ban."""
    if isinstance(exc, ccxt.DDoSProtection) and _BANNED.search(_first_line(exc)):
        return R.STOP_AND_ALERT
    for cls in type(exc).__mro__:
        entry = TABLE.get(cls)
        if entry is not None:
            return entry[1] if operation == "create" else entry[0]
    return R.QUERY if operation == "create" else R.RETRY  # sockets, asyncio timeouts


def classify(exc: BaseException, operation: Operation) -> Classified:
    """Translate ``exc`` once, at the boundary: the reaction and a genebot error whose message
    says what happened and what genebot does about it (never the request's secrets)."""
    reaction = reaction_for(exc, operation)
    text = _first_line(exc)
    found = _RETRY_AFTER.search(text)
    retry_after = float(found.group(1)) if found and reaction is R.RATE_LIMITED else None
    message = f"{type(exc).__name__} on {operation}: {text} → {_SAYS[reaction]}"
    kind = _ERRORS[reaction]
    if reaction is R.QUERY and isinstance(exc, ccxt.OrderNotFound):
        kind = OrderNotOnExchange
    return Classified(reaction, kind(message), retry_after)


_SAYS = {
    R.RETRY: "retrying with backoff",
    R.RESYNC_CLOCK: "re-syncing the clock with the exchange, then retrying",
    R.RATE_LIMITED: "backing off (rate limit), then retrying",
    R.STOP_AND_ALERT: "stopped sending orders; check the API key, its permissions and the IP",
    R.DENY: "order denied",
    R.QUERY: "outcome unknown: asking the exchange by client order id (never resent)",
    R.CLOSED: "market closed: waiting for the session",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class Backoff:
    """Exponential backoff with full jitter (seeded: deterministic in tests), capped."""

    def __init__(
        self, base_s: float = 0.5, cap_s: float = 30.0, attempts: int = 5, seed: int | None = None
    ) -> None:
        self.base_s, self.cap_s, self.attempts = base_s, cap_s, attempts
        self._rng = random.Random(seed)

    def delays(self, retry_after_s: float | None = None) -> Iterator[float]:
        """The waits before each retry, drawn as they are needed (a call that succeeds draws
        none); a Retry-After from the exchange is the floor."""
        for attempt in range(self.attempts):
            ceiling = min(self.cap_s, self.base_s * 2**attempt)
            yield max(self._rng.uniform(0, ceiling), retry_after_s or 0.0)
