"""The trading path's store: every order event is durable before the engine acts on it.

:class:`TradingStore` observes the execution engine (``engine.observe(store.on_order_event)``).
The engine calls its observers synchronously, and ``OrderSubmitted`` is applied before the
order goes to the venue, so the order row (and its journal entry) is committed before the venue
ever hears of the order. Each event is one transaction: the order row, the fill row and the
journal entry are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Table, event, insert, select
from sqlalchemy.orm import Session

from genebot.core.time import ns_to_datetime
from genebot.domain.events import (
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
)
from genebot.domain.orders import Order, OrderStatus
from genebot.domain.position import ClosedTrade, Position
from genebot.persistence.codec import event_payload, to_json
from genebot.persistence.database import Database
from genebot.persistence.tables import (
    BalanceRow,
    EquitySnapshot,
    FillRow,
    JournalEntry,
    KillSwitchEvent,
    OrderRow,
    PositionRow,
    RiskEventRow,
    TradeRow,
)

WallClock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class TradingStore:
    """Writes one deployment's orders, fills, trades, positions, equity and risk history."""

    def __init__(self, db: Database, deployment_id: str, *, clock: WallClock = _now) -> None:
        self.db = db
        self.deployment_id = deployment_id
        self._clock = clock

    # -- orders -----------------------------------------------------------------------------
    def on_order_event(self, event: OrderEvent) -> None:
        """Store one order event (observer of the execution engine)."""
        self.on_order_events([event])

    def on_order_events(self, events: Sequence[OrderEvent]) -> None:
        """Store order events in order, in one transaction (all or none)."""
        with self.db.session() as session:
            rows: dict[str, OrderRow] = {}  # this batch's orders: no query for each event
            for event in events:
                if type(event) is OrderInitialized:
                    row = rows[event.client_order_id] = self._new_order(event)
                    session.add(row)
                else:
                    self._update_order(session, event, rows)
                kind = type(event).__name__
                self._journal(session, kind, "engine", event.client_order_id, event)

    def _new_order(self, init: OrderInitialized) -> OrderRow:
        when = ns_to_datetime(init.ts_event)
        return OrderRow(
            deployment_id=self.deployment_id,
            client_order_id=init.client_order_id,
            strategy_id=init.strategy_id,
            instrument_id=init.instrument_id,
            side=init.side,
            order_type=init.order_type,
            quantity=init.quantity,
            price=init.price,
            trigger_price=init.trigger_price,
            trailing_offset=init.trailing_offset,
            time_in_force=init.time_in_force,
            reduce_only=init.reduce_only,
            tag=init.tag,
            parent_id=init.parent_id,
            status="INITIALIZED",
            filled_qty=Decimal(0),
            avg_px=Decimal(0),
            reason="",
            ts_init=init.ts_init,
            ts_last=init.ts_event,
            created_at=when,
            updated_at=when,
        )

    def _update_order(self, session: Session, event: OrderEvent, rows: dict[str, OrderRow]) -> None:
        row = rows.get(event.client_order_id)
        if row is None:
            row = rows[event.client_order_id] = session.scalars(
                select(OrderRow).where(
                    OrderRow.deployment_id == self.deployment_id,
                    OrderRow.client_order_id == event.client_order_id,
                )
            ).one()
        order = _replayable(row)
        order.apply(event)  # the same transition table as the engine: an illegal move raises
        row.status = order.status.value
        row.filled_qty = order.filled_qty
        row.avg_px = order.avg_px
        row.trigger_price = order.trigger_price
        row.reason = order.reason
        row.ts_last = event.ts_event
        row.updated_at = ns_to_datetime(event.ts_event)
        if type(event) is OrderAccepted:
            row.venue_order_id = event.venue_order_id
        elif type(event) is OrderFilled:
            if row.id is None:
                session.flush()  # the new order's id, for its fill
            session.add(_fill_row(row.id, event))

    # -- round trips, positions, equity -------------------------------------------------------
    def record_trade(self, trade: ClosedTrade) -> None:
        with self.db.session() as session:
            session.add(trade_row(trade, deployment_id=self.deployment_id))
            payload = {**trade._asdict(), "ts_event": trade.exit_ts}
            self._journal(session, "TradeClosed", "engine", trade.strategy_id, payload)

    def save_position(self, strategy_id: str, instrument_id: str, position: Position) -> None:
        """Upsert the latest state of one position."""
        with self.db.session() as session:
            row = session.scalars(
                select(PositionRow).where(
                    PositionRow.deployment_id == self.deployment_id,
                    PositionRow.strategy_id == strategy_id,
                    PositionRow.instrument_id == instrument_id,
                )
            ).one_or_none()
            if row is None:
                row = PositionRow(
                    deployment_id=self.deployment_id,
                    strategy_id=strategy_id,
                    instrument_id=instrument_id,
                )
                session.add(row)
            row.quantity = position.quantity
            row.avg_price = position.avg_px
            row.cost = position.cost
            row.realized_pnl = position.realized_pnl
            row.updated_at = self._clock()

    def record_equity(
        self, ts_ns: int, equity: Decimal, cash: Decimal, balances: dict[tuple[str, str], Decimal]
    ) -> None:
        """One equity snapshot and the per-(venue, currency) balances behind it."""
        when = ns_to_datetime(ts_ns)
        with self.db.session() as session:
            session.add(
                EquitySnapshot(deployment_id=self.deployment_id, ts=when, equity=equity, cash=cash)
            )
            for (venue, currency), total in sorted(balances.items()):
                session.add(
                    BalanceRow(
                        deployment_id=self.deployment_id,
                        ts=when,
                        venue=venue,
                        currency=currency,
                        total=total,
                    )
                )

    # -- risk and operator actions ------------------------------------------------------------
    def record_risk_event(
        self, ts_ns: int, strategy: str, symbol: str, rule: str, action: str, detail: str
    ) -> None:
        self.record_risk_events([(ts_ns, strategy, symbol, rule, action, detail)])

    def record_risk_events(self, events: Sequence[tuple[int, str, str, str, str, str]]) -> None:
        """Risk decisions (ts, strategy, symbol, rule, action, detail) in one transaction."""
        with self.db.session() as session:
            for ts_ns, strategy, symbol, rule, action, detail in events:
                self._risk_event(session, ts_ns, strategy, symbol, rule, action, detail)

    def _risk_event(
        self,
        session: Session,
        ts_ns: int,
        strategy: str,
        symbol: str,
        rule: str,
        action: str,
        detail: str,
    ) -> None:
        session.add(
            RiskEventRow(
                deployment_id=self.deployment_id,
                ts=ns_to_datetime(ts_ns),
                strategy=strategy,
                symbol=symbol,
                rule=rule,
                action=action,
                detail=detail,
            )
        )
        payload: dict[str, object] = {"rule": rule, "detail": detail, "ts_event": ts_ns}
        self._journal(session, f"risk.{action}", "engine", strategy, payload)

    def record_kill_switch(self, kind: str, rule: str, who: str, reason: str) -> None:
        """A kill switch tripped (``activated``, who = "engine") or was reset by an operator."""
        with self.db.session() as session:
            session.add(
                KillSwitchEvent(
                    deployment_id=self.deployment_id,
                    ts=self._clock(),
                    kind=kind,
                    rule=rule,
                    who=who,
                    reason=reason,
                )
            )
            actor = "engine" if kind == "activated" else f"operator:{who}"
            self._journal(session, f"kill_switch.{kind}", actor, rule, {"reason": reason})

    def operator_action(
        self, who: str, action: str, subject: str, detail: dict[str, object]
    ) -> None:
        """Journal an operator's command (pause, resume, force rebalance, emergency stop …)."""
        with self.db.session() as session:
            self._journal(session, f"operator.{action}", f"operator:{who}", subject, detail)

    def record_runtime(self, kind: str, subject: str, payload: dict[str, object]) -> None:
        """A runtime record (``runtime.checkpoint``, ``runtime.finished``, ...)."""
        with self.db.session() as session:
            self._journal(session, kind, "runtime", subject, payload)

    def _journal(
        self,
        session: Session,
        kind: str,
        actor: str,
        subject: str,
        payload: OrderEvent | dict[str, object],
    ) -> None:
        text = to_json(payload) if isinstance(payload, dict) else event_payload(payload)
        ts = payload.get("ts_event") if isinstance(payload, dict) else payload.ts_event
        # the session's entries go in one executemany before it commits (_insert_journal)
        session.info.setdefault(_JOURNAL, []).append(
            {
                "deployment_id": self.deployment_id,
                "recorded_at": self._clock(),
                "ts_event": ts if isinstance(ts, int) else 0,
                "kind": kind,
                "actor": actor,
                "subject": subject,
                "payload": text,
            }
        )


