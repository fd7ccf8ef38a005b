"""The ONE table from MetaTrader 5's trade server return codes to genebot's reactions.

``order_send`` answers with an ``OrderSendResult`` whose ``retcode`` is one of the documented
``TRADE_RETCODE_*`` values (MQL5 reference, "Trade Server Return Codes"), or with ``None`` when
the terminal could not be asked (``last_error()`` says why). Every documented code is listed
here with what genebot does about it:

=============  ==================================================================
reaction       what the execution client does
=============  ==================================================================
done           the order was taken (placed, filled, partly filled): adopt it
retry          refused before it was taken, a fresh price may pass (requote, price
               changed/off, too many requests): resend once with a fresh price,
               only while the price is within the order's deviation
deny           the order cannot be valid as sent (no money, volume, stops, fill
               mode, trading disabled for the symbol...): rejected with the reason
closed         the market is closed for the symbol: rejected now, the strategy
               waits for the session (never queued by genebot)
query          the outcome is unknown (timeout, connection lost, error): the
               order is looked for by its comment in the orders and history,
               **never resent blindly**
stop           the terminal refuses genebot (auto trading disabled in the
               terminal or on the server): stop sending and alert
=============  ==================================================================
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Reaction(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    DENY = "deny"
    CLOSED = "closed"
    QUERY = "query"
    STOP = "stop"


class Retcode(NamedTuple):
    code: int
    name: str
    reaction: Reaction
    meaning: str


R = Reaction
_ROWS: tuple[tuple[int, str, Reaction, str], ...] = (
    (10004, "REQUOTE", R.RETRY, "requote"),
    (10006, "REJECT", R.DENY, "request rejected"),
    (10007, "CANCEL", R.DENY, "request canceled by trader"),
    (10008, "PLACED", R.DONE, "order placed"),
    (10009, "DONE", R.DONE, "request completed"),
    (10010, "DONE_PARTIAL", R.DONE, "only part of the request was completed"),
    (10011, "ERROR", R.QUERY, "request processing error"),
    (10012, "TIMEOUT", R.QUERY, "request canceled by timeout"),
    (10013, "INVALID", R.DENY, "invalid request"),
    (10014, "INVALID_VOLUME", R.DENY, "invalid volume in the request"),
    (10015, "INVALID_PRICE", R.RETRY, "invalid price in the request"),
    (10016, "INVALID_STOPS", R.DENY, "invalid stops in the request"),
    (10017, "TRADE_DISABLED", R.DENY, "trade is disabled"),
    (10018, "MARKET_CLOSED", R.CLOSED, "market is closed"),
    (10019, "NO_MONEY", R.DENY, "there is not enough money to complete the request"),
    (10020, "PRICE_CHANGED", R.RETRY, "prices changed"),
    (10021, "PRICE_OFF", R.RETRY, "there are no quotes to process the request"),
    (10022, "INVALID_EXPIRATION", R.DENY, "invalid order expiration date in the request"),
    (10023, "ORDER_CHANGED", R.QUERY, "order state changed"),
    (10024, "TOO_MANY_REQUESTS", R.RETRY, "too frequent requests"),
    (10025, "NO_CHANGES", R.DENY, "no changes in request"),
    (10026, "SERVER_DISABLES_AT", R.STOP, "autotrading disabled by server"),
    (10027, "CLIENT_DISABLES_AT", R.STOP, "autotrading disabled by client terminal"),
    (10028, "LOCKED", R.RETRY, "request locked for processing"),
    (10029, "FROZEN", R.DENY, "order or position frozen"),
    (10030, "INVALID_FILL", R.DENY, "invalid order filling type"),
    (10031, "CONNECTION", R.QUERY, "no connection with the trade server"),
    (10032, "ONLY_REAL", R.DENY, "operation is allowed only for live accounts"),
    (10033, "LIMIT_ORDERS", R.DENY, "the number of pending orders has reached the limit"),
    (10034, "LIMIT_VOLUME", R.DENY, "the volume of orders and positions has reached the limit"),
    (10035, "INVALID_ORDER", R.DENY, "incorrect or prohibited order type"),
    (10036, "POSITION_CLOSED", R.DENY, "position with the specified identifier already closed"),
    (10038, "INVALID_CLOSE_VOLUME", R.DENY, "a close volume exceeds the current position volume"),
    (10039, "CLOSE_ORDER_EXIST", R.DENY, "a close order already exists for the position"),
    (10040, "LIMIT_POSITIONS", R.DENY, "the number of open positions has reached the limit"),
    (10041, "REJECT_CANCEL", R.DENY, "the pending order activation request is rejected"),
    (10042, "LONG_ONLY", R.DENY, "only long positions are allowed for the symbol"),
    (10043, "SHORT_ONLY", R.DENY, "only short positions are allowed for the symbol"),
    (10044, "CLOSE_ONLY", R.DENY, "only position closing is allowed for the symbol"),
    (10045, "FIFO_CLOSE", R.DENY, "position closing is allowed only by the FIFO rule"),
    (10046, "HEDGE_PROHIBITED", R.DENY, "opposite positions on one symbol are disabled"),
)
TABLE: dict[int, Retcode] = {code: Retcode(code, name, r, text) for code, name, r, text in _ROWS}
CODES: dict[str, int] = {f"TRADE_RETCODE_{row.name}": row.code for row in TABLE.values()}
DONE_CODES = frozenset(c for c, row in TABLE.items() if row.reaction is R.DONE)
INVALID_STOPS = 10016
NO_CHANGES = 10025  # an SLTP that sets the levels the position has: done
MARKET_CLOSED = 10018


def lookup(retcode: int | None) -> Retcode:
    """The table's row for ``retcode``; ``None`` (no answer) and undocumented codes: query."""
    if retcode is None:
        return Retcode(0, "NO_REPLY", R.QUERY, "the terminal returned no result")
    row = TABLE.get(int(retcode))
    if row is None:
        return Retcode(int(retcode), "UNKNOWN", R.QUERY, f"undocumented return code {retcode}")
    return row


def reaction_for(retcode: int | None) -> Reaction:
    return lookup(retcode).reaction


def describe(retcode: int | None, comment: str = "") -> str:
    """``TRADE_RETCODE_NO_MONEY (10019): there is not enough money ... [broker's comment]``."""
    row = lookup(retcode)
    extra = f" [{comment}]" if comment else ""
    return f"TRADE_RETCODE_{row.name} ({row.code}): {row.meaning}{extra}"
