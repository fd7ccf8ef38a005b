"""The one ccxt error table: a scenario table, one row per fault → the reaction on a read or
cancel and on an order creation, with the real ccxt exception classes."""

from __future__ import annotations

import inspect

import ccxt
import pytest

from genebot.core.errors import InputError, RetryableError, StopError
from genebot.venues.ccxt.errors import (
    TABLE,
    Backoff,
    OrderOutcomeUnknown,
    Reaction,
    classify,
    reaction_for,
)

R = Reaction

SCENARIOS = [  # fault, raised as, on read/cancel, on create
    ("timeout", ccxt.RequestTimeout("binance GET /api/v3/order timed out"), R.RETRY, R.QUERY),
    ("5xx", ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), R.RETRY, R.QUERY),
    ("maintenance", ccxt.OnMaintenance("system maintenance"), R.RETRY, R.QUERY),
    ("garbage body", ccxt.BadResponse("binance returned <html>"), R.RETRY, R.QUERY),
    ("dropped connection", ConnectionResetError("reset by peer"), R.RETRY, R.QUERY),
    ("asyncio timeout", TimeoutError(), R.RETRY, R.QUERY),
    ("429", ccxt.RateLimitExceeded("429 Too Many Requests retry-after: 7"), R.RATE_LIMITED, R.RATE_LIMITED),  # noqa: E501
    ("418 ban", ccxt.DDoSProtection("418 IP banned until 1700000000"), R.STOP_AND_ALERT, R.STOP_AND_ALERT),  # noqa: E501
    ("clock skew", ccxt.InvalidNonce("Timestamp for this request is outside of the recvWindow"), R.RESYNC_CLOCK, R.RESYNC_CLOCK),  # noqa: E501
    ("bad key", ccxt.AuthenticationError("Invalid API-key"), R.STOP_AND_ALERT, R.STOP_AND_ALERT),
    ("no permission", ccxt.PermissionDenied("not allowed to trade"), R.STOP_AND_ALERT, R.STOP_AND_ALERT),  # noqa: E501
    ("insufficient funds", ccxt.InsufficientFunds("Account has insufficient balance"), R.DENY, R.DENY),  # noqa: E501
    ("invalid order", ccxt.InvalidOrder("Filter failure: LOT_SIZE"), R.DENY, R.DENY),
    ("bad symbol", ccxt.BadSymbol("Invalid symbol"), R.DENY, R.DENY),
    ("duplicate client id", ccxt.DuplicateOrderId("Duplicate order sent"), R.QUERY, R.QUERY),
    ("cancel of an ended order", ccxt.OrderNotFound("Unknown order sent"), R.QUERY, R.DENY),
    ("market closed", ccxt.MarketClosed("market is closed"), R.CLOSED, R.CLOSED),
    ("unclassified", ccxt.ExchangeError("something else"), R.STOP_AND_ALERT, R.QUERY),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "exc", "on_read", "on_create"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_each_fault_gets_its_reaction(
    fault: str, exc: BaseException, on_read: Reaction, on_create: Reaction
) -> None:
    assert reaction_for(exc, "read") is on_read
    assert reaction_for(exc, "cancel") is on_read
    assert reaction_for(exc, "create") is on_create


def test_an_order_creation_whose_reply_is_lost_is_never_retried() -> None:
    """The rule that prevents duplicated orders: no network fault on create says 'retry'."""
    network = [c for c in TABLE if issubclass(c, ccxt.OperationFailed)]
    for cls in [*network, ConnectionError, TimeoutError, OSError]:
        assert reaction_for(cls("x"), "create") in (R.QUERY, R.RATE_LIMITED, R.RESYNC_CLOCK)
    done = classify(ccxt.RequestTimeout("timed out"), "create")
    assert isinstance(done.error, OrderOutcomeUnknown)
    assert "never resent" in str(done.error)


def test_every_ccxt_error_class_is_covered_by_the_table() -> None:
    classes = [
        c for c in vars(ccxt).values() if inspect.isclass(c) and issubclass(c, ccxt.BaseError)
    ]
    assert len(classes) > 30
    for cls in classes:  # each resolves through its own class tree: no KeyError, no silent pass
        assert isinstance(reaction_for(cls("x"), "read"), Reaction)


def test_errors_carry_the_reaction_in_genebots_tree() -> None:
    assert isinstance(classify(ccxt.AuthenticationError("bad"), "read").error, StopError)
    assert isinstance(classify(ccxt.InsufficientFunds("no"), "create").error, InputError)
    limited = classify(ccxt.RateLimitExceeded("429 retry-after: 7"), "read")
    assert isinstance(limited.error, RetryableError) and limited.retry_after_s == 7.0
    assert "backing off" in str(limited.error)


def test_backoff_grows_is_capped_jittered_and_honours_retry_after() -> None:
    waits = list(Backoff(base_s=1, cap_s=8, attempts=6, seed=3).delays())
    assert waits == list(Backoff(base_s=1, cap_s=8, attempts=6, seed=3).delays())  # seeded
    assert all(0 <= w <= min(8, 2**k) for k, w in enumerate(waits))
    assert min(Backoff(attempts=4, seed=1).delays(retry_after_s=7)) >= 7
