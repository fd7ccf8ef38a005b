"""Stops and targets on the MT5 position itself: the terminal holds them while genebot is down.

An MT5 position carries one stop-loss (``sl``) and one take-profit (``tp``), which the trade
server closes the position at (a deal whose ``reason`` is ``DEAL_REASON_SL``/``DEAL_REASON_TP``).
genebot's protective orders of an entry (the execution engine's children: a STOP_MARKET
stop-loss, a LIMIT take-profit, a TRAILING_STOP_MARKET trailing stop) are therefore not sent as
orders: right after the entry's fill their levels are set on the position with one
``TRADE_ACTION_SLTP`` request (stop and target together: the server's own one-cancels-other).
Each child is then ``ACCEPTED`` with the venue id ``sltp:<position ticket>:<sl|tp>``.

* The broker's minimum stop distance (``trade_stops_level`` points from the price the
  position closes at: bid for a long, ask for a short) is checked before sending and again by
  the server (``TRADE_RETCODE_INVALID_STOPS``): the child is rejected, the reason naming the
  minimum distance. A level the price is already through is refused with
  :data:`~genebot.execution.protective.CROSSED`, so the engine exits at market.
* A trailing stop follows the best price seen at each sync (the bid of a long, the ask of a
  short), and a break-even stop moves to the entry once its level is reached: the terminal's
  ``sl`` is moved with ``TRADE_ACTION_SLTP`` (only ever towards the position's favour, never
  nearer than the minimum distance), and the child gets an ``OrderUpdated``.
* At each sync a guarded position that is gone is looked up in the history
  (``history_deals_get(position=)``): its SL/TP deal is the matching child's fill, booked once
  (by deal ticket, as every MT5 fill); the engine then cancels the other child. A position
  closed any other way (genebot's own exit, by hand) ends its children canceled.
* A genebot-side cancel (the engine's: the position was closed by an exit, the sibling
  filled, a restart) clears the level on the terminal (``0``) while the position is open.
* A netting position holds one level of each kind: a newer child of the same kind replaces
  the older one on the terminal, and the older child is canceled ("replaced").

After a restart the children are asked for by their comment (which the terminal never saw):
:meth:`Guards.reply` answers from the position of genebot's ``magic`` on the symbol — open with
levels: working (id ``sltp:<ticket>``, both levels; canceling it clears both); open without:
canceled; closed by its stop or target since: the first child asked takes that deal (the stop
is created before the target, so a stop's hit is the stop's), the others are canceled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from genebot.domain.events import OrderAccepted, OrderCanceled, OrderUpdated
from genebot.domain.orders import Order
from genebot.engine.scan import trailing_stop_rule
from genebot.execution.protective import CROSSED
from genebot.venues.mt5 import retcodes
from genebot.venues.mt5.retcodes import Reaction

if TYPE_CHECKING:
    from genebot.venues.mt5.execution import Mt5ExecutionClient
    from genebot.venues.mt5.symbols import SymbolSpec

log = logging.getLogger("genebot.venues.mt5")
ACTION_SLTP = 6
POSITION_TYPE_BUY = 0
DEAL_ENTRY_IN = 0
DEAL_REASON_SL, DEAL_REASON_TP = 4, 5
KINDS = {"STOP_MARKET": "sl", "TRAILING_STOP_MARKET": "sl", "LIMIT": "tp"}
NATIVE_TYPES = frozenset(KINDS)
ZERO = Decimal(0)


@dataclass
class Guard:
    """One protective child resting as its position's sl or tp."""

    order: Order
    kind: str  # "sl" | "tp"
    position: int  # the position ticket
    level: Decimal
    watermark: Decimal | None = None  # a trailing stop's best price so far
    break_even: tuple[Decimal, Decimal] | None = None  # (level reached, stop moved to)

    @property
    def venue_id(self) -> str:
        return f"sltp:{self.position}:{self.kind}"


def is_guard(order: Order) -> bool:
    """A protective child the position itself holds (rather than an order)."""
    return order.reduce_only and order.parent_id is not None and order.order_type in KINDS


