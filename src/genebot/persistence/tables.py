"""The database schema as typed SQLAlchemy models. Alembic migrations are the source of truth
for the live schema; a test proves these models and the migrations agree.

Money and quantities use :class:`ExactDecimal`, times :class:`UtcDateTime`. Rows that belong to a
trading session point at a ``deployments`` row; rows of a backtest at a ``backtest_runs`` row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from genebot.persistence.types import ExactDecimal, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Deployment(Base):
    """A running strategy set: paper or live, with the config it runs."""

    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint("mode IN ('paper', 'live')", name="mode"),
        CheckConstraint("status IN ('running', 'stopped', 'crashed')", name="status"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10))
    config: Mapped[str] = mapped_column(Text)  # JSON, secrets redacted
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OrderRow(Base):
    """One order's latest state, with every field needed to rebuild it."""

    __tablename__ = "orders"
    # Client order ids are unique within a deployment (each engine numbers its own orders).
    __table_args__ = (
        UniqueConstraint("deployment_id", "client_order_id", name="deployment_order"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(64))
    venue_order_id: Mapped[str | None] = mapped_column(String(128))
    strategy_id: Mapped[str] = mapped_column(String(100))
    instrument_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    trigger_price: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    trailing_offset: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    time_in_force: Mapped[str] = mapped_column(String(8))
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    tag: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    filled_qty: Mapped[Decimal] = mapped_column(ExactDecimal)
    avg_px: Mapped[Decimal] = mapped_column(ExactDecimal)
    reason: Mapped[str] = mapped_column(Text, default="")
    ts_init: Mapped[int] = mapped_column(BigInteger)  # ns, exact
    ts_last: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("order_id", "trade_id", name="order_trade"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    trade_id: Mapped[str] = mapped_column(String(128))
    instrument_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    price: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee: Mapped[Decimal] = mapped_column(ExactDecimal)
    fee_currency: Mapped[str] = mapped_column(String(16))
    liquidity: Mapped[str] = mapped_column(String(8))
    ts_event: Mapped[int] = mapped_column(BigInteger)
    filled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PositionRow(Base):
    """The latest state of one strategy's position in one instrument."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("deployment_id", "strategy_id", "instrument_id", name="key"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    strategy_id: Mapped[str] = mapped_column(String(100))
    instrument_id: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    avg_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    cost: Mapped[Decimal] = mapped_column(ExactDecimal)  # exact basis (avg_price is derived)
    realized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BacktestRun(Base):
    __tablename__ = "backtest_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    strategies: Mapped[str] = mapped_column(Text)  # comma-separated strategy ids
    config: Mapped[str] = mapped_column(Text)  # JSON
    stats: Mapped[str] = mapped_column(Text)  # JSON
    output_dir: Mapped[str | None] = mapped_column(Text)
    start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    final_equity: Mapped[Decimal] = mapped_column(ExactDecimal)
    attribution: Mapped[str | None] = mapped_column(Text)  # JSON rows (orchestrated runs)


class TradeRow(Base):
    """A closed round trip, from a deployment or from a backtest run (exactly one of them)."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("(deployment_id IS NULL) <> (backtest_run_id IS NULL)", name="one_owner"),
        Index("ix_trades_deployment_exit", "deployment_id", "exit_time"),
        Index("ix_trades_run", "backtest_run_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str | None] = mapped_column(ForeignKey("deployments.id"))
    backtest_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("backtest_runs.id", ondelete="CASCADE")
    )
    strategy_id: Mapped[str] = mapped_column(String(100))
    instrument_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(5))
    entry_time: Mapped[datetime] = mapped_column(UtcDateTime)
    entry_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    exit_time: Mapped[datetime] = mapped_column(UtcDateTime)
    exit_price: Mapped[Decimal] = mapped_column(ExactDecimal)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    fees: Mapped[Decimal] = mapped_column(ExactDecimal)
    exit_reason: Mapped[str] = mapped_column(String(64))


class EquitySnapshot(Base):
    __tablename__ = "equity_snapshots"
    __table_args__ = (Index("ix_equity_deployment_ts", "deployment_id", "ts"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    equity: Mapped[Decimal] = mapped_column(ExactDecimal)
    cash: Mapped[Decimal] = mapped_column(ExactDecimal)


class BalanceRow(Base):
    """A currency balance at a moment (the account's ledger as the venue reports it)."""

    __tablename__ = "balances"
    __table_args__ = (Index("ix_balances_deployment_ts", "deployment_id", "ts"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(ExactDecimal)


class RiskEventRow(Base):
    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_deployment_ts", "deployment_id", "ts"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    strategy: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)


class KillSwitchEvent(Base):
    """A kill switch tripping (``activated``) or an operator clearing it (``reset``)."""

    __tablename__ = "kill_switch_events"
    __table_args__ = (CheckConstraint("kind IN ('activated', 'reset')", name="kind"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(64))
    who: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)


class AllocationRow(Base):
    """One strategy's share of capital after a (re)allocation, and what triggered it."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("(deployment_id IS NULL) <> (backtest_run_id IS NULL)", name="one_owner"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str | None] = mapped_column(ForeignKey("deployments.id"), index=True)
    backtest_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("backtest_runs.id", ondelete="CASCADE"), index=True
    )
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    strategy: Mapped[str] = mapped_column(String(100))
    weight: Mapped[Decimal] = mapped_column(ExactDecimal)
    capital: Mapped[Decimal] = mapped_column(ExactDecimal)
    trigger: Mapped[str] = mapped_column(String(64))


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str | None] = mapped_column(ForeignKey("deployments.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)


class JournalEntry(Base):
    """Append-only: every state-changing event and operator action, in order (``id``).

    Database triggers refuse UPDATE and DELETE on this table (see the first migration).
    """

    __tablename__ = "journal"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str | None] = mapped_column(ForeignKey("deployments.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ts_event: Mapped[int] = mapped_column(BigInteger)  # ns of the event itself
    kind: Mapped[str] = mapped_column(String(64))  # e.g. OrderFilled, operator.risk_reset
    actor: Mapped[str] = mapped_column(String(100))  # engine | operator:<who>
    subject: Mapped[str] = mapped_column(String(128), index=True)  # client order id, strategy…
    payload: Mapped[str] = mapped_column(Text)  # JSON, exact numbers as text


def core_table(mapped: type[Base]) -> Table:
    """A mapped class's Core table (for bulk statements that skip the ORM's unit of work)."""
    table = mapped.__table__
    assert isinstance(table, Table)
    return table


class RuntimeStatusRow(Base):
    """A running deployment's latest state (equity, positions with marks, risk state), one row
    per deployment, rewritten a few times a second by its runner: what the API and dashboard
    read, whichever process serves them."""

    __tablename__ = "runtime_status"
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[str] = mapped_column(Text)  # JSON, exact numbers as text


class ExchangeKeyRow(Base):
    """An exchange API key added through the API: the secret parts encrypted at rest (Fernet,
    key from ``GENEBOT_SECRET_KEY``); only exchange, label and permissions are ever listed."""

    __tablename__ = "exchange_keys"
    __table_args__ = (UniqueConstraint("exchange", "label", name="exchange_label"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[str] = mapped_column(String(200))  # comma-separated, e.g. read,trade
    sealed: Mapped[str] = mapped_column(Text)  # Fernet token of the JSON credentials
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HallOfFameRow(Base):
    """An evolved strategy kept by ``genebot evolve``: its genome as readable rules (or
    parameters), its in-sample, walk-forward and held-out statistics, the deflated Sharpe over
    the candidates tried, and the data, periods and seed that produced it."""

    __tablename__ = "hall_of_fame"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    strategy: Mapped[str] = mapped_column(String(100))  # config key: evolved, or a built-in
    rules: Mapped[str] = mapped_column(Text)  # readable genome
    parameters: Mapped[str] = mapped_column(Text)  # JSON: the strategy's parameters
    in_sample: Mapped[str] = mapped_column(Text)  # JSON stats
    walk_forward: Mapped[str] = mapped_column(Text)  # JSON: one stats object per fold
    held_out: Mapped[str] = mapped_column(Text)  # JSON stats
    deflated_sharpe: Mapped[float | None] = mapped_column(Float)
    candidates: Mapped[int] = mapped_column(Integer)  # distinct candidates tried
    data: Mapped[str] = mapped_column(Text)  # JSON: symbol, timeframe, source, bars
    periods: Mapped[str] = mapped_column(Text)  # JSON: in-sample and held-out start/end
    seed: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[str] = mapped_column(Text)  # JSON: population, generations, folds...