_JOURNAL = "genebot.journal"


def _insert_journal(session: Session) -> None:
    """A session's journal entries, in the order written, as one multi-row insert (the ORM's
    unit of work costs ~10× more per row; nothing reads an entry before its commit)."""
    rows = session.info.pop(_JOURNAL, None)
    if rows:
        table = JournalEntry.__table__
        assert isinstance(table, Table)
        session.connection().execute(insert(table), rows)


event.listen(Session, "before_commit", _insert_journal)


def _replayable(row: OrderRow) -> Order:
    """The row as a domain order, so the next event is checked by the transition table."""
    order = Order(
        OrderInitialized(
            row.client_order_id,
            row.strategy_id,
            row.instrument_id,
            row.side,
            row.order_type,
            row.quantity,
            row.price,
            row.trigger_price,
            row.time_in_force,
            row.reduce_only,
            row.tag,
            row.parent_id,
            row.trailing_offset,
            row.ts_init,
            row.ts_init,
        )
    )
    order.status = OrderStatus(row.status)
    if order.status is OrderStatus.PENDING_CANCEL:  # what a refused cancel goes back to
        partly = row.filled_qty > 0
        order.prior_status = OrderStatus.PARTIALLY_FILLED if partly else OrderStatus.ACCEPTED
    order.filled_qty = row.filled_qty
    order.avg_px = row.avg_px
    return order


