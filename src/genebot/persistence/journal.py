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

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from genebot.core.time import ns_to_datetime
from genebot.domain.events import (
    OrderEvent,
)
from genebot.domain.position import ClosedTrade, Position
from genebot.persistence.bulk import DriverInsert
from genebot.persistence.codec import event_payload, to_json
from genebot.persistence.database import Database
from genebot.persistence.order_rows import OrderRows
from genebot.persistence.tables import (
    BalanceRow,
    EquitySnapshot,
    JournalEntry,
    KillSwitchEvent,
    PositionRow,
    RiskEventRow,
    TradeRow,
    core_table,
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
        self._orders = OrderRows(deployment_id)

    # -- orders -----------------------------------------------------------------------------
    def on_order_event(self, event: OrderEvent) -> None:
        """Store one order event (observer of the execution engine)."""
        self.on_order_events([event])

    def on_order_events(self, events: Sequence[OrderEvent]) -> None:
        """Store order events in order, in one transaction (all or none)."""
        try:
            with self.db.session() as session:
                self._orders.write(session.connection(), events)
                for event in events:
                    kind = type(event).__name__
                    self._journal(session, kind, "engine", event.client_order_id, event)
        except BaseException:
            self._orders.forget(events)
            raise
        self._orders.settle(events)

    # -- round trips, positions, equity -------------------------------------------------------
    def record_trade(self, trade: ClosedTrade) -> None:
        self.record_trades([trade])

    def record_trades(self, trades: Sequence[ClosedTrade]) -> None:
        """Closed round trips in one transaction (one multi-row insert)."""
        if not trades:
            return
        with self.db.session() as session:
            rows = [trade_values(t, self.deployment_id, None) for t in trades]
            session.connection().execute(insert(core_table(TradeRow)), rows)
            for trade in trades:
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
        if not events:
            return
        with self.db.session() as session:
            rows = [
                {
                    "deployment_id": self.deployment_id,
                    "ts": ns_to_datetime(ts_ns),
                    "strategy": strategy,
                    "symbol": symbol,
                    "rule": rule,
                    "action": action,
                    "detail": detail,
                }
                for ts_ns, strategy, symbol, rule, action, detail in events
            ]
            _RISK_INSERT.execute(session.connection(), rows)
            for ts_ns, strategy, _symbol, rule, action, detail in events:
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
                "recorded_at": _recorded_at(session, self._clock),
                "ts_event": ts if isinstance(ts, int) else 0,
                "kind": kind,
                "actor": actor,
                "subject": subject,
                "payload": text,
            }
        )


_JOURNAL = "genebot.journal"
_JOURNAL_INSERT = DriverInsert(
    core_table(JournalEntry),
    ("deployment_id", "recorded_at", "ts_event", "kind", "actor", "subject", "payload"),
)
_RISK_INSERT = DriverInsert(
    core_table(RiskEventRow),
    ("deployment_id", "ts", "strategy", "symbol", "rule", "action", "detail"),
)
_RECORDED_AT = "genebot.recorded_at"


def _recorded_at(session: Session, clock: WallClock) -> datetime:
    """One wall time per transaction: its entries are recorded together."""
    when = session.info.get(_RECORDED_AT)
    if when is None:
        when = session.info[_RECORDED_AT] = clock()
    return when


def _insert_journal(session: Session) -> None:
    """A session's journal entries, in the order written, as one multi-row insert (the ORM's
    unit of work costs ~10× more per row; nothing reads an entry before its commit)."""
    rows = session.info.pop(_JOURNAL, None)
    session.info.pop(_RECORDED_AT, None)
    if rows:
        _JOURNAL_INSERT.execute(session.connection(), rows)


event.listen(Session, "before_commit", _insert_journal)


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
