"""Seed 002's stop-loss / take-profit service: protective orders on open positions, checked
against prices; trailing stops follow the best price; when one order of a position triggers,
its other active orders are canceled (seed: "counterpart order cancellation"). Money: Decimal.

Event-sourced: every change (create, trailing move, trigger, cancel) is written to the
append-only journal (``api.sltp_*``) and then applied; the book is rebuilt from those entries
on first use, so a restarted API keeps its active orders. An order naming a ``deployment_id``
closes that runner's position at market when it triggers (the service's ``closer``).
:class:`PriceMonitor` checks the book every few seconds in a daemon thread; its default
prices are :func:`deployment_marks`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import select

from genebot.core.errors import GenebotError, InputError
from genebot.live.status_store import read_status
from genebot.persistence.database import Database
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import JournalEntry

log = logging.getLogger(__name__)

Kind = Literal["stop_loss", "take_profit", "trailing_stop"]
Side = Literal["buy", "sell"]
PREFIX: dict[str, str] = {"stop_loss": "sl", "take_profit": "tp", "trailing_stop": "ts"}
LABEL = {"stop_loss": "Stop-loss", "take_profit": "Take-profit", "trailing_stop": "Trailing stop"}
PCT_NAME = dict(
    stop_loss="stop_loss_pct", take_profit="take_profit_pct", trailing_stop="trailing_pct"
)
CREATED, TRAILED = "sltp_created", "sltp_trailed"
TRIGGERED, CANCELED = "sltp_triggered", "sltp_canceled"
KINDS = [f"api.{action}" for action in (CREATED, TRAILED, TRIGGERED, CANCELED)]
MONEY = ("quantity", "entry_price", "pct", "trigger_price", "best_price", "triggered_price")
MONITOR_WHO = "sltp-monitor"  # whom the monitor's changes are journaled as
THREAD_NAME = "genebot-sltp-monitor"
MARK_MAX_AGE_S = 120.0  # a deployment's marks older than this are not prices any more
ONE = Decimal(1)


# ``ApiContext.journal``: (who, action, subject, detail, deployment_id) -> an api.<action> entry
Journal = Callable[[str, str, str, Mapping[str, object], str | None], None]
PriceSource = Callable[[], Mapping[str, Decimal | float | str]]  # bad prices are skipped
# (order, trigger price, who) -> what was done about the runner's position (``position_close``)
Closer = Callable[["ProtectiveOrder", Decimal, str], dict[str, Any]]


class UnknownOrder(InputError):
    """No protective order with that id."""


class OrderConflict(GenebotError):
    """The order is not in a state that allows the change (answers 409)."""


def shown(value: Decimal) -> Decimal:
    """The same number as the seed prints it: ``49000.000`` -> ``49000.0``."""
    n = value.normalize()
    return n.quantize(Decimal("0.1")) if n == n.to_integral_value() else n


def stop_price(side: str, ref: Decimal, pct: Decimal) -> Decimal:
    """``pct`` against the position: below a long's ``ref``, above a short's."""
    return ref * (ONE - pct) if side == "buy" else ref * (ONE + pct)


def first_trigger(kind: str, side: str, entry: Decimal, pct: Decimal) -> Decimal:
    if kind == "take_profit":
        return entry * (ONE + pct) if side == "buy" else entry * (ONE - pct)
    return stop_price(side, entry, pct)


@dataclass(frozen=True)
class OrderSpec:
    """What a caller asks for: the position (its side is the entry's: buy = long)."""

    position_id: str
    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    pct: Decimal
    user_id: str | None = None
    deployment_id: str | None = None
    strategy: str | None = None  # the runner's strategy holding the position (None: any)


@dataclass
class ProtectiveOrder:
    order_id: str
    type: Kind
    position_id: str
    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    pct: Decimal
    trigger_price: Decimal
    created_at: str
    status: str = "active"  # active | triggered | canceled
    best_price: Decimal | None = None  # trailing stops: the best price seen
    user_id: str | None = None
    deployment_id: str | None = None
    strategy: str | None = None
    triggered_price: Decimal | None = None
    closed_at: str | None = None
    reason: str | None = None

    def hit(self, price: Decimal) -> bool:
        """Whether ``price`` reaches the trigger (take-profit: in favour; stops: against)."""
        long = self.side == "buy"
        if (self.type == "take_profit") == long:
            return price >= self.trigger_price
        return price <= self.trigger_price

    def trail(self, price: Decimal) -> Decimal | None:
        """A trailing stop's new trigger if ``price`` is a new best, else None."""
        if self.type != "trailing_stop" or self.best_price is None:
            return None
        better = price > self.best_price if self.side == "buy" else price < self.best_price
        return stop_price(self.side, price, self.pct) if better else None

    def record(self) -> dict[str, Any]:
        return asdict(self)

    def view(self) -> dict[str, Any]:
        """The API's shape: exact numbers, the percentage under the seed's name."""
        out = {k: shown(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}
        out[PCT_NAME[self.type]] = out.pop("pct")
        return out

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> ProtectiveOrder:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in MONEY:
            if fields.get(key) is not None:
                fields[key] = Decimal(str(fields[key]))
        return cls(**fields)


class SlTpBook:
    """The latest state of every order id; changed only by :meth:`apply` (live or replay)."""

    def __init__(self) -> None:
        self.orders: dict[str, ProtectiveOrder] = {}

    def apply(self, action: str, detail: Mapping[str, Any]) -> None:
        if action == CREATED:
            order = ProtectiveOrder.from_record(detail)
            self.orders.pop(order.order_id, None)  # a re-created id goes to the end
            self.orders[order.order_id] = order
            return
        found = self.orders.get(str(detail.get("order_id")))
        if found is None or found.status != "active":
            return
        if action == TRAILED:
            found.best_price = Decimal(str(detail["best_price"]))
            found.trigger_price = Decimal(str(detail["trigger_price"]))
        elif action == TRIGGERED:
            found.status, found.closed_at = "triggered", str(detail["at"])
            found.triggered_price = Decimal(str(detail["triggered_price"]))
        elif action == CANCELED:
            found.status, found.closed_at = "canceled", str(detail["at"])
            found.reason = str(detail.get("reason") or "")

    def active(self) -> list[ProtectiveOrder]:
        return [o for o in self.orders.values() if o.status == "active"]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SlTpService:
    """The book over a database: journal first, then apply; rebuilt from the journal."""

    def __init__(self, db: Database, journal: Journal, closer: Closer | None = None) -> None:
        self.db, self._journal, self.closer = db, journal, closer
        self.book = SlTpBook()
        self._lock = threading.RLock()
        self._loaded = False

    def _ready(self) -> SlTpBook:
        if not self._loaded:
            self._replay()
            self._loaded = True
        return self.book

    def _replay(self) -> None:
        query = (
            select(JournalEntry.kind, JournalEntry.payload)
            .where(JournalEntry.kind.in_(KINDS))
            .order_by(JournalEntry.id)
        )
        with self.db.reader() as session:
            rows = session.execute(query).all()
        for kind, payload in rows:
            try:
                self.book.apply(kind.removeprefix("api."), json.loads(payload))
            except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
                log.warning("sl-tp: skipping an unreadable %s journal entry (%s)", kind, exc)

    def _record(self, who: str, action: str, detail: dict[str, Any], dep: str | None) -> None:
        self._journal(who, action, str(detail["order_id"]), detail, dep)
        self.book.apply(action, detail)

    def create(self, who: str, kind: Kind, spec: OrderSpec) -> ProtectiveOrder:
        order_id = f"{PREFIX[kind]}_{spec.position_id}"
        trigger = first_trigger(kind, spec.side, spec.entry_price, spec.pct)
        if trigger <= 0:
            raise InputError(f"{PCT_NAME[kind]}: {spec.pct} puts the trigger at or below zero")
        with self._lock:
            old = self._ready().orders.get(order_id)
            if old is not None and old.status == "active":
                raise OrderConflict(
                    f"order {order_id} is already active at {shown(old.trigger_price)}: "
                    "cancel it first"
                )
            order = ProtectiveOrder(
                order_id=order_id,
                type=kind,
                trigger_price=trigger,
                best_price=spec.entry_price if kind == "trailing_stop" else None,
                created_at=_now(),
                **asdict(spec),
            )
            self._record(who, CREATED, order.record(), spec.deployment_id)
            return replace(self.book.orders[order_id])

    def check(self, prices: Mapping[str, Decimal], who: str) -> list[dict[str, Any]]:
        """Move the trailing stops, trigger what the prices reach (canceling counterparts)."""
        fired: list[dict[str, Any]] = []
        with self._lock:
            for order in self._ready().active():
                price = prices.get(order.symbol)
                if price is None or order.status != "active":
                    continue  # (canceled as a counterpart earlier in this pass)
                stop = order.trail(price)
                if stop is not None:
                    detail = {"order_id": order.order_id, "best_price": price}
                    detail |= {"trigger_price": stop, "previous": order.trigger_price}
                    self._record(who, TRAILED, detail, order.deployment_id)
                if order.hit(price):
                    fired.append(self._fire(order, price, who))
        return fired

    def _fire(self, order: ProtectiveOrder, price: Decimal, who: str) -> dict[str, Any]:
        at = _now()
        detail: dict[str, Any] = {"order_id": order.order_id, "triggered_price": price, "at": at}
        detail["trigger_price"] = order.trigger_price
        self._record(who, TRIGGERED, detail, order.deployment_id)
        canceled = []
        for other in self.book.active():
            if other.position_id == order.position_id:
                why = f"counterpart {order.order_id} triggered"
                detail = {"order_id": other.order_id, "reason": why, "at": at}
                self._record(who, CANCELED, detail, other.deployment_id)
                canceled.append(other.order_id)
        out = {**order.view(), "canceled_counterparts": canceled}
        if order.deployment_id is not None and self.closer is not None:
            out["position_close"] = self.closer(order, price, who)
        return out

    def cancel(self, order_id: str, who: str, reason: str) -> ProtectiveOrder:
        with self._lock:
            order = self._ready().orders.get(order_id)
            if order is None:
                raise UnknownOrder(f"no stop-loss/take-profit order {order_id!r}")
            if order.status != "active":
                raise OrderConflict(f"order {order_id} is {order.status}, not active")
            detail = {"order_id": order_id, "reason": reason, "at": _now()}
            self._record(who, CANCELED, detail, order.deployment_id)
            return replace(order)

    def active(self, **where: str | None) -> list[ProtectiveOrder]:
        """The active orders, optionally only those whose fields equal ``where``'s values."""
        wanted = {k: v for k, v in where.items() if v is not None}
        with self._lock:
            orders = self._ready().active()
            return [
                replace(o) for o in orders if all(getattr(o, k) == v for k, v in wanted.items())
            ]

    def symbols(self) -> list[str]:
        return sorted({o.symbol for o in self.active()})


def _fresh(stamp: object, cutoff: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) >= cutoff


def as_price(value: object) -> Decimal | None:
    """A positive finite Decimal from ``value`` (a mark, a source's price), else None."""
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price > 0 else None


def deployment_marks(db: Database, max_age_s: float = MARK_MAX_AGE_S) -> dict[str, Decimal]:
    """Each symbol's latest mark among the running deployments' positions (the freshest status
    row wins; rows older than ``max_age_s`` are skipped: a stopped runner's marks are stale)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=max_age_s)
    best: dict[str, tuple[str, Decimal]] = {}
    for dep in DeploymentRepository(db).recent():
        status = read_status(db, dep.id) if dep.status == "running" else None
        if status is None or not _fresh(status.get("updated_at"), cutoff):
            continue
        stamp = str(status["updated_at"])
        for position in status.get("positions") or []:
            price, symbol = as_price(position.get("current_price")), position.get("symbol")
            if price is not None and symbol and (symbol not in best or best[symbol][0] < stamp):
                best[str(symbol)] = (stamp, price)
    return {symbol: price for symbol, (_, price) in best.items()}


class PriceMonitor:
    """Checks the service's active orders against ``prices()`` every ``interval`` seconds, in
    a daemon thread that :meth:`stop` ends (and that never outlives the process)."""

    def __init__(self, service: SlTpService, prices: PriceSource) -> None:
        self.service, self.prices = service, prices
        self.interval = 5
        self.checks = self.triggered_total = 0
        self.last_check: str | None = None
        self.last_error: str | None = None
        self.priced: list[str] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, interval: int) -> None:
        """Start checking (a running monitor restarts at the new interval)."""
        with self._lock:
            self._halt()
            self.interval, self._stop = interval, threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop, interval), name=THREAD_NAME, daemon=True
            )
            self._thread.start()

    def stop(self) -> bool:
        """Stop checking; whether it was running."""
        with self._lock:
            return self._halt()

    def _halt(self) -> bool:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is None:
            return False
        if thread is not threading.current_thread():
            thread.join(timeout=30)
        return True

    def _run(self, stop: threading.Event, interval: int) -> None:
        while not stop.is_set():
            self.tick()
            if stop.wait(interval):
                return

    def tick(self) -> list[dict[str, Any]]:
        """One check: read the prices, check the book; a failure is kept for the status and
        retried at the next check (the monitor never dies of one)."""
        fired: list[dict[str, Any]] = []
        try:
            read = {str(s): as_price(p) for s, p in self.prices().items()}
            prices = {s: p for s, p in read.items() if p is not None}
            fired = self.service.check(prices, MONITOR_WHO) if prices else []
            self.priced, self.last_error = sorted(prices), None
        except Exception as exc:  # a database blip or a bad price source
            log.warning("sl-tp monitor: check failed (%s: %s)", type(exc).__name__, exc)
            self.last_error = f"{type(exc).__name__}: {exc}"
        self.checks += 1
        self.triggered_total += len(fired)
        self.last_check = _now()
        return fired

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "check_interval": self.interval,
            "checks": self.checks,
            "last_check": self.last_check,
            "triggered_total": self.triggered_total,
            "symbols": self.service.symbols(),
            "priced_symbols": self.priced,
            "last_error": self.last_error,
        }