def _fill_row(order_id: int, fill: OrderFilled) -> FillRow:
    return FillRow(
        order_id=order_id,
        trade_id=fill.trade_id,
        instrument_id=fill.instrument_id,
        side=fill.side,
        quantity=fill.last_qty,
        price=fill.last_px,
        fee=fill.fee,
        fee_currency=fill.fee_currency,
        liquidity=fill.liquidity,
        ts_event=fill.ts_event,
        filled_at=ns_to_datetime(fill.ts_event),
    )


def trade_row(
    trade: ClosedTrade, *, deployment_id: str | None = None, backtest_run_id: int | None = None
) -> TradeRow:
    return TradeRow(**trade_values(trade, deployment_id, backtest_run_id))


def trade_values(
    trade: ClosedTrade, deployment_id: str | None, backtest_run_id: int | None
) -> dict[str, object]:
    return {
        "deployment_id": deployment_id,
        "backtest_run_id": backtest_run_id,
        "strategy_id": trade.strategy_id,
        "instrument_id": trade.instrument_id,
        "side": trade.side,
        "entry_time": ns_to_datetime(trade.entry_ts),
        "entry_price": trade.entry_price,
        "exit_time": ns_to_datetime(trade.exit_ts),
        "exit_price": trade.exit_price,
        "quantity": trade.quantity,
        "pnl": trade.pnl,
        "fees": trade.fees,
        "exit_reason": trade.exit_reason,
    }
