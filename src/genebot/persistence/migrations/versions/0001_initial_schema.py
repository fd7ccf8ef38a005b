"""Initial schema: every table genebot stores, and the append-only journal guard.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 07:23:07.254632
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genebot.persistence.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _tables_1()
    _tables_2()
    _tables_3()
    _tables_4()
    _tables_5()
    _tables_6()
    _tables_7()
    _tables_8()
    _journal_append_only()


def _tables_1() -> None:
    op.create_table(
        "backtest_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("strategies", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=False),
        sa.Column("output_dir", sa.Text(), nullable=True),
        sa.Column("start", genebot.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("end", genebot.persistence.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("final_equity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_runs")),
    )

    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column(
            "started_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "stopped_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.CheckConstraint("mode IN ('paper', 'live')", name=op.f("ck_deployments_mode")),
        sa.CheckConstraint(
            "status IN ('running', 'stopped', 'crashed')", name=op.f("ck_deployments_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )

    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_alerts_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_deployment_id"), ["deployment_id"], unique=False
        )


def _tables_2() -> None:
    op.create_table(
        "allocations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column(
            "backtest_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("weight", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("capital", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "(deployment_id IS NULL) <> (backtest_run_id IS NULL)",
            name=op.f("ck_allocations_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["backtest_run_id"],
            ["backtest_runs.id"],
            name=op.f("fk_allocations_backtest_run_id_backtest_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_allocations_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocations_backtest_run_id"), ["backtest_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_allocations_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "balances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("venue", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("total", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_balances_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balances")),
    )
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.create_index("ix_balances_deployment_ts", ["deployment_id", "ts"], unique=False)


def _tables_3() -> None:
    op.create_table(
        "equity_snapshots",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("equity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("cash", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_equity_snapshots_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
    )
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_equity_deployment_ts", ["deployment_id", "ts"], unique=False)

    op.create_table(
        "journal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column(
            "recorded_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_journal_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal")),
    )
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_deployment_id"), ["deployment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_journal_subject"), ["subject"], unique=False)


def _tables_4() -> None:
    op.create_table(
        "kill_switch_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('activated', 'reset')", name=op.f("ck_kill_switch_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_kill_switch_events_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switch_events")),
    )
    with op.batch_alter_table("kill_switch_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kill_switch_events_deployment_id"), ["deployment_id"], unique=False
        )


def _tables_5() -> None:
    op.create_table(
        "orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("venue_order_id", sa.String(length=128), nullable=True),
        sa.Column("strategy_id", sa.String(length=100), nullable=False),
        sa.Column("instrument_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=False),
        sa.Column("quantity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("price", genebot.persistence.types.ExactDecimal(), nullable=True),
        sa.Column("trigger_price", genebot.persistence.types.ExactDecimal(), nullable=True),
        sa.Column("trailing_offset", genebot.persistence.types.ExactDecimal(), nullable=True),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_qty", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("avg_px", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts_init", sa.BigInteger(), nullable=False),
        sa.Column("ts_last", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_orders_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("deployment_id", "client_order_id", name="deployment_order"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_deployment_id"), ["deployment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)


def _tables_6() -> None:
    op.create_table(
        "positions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("strategy_id", sa.String(length=100), nullable=False),
        sa.Column("instrument_id", sa.String(length=100), nullable=False),
        sa.Column("quantity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("avg_price", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("cost", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("realized_pnl", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column(
            "updated_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_positions_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("deployment_id", "strategy_id", "instrument_id", name="key"),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_positions_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "risk_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("ts", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("symbol", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_risk_events_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
    )
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.create_index("ix_risk_events_deployment_ts", ["deployment_id", "ts"], unique=False)


def _tables_7() -> None:
    op.create_table(
        "trades",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(length=64), nullable=True),
        sa.Column(
            "backtest_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("strategy_id", sa.String(length=100), nullable=False),
        sa.Column("instrument_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column(
            "entry_time", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("entry_price", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column(
            "exit_time", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("exit_price", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("quantity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("pnl", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("fees", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("exit_reason", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "(deployment_id IS NULL) <> (backtest_run_id IS NULL)", name=op.f("ck_trades_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["backtest_run_id"],
            ["backtest_runs.id"],
            name=op.f("fk_trades_backtest_run_id_backtest_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_trades_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trades_deployment_exit", ["deployment_id", "exit_time"], unique=False
        )
        batch_op.create_index("ix_trades_run", ["backtest_run_id"], unique=False)


def _tables_8() -> None:
    op.create_table(
        "fills",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("trade_id", sa.String(length=128), nullable=False),
        sa.Column("instrument_id", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("price", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("fee", genebot.persistence.types.ExactDecimal(), nullable=False),
        sa.Column("fee_currency", sa.String(length=16), nullable=False),
        sa.Column("liquidity", sa.String(length=8), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column(
            "filled_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("order_id", "trade_id", name="order_trade"),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    _drop_journal_guard()
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("ix_trades_run")
        batch_op.drop_index("ix_trades_deployment_exit")

    op.drop_table("trades")
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_events_deployment_ts")

    op.drop_table("risk_events")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_deployment_id"))

    op.drop_table("positions")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_deployment_id"))

    op.drop_table("orders")
    with op.batch_alter_table("kill_switch_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kill_switch_events_deployment_id"))

    op.drop_table("kill_switch_events")
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_subject"))
        batch_op.drop_index(batch_op.f("ix_journal_deployment_id"))

    op.drop_table("journal")
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_equity_deployment_ts")

    op.drop_table("equity_snapshots")
    with op.batch_alter_table("balances", schema=None) as batch_op:
        batch_op.drop_index("ix_balances_deployment_ts")

    op.drop_table("balances")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_backtest_run_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_deployment_id"))

    op.drop_table("alerts")
    op.drop_table("deployments")
    op.drop_table("backtest_runs")
    # ### end Alembic commands ###


# The journal is append-only: the database itself refuses UPDATE and DELETE on it.
_PG_GUARD = """
CREATE FUNCTION genebot_journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'journal is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION genebot_journal_append_only();
"""


def _journal_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER journal_no_{action.lower()} BEFORE {action} ON journal "
            f"BEGIN SELECT RAISE(ABORT, 'journal is append-only: {action} refused'); END"
        )


def _drop_journal_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_append_only ON journal")
        op.execute("DROP FUNCTION IF EXISTS genebot_journal_append_only()")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS journal_no_{action}")