class Guards:
    """The protective children of one MT5 client (see the module docstring)."""

    def __init__(self, client: Mt5ExecutionClient) -> None:
        self.client = client
        self.by_id: dict[str, Guard] = {}
        self.active: dict[tuple[int, str], str] = {}  # (position, kind) -> child's client id
        self.claimed: set[int] = set()  # SL/TP deals handed to a child asked for at restart
        self.cleared: set[int] = set()  # positions whose levels a restart's cancel cleared

    # -- placing --------------------------------------------------------------------------
    def place(self, orders: Sequence[Order]) -> None:
        """Set these children's levels on their position with one TRADE_ACTION_SLTP."""
        client = self.client
        spec = client.specs[orders[0].instrument_id]
        position = self._position(spec.name)
        if position is None or (int(position.type) == POSITION_TYPE_BUY) == orders[0].is_buy:
            for o in orders:
                client._reject(o, f"no {spec.name} position on the terminal for it to protect")
            return
        long = int(position.type) == POSITION_TYPE_BUY
        levels = {KINDS[o.order_type]: _level(o) for o in orders}
        problem = self._problem(spec, long, levels)
        if problem is not None:
            for o in orders:
                client._reject(o, problem)
            return
        reply = self._send(spec, position, levels)
        if reply is not None:
            for o in orders:
                client._reject(o, reply)
            return
        for o in orders:
            self._accept(Guard(o, KINDS[o.order_type], int(position.ticket), _level(o)))

    def _accept(self, guard: Guard) -> None:
        client, order = self.client, guard.order
        coid = order.client_order_id
        if order.order_type == "TRAILING_STOP_MARKET":
            guard.watermark = order.price
        before = self.active.get((guard.position, guard.kind))
        self.by_id[coid] = guard
        self.active[(guard.position, guard.kind)] = coid
        client.venue_ids[coid] = guard.venue_id
        now = client.clock()
        client._report(OrderAccepted(coid, guard.venue_id, now, now))
        old = self.by_id.get(before) if before is not None and before != coid else None
        if old is not None and old.order.is_open:
            self._end(old, f"replaced on the terminal's position by {coid}")

    def _problem(self, spec: SymbolSpec, long: bool, levels: dict[str, Decimal]) -> str | None:
        """A level already crossed (exit now), or nearer than the broker's minimum distance."""
        tick = self.client.mt5.symbol_info_tick(spec.name)
        if tick is None:
            return f"no quote for {spec.name}"
        close_px = Decimal(str(tick.bid if long else tick.ask))
        sign = 1 if long else -1
        for kind, level in levels.items():
            away = (close_px - level) * sign if kind == "sl" else (level - close_px) * sign
            if away <= 0:
                what = "stop" if kind == "sl" else "target"
                return f"{CROSSED}: the price {close_px} is already through the {what} {level}"
            if away < spec.min_stop_distance:
                return (
                    f"{retcodes.describe(retcodes.INVALID_STOPS)}: {kind} {level} is "
                    f"{abs(away)} from the price {close_px}; the broker's minimum stop distance "
                    f"is {spec.min_stop_distance}"
                )
        return None

    def _send(self, spec: SymbolSpec, position: Any, levels: dict[str, Decimal]) -> str | None:
        """TRADE_ACTION_SLTP with ``levels`` (the other kind kept); None when done, else why.
        SLTP sets absolute levels, so an unanswered one is asked about, then sent once more."""
        mt5 = self.client.mt5
        request = {
            "action": ACTION_SLTP, "symbol": spec.name, "position": int(position.ticket),
            "sl": float(levels.get("sl", Decimal(str(position.sl)))),
            "tp": float(levels.get("tp", Decimal(str(position.tp)))),
            "magic": self.client.magic,
        }  # fmt: skip
        for _ in range(2):
            result = mt5.order_send(request)
            code = None if result is None else int(result.retcode)
            row = retcodes.lookup(code)
            if row.reaction is Reaction.DONE or code == retcodes.NO_CHANGES:
                return None
            if row.reaction is not Reaction.QUERY:
                break
            now = self._position(spec.name)
            if now is not None and (now.sl, now.tp) == (request["sl"], request["tp"]):
                return None
        broker = str(getattr(result, "comment", "") or "") if result is not None else ""
        text = retcodes.describe(
            code, broker or (f"last_error {mt5.last_error()}" if code is None else "")
        )
        if code == retcodes.INVALID_STOPS:
            text += f"; the broker's minimum stop distance is {spec.min_stop_distance}"
        elif row.reaction is Reaction.CLOSED:
            text += "; market closed"
        return text

    def _position(self, symbol: str) -> Any:
        rows = self.client.mt5.positions_get(symbol=symbol) or ()
        mine = [p for p in rows if int(p.magic) == self.client.magic] or list(rows)
        return mine[0] if mine else None

    # -- canceling ------------------------------------------------------------------------
    def cancel(self, order: Order, reason: str) -> None:
        guard = self.by_id.get(order.client_order_id)
        if guard is None:
            return
        self._hits(guard.position)  # a hit the terminal made first is a fill, not a cancel
        if not order.is_open:
            return
        mine = self.active.get((guard.position, guard.kind)) == order.client_order_id
        if mine and not self._clear(guard.position, {guard.kind}):
            log.error("%s: the terminal kept its %s; not canceled", order.client_order_id,
                      guard.kind)  # fmt: skip
            return
        self._end(guard, reason)

    def _clear(self, ticket: int, kinds: set[str]) -> bool:
        """Set the position's ``kinds`` levels to 0 (True also when the position is gone)."""
        rows = self.client.mt5.positions_get(ticket=ticket)
        if not rows:
            return True
        spec = next(s for s in self.client.specs.values() if s.name == str(rows[0].symbol))
        return self._send(spec, rows[0], dict.fromkeys(kinds, ZERO)) is None

    def _end(self, guard: Guard, reason: str) -> None:
        coid = guard.order.client_order_id
        self.by_id.pop(coid, None)
        if self.active.get((guard.position, guard.kind)) == coid:
            del self.active[(guard.position, guard.kind)]
        self.client.working.pop(coid, None)
        now = self.client.clock()
        self.client._report(OrderCanceled(coid, reason, now, now))

    # -- what the terminal did ------------------------------------------------------------
    def sync(self) -> None:
        """Hits booked, closed positions' children ended, trailing and break-even moved."""
        for ticket in sorted({g.position for g in self.by_id.values()}):
            if self.client.mt5.positions_get(ticket=ticket):
                self._follow(ticket)
                continue
            self._hits(ticket)
            for guard in [g for g in self.by_id.values() if g.position == ticket]:
                if guard.order.is_open:
                    self._end(guard, "the position was closed on the terminal")

    def _hits(self, ticket: int) -> None:
        for deal in self.client.mt5.history_deals_get(position=ticket) or ():
            reason = int(getattr(deal, "reason", -1))
            if int(deal.entry) == DEAL_ENTRY_IN or reason not in (DEAL_REASON_SL, DEAL_REASON_TP):
                continue
            coid = self.active.get((ticket, "sl" if reason == DEAL_REASON_SL else "tp"))
            guard = self.by_id.get(coid or "")
            if guard is None or not guard.order.is_open:
                continue
            self.client._fill(guard.order, deal, guard.order.leaves_qty)
            if not guard.order.is_open:
                self.by_id.pop(guard.order.client_order_id, None)
                self.client.working.pop(guard.order.client_order_id, None)

    def _follow(self, ticket: int) -> None:
        """Move a trailing or break-even stop of the open position ``ticket``."""
        coid = self.active.get((ticket, "sl"))
        guard = self.by_id.get(coid or "")
        if guard is None or (guard.watermark is None and guard.break_even is None):
            return
        client, order = self.client, guard.order
        spec = client.specs[order.instrument_id]
        tick = client.mt5.symbol_info_tick(spec.name)
        if tick is None:
            return
        long = not order.is_buy
        px = Decimal(str(tick.bid if long else tick.ask))
        stop = guard.level
        if guard.watermark is not None:
            better = px > guard.watermark if long else px < guard.watermark
            guard.watermark = px if better else guard.watermark
            inst = client.instruments[order.instrument_id]
            rule = trailing_stop_rule(inst.round_price, order.is_buy, order.trailing_offset)
            stop = rule(guard.watermark)
        if guard.break_even is not None and (px >= guard.break_even[0]) == long:
            stop = max(stop, guard.break_even[1]) if long else min(stop, guard.break_even[1])
            guard.break_even = None
        self._move(guard, spec, px, stop)

    def _move(self, guard: Guard, spec: SymbolSpec, px: Decimal, stop: Decimal) -> None:
        long = not guard.order.is_buy
        limit = px - spec.min_stop_distance if long else px + spec.min_stop_distance
        stop = min(stop, limit) if long else max(stop, limit)
        if (stop <= guard.level) if long else (stop >= guard.level):
            return  # a stop only moves in the position's favour
        rows = self.client.mt5.positions_get(ticket=guard.position)
        if not rows or self._send(spec, rows[0], {"sl": stop}) is not None:
            return
        guard.level = stop
        now = self.client.clock()
        self.client._report(OrderUpdated(guard.order.client_order_id, stop, now, now))

    def set_break_even(self, order: Order, level: Decimal, new_stop: Decimal) -> None:
        guard = self.by_id.get(order.client_order_id)
        if guard is not None and guard.kind == "sl":
            guard.break_even = (level, new_stop)

    # -- a restart's questions (the ccxt facade) ------------------------------------------
    def reply(self, comment: str, spec: SymbolSpec) -> dict[str, Any] | None:
        """What the facade answers for a genebot comment the terminal has no order of: a
        protective child's (see the module docstring), else None (not on the terminal).
        Only a comment made after the guarded position's entry can be one of its children
        (the same deployment: a later order number; another one: a restart's re-placed)."""
        guard = self.by_id.get(self.client.genebot_id(comment) or "")
        if guard is not None:
            return _reply(guard.venue_id, "open", ZERO, guard.position)
        position = self._position(spec.name)
        if position is not None:
            ticket = int(position.ticket)
            if not _after(comment, str(position.comment), self.client.family):
                return None
            if (float(position.sl) or float(position.tp)) and ticket not in self.cleared:
                return _reply(f"sltp:{ticket}", "open", ZERO, ticket)
            return _reply(f"sltp:{ticket}", "canceled", ZERO, ticket)
        deal, opening = self._last_close(spec)
        if deal is None or not _after(comment, opening, self.client.family):
            return None
        ticket = int(deal.position_id)
        hit = int(getattr(deal, "reason", -1)) in (DEAL_REASON_SL, DEAL_REASON_TP)
        if not hit or int(deal.ticket) in self.claimed:  # closed otherwise, or taken
            return _reply(f"sltp:{ticket}", "canceled", ZERO, ticket)
        self.claimed.add(int(deal.ticket))
        return _reply(str(deal.order), "closed", spec.units(float(deal.volume)), None)

    def _last_close(self, spec: SymbolSpec) -> tuple[Any, str]:
        """genebot's newest deal on the symbol (it closed the position: none is open), and
        the comment of that position's opening deal."""
        since, until = self.client._history_window()
        rows = self.client.mt5.history_deals_get(since, until) or ()
        mine = [d for d in rows if d.symbol == spec.name and int(d.magic) == self.client.magic]
        last = max(mine, key=lambda d: (int(d.time_msc), int(d.ticket)), default=None)
        if last is None:
            return None, ""
        opening = [d for d in mine if d.position_id == last.position_id and int(d.entry) == 0]
        return last, str(opening[0].comment) if opening else ""

    def cancel_venue_id(self, venue_id: str) -> bool:
        """The facade's cancel of ``sltp:<ticket>[:<kind>]``: clear those levels."""
        _, ticket, *kind = venue_id.split(":")
        kinds = set(kind) or {"sl", "tp"}
        for k in kinds:
            coid = self.active.get((int(ticket), k))
            if coid is not None and coid in self.by_id:
                self._end(self.by_id[coid], "canceled")
        self.cleared.add(int(ticket))
        return self._clear(int(ticket), kinds)


def _level(order: Order) -> Decimal:
    level = order.price if order.order_type == "LIMIT" else order.trigger_price
    return Decimal(level or 0)


def _reply(vid: str, status: str, filled: Decimal, oco: int | None) -> dict[str, Any]:
    info = {"orderListId": str(oco)} if oco is not None else {}
    return {"id": vid, "status": status, "filled": float(filled), "info": info}


def _after(comment: str, opening: str, family: str) -> bool:
    """Whether genebot's ``comment`` was made after the order that opened a position
    (``opening``): another deployment's, or a higher order number of the same one."""
    mine, theirs = _key(comment, family), _key(opening, family)
    if mine is None or theirs is None:
        return False
    return mine[0] != theirs[0] or mine[1] > theirs[1]


def _key(comment: str, family: str) -> tuple[str, int] | None:
    """(deployment tag, order number) of a genebot comment (``gb-<tag>-O-00000012``)."""
    if not comment.startswith(family):
        return None
    tag, _, coid = comment[len(family) :].partition("-")
    digits = coid.rpartition("-")[2]
    return (tag, int(digits)) if digits.isdigit() else None
