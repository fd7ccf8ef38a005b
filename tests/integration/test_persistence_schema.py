"""Migrations, the schema guard, exact values and the append-only journal, on SQLite and on the
real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from genebot.core.errors import InputError
from genebot.persistence.database import (
    SCHEMA_HEAD,
    Database,
    DatabaseUnavailable,
    MigrationRequired,
)
from genebot.persistence.migrate import downgrade, init, migration_status, upgrade
from genebot.persistence.tables import BacktestRun, Base, JournalEntry

TABLES = {
    "deployments",
    "orders",
    "fills",
    "positions",
    "trades",
    "equity_snapshots",
    "balances",
    "risk_events",
    "kill_switch_events",
    "allocations",
    "backtest_runs",
    "alerts",
    "journal",
    "runtime_status",
    "exchange_keys",
    "hall_of_fame",
}


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_migrations_build_every_table_from_empty(empty_database: Database) -> None:
    assert _tables(empty_database) == set()
    status = init(empty_database)
    assert status.current == status.head and status.pending == ()
    assert _tables(empty_database) == TABLES


def test_the_one_query_schema_check_knows_alembics_head(empty_database: Database) -> None:
    """``schema_is_current`` (no Alembic) compares with SCHEMA_HEAD: it must be the head."""
    assert not empty_database.schema_is_current()  # no schema yet
    upgrade(empty_database, "0003")
    assert not empty_database.schema_is_current()  # behind
    status = upgrade(empty_database)
    assert status.head == SCHEMA_HEAD
    assert empty_database.schema_is_current()


def test_downgrade_then_upgrade_round_trip(empty_database: Database) -> None:
    upgrade(empty_database)
    assert downgrade(empty_database, "base").current is None
    assert _tables(empty_database) == set()
    assert upgrade(empty_database).current == migration_status(empty_database).head
    assert _tables(empty_database) == TABLES


def test_models_and_migrations_agree(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_init_refuses_a_database_that_has_a_schema(database: Database) -> None:
    with pytest.raises(InputError, match=r"not empty.*genebot db upgrade"):
        init(database)


def test_an_empty_database_is_refused_with_the_command_to_run(empty_database: Database) -> None:
    with pytest.raises(MigrationRequired, match="genebot db init"):
        empty_database.require_current()


def test_an_unknown_newer_revision_is_refused(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(MigrationRequired, match=r"9999.*upgrade genebot"):
        database.require_current()


def test_a_current_database_is_accepted(database: Database) -> None:
    status = migration_status(database)
    assert status.current == status.head and status.pending == ()
    database.require_current()  # raises if not


def _run(final_equity: Decimal, when: datetime | None = None) -> BacktestRun:
    return BacktestRun(
        title="t",
        created_at=when or datetime.now(UTC),
        strategies="s",
        config="{}",
        stats="{}",
        output_dir=None,
        start=None,
        end=None,
        final_equity=final_equity,
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.decimals(min_value=Decimal("-1e20"), max_value=Decimal("1e20"), places=18, allow_nan=False)
)
def test_decimals_with_18_places_round_trip_exactly(database: Database, value: Decimal) -> None:
    with database.session() as session:
        row = _run(value)
        session.add(row)
        session.flush()
        key = row.id
    with database.session() as session:
        back = session.get(BacktestRun, key)
        assert back is not None
        assert back.final_equity == value
        assert str(back.final_equity) == str(value)  # the scale survives too


def test_a_float_is_refused_rather_than_stored_inexactly(database: Database) -> None:
    with pytest.raises(StatementError, match="pass a Decimal"), database.session() as session:
        session.add(_run(0.1))  # type: ignore[arg-type]
        session.flush()


def test_times_come_back_as_aware_utc(database: Database) -> None:
    local = datetime(2024, 3, 31, 3, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with database.session() as session:
        session.add(_run(Decimal(1), local))
    with database.session() as session:
        back = session.scalars(select(BacktestRun)).one()
    assert back.created_at == local and back.created_at.tzinfo == UTC


def test_a_naive_time_is_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="aware UTC"), database.session() as session:
        session.add(_run(Decimal(1), datetime(2024, 1, 1)))
        session.flush()


@pytest.mark.parametrize("statement", ["UPDATE journal SET kind = 'x'", "DELETE FROM journal"])
def test_the_journal_is_append_only(database: Database, statement: str) -> None:
    with database.session() as session:
        session.add(
            JournalEntry(
                recorded_at=datetime.now(UTC),
                ts_event=1,
                kind="operator.note",
                actor="operator:alice",
                subject="-",
                payload="{}",
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))
    with database.session() as session:
        assert session.scalars(select(JournalEntry.kind)).all() == ["operator.note"]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "'mysql' is not supported"),
        ("not a url", "is not a database URL"),
    ],
)
def test_an_unsupported_url_is_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Database(url)


def test_the_password_never_appears_in_messages() -> None:
    db = Database("postgresql://trader:hunter2@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable) as caught:
        db.ping()
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    assert "hunter2" not in db.display_url


def test_a_database_behind_is_refused_and_upgrades_with_its_rows(
    empty_database: Database,
) -> None:
    upgrade(empty_database, "0001")
    with empty_database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO backtest_runs (title, created_at, strategies, config, stats, "
                "final_equity) VALUES ('old', '2024-01-01 00:00:00+00:00', 's', '{}', '{}', "
                "'100.000000000000000001')"
            )
        )
    with pytest.raises(MigrationRequired, match=r"0001.*behind.*genebot db upgrade"):
        empty_database.require_current()
    upgrade(empty_database)
    empty_database.require_current()
    with empty_database.session() as session:
        (run,) = session.scalars(select(BacktestRun)).all()
    assert run.final_equity == Decimal("100.000000000000000001") and run.attribution is None


def test_a_downgrade_keeps_the_rows_of_the_tables_it_keeps(database: Database) -> None:
    """SQLite copies a table to drop a column; with foreign keys on, dropping the old copy
    would cascade into every trade and allocation that points at it."""
    from datetime import UTC, datetime

    from genebot.domain.position import ClosedTrade
    from genebot.persistence.repositories import (
        AllocationRecord,
        BacktestRunRepository,
        RunRecord,
    )

    trade = ClosedTrade("s", "BTC/USDT@sim", "long", 0, D1, 10**9, D1, D1, D1, D1, "signal")
    record = RunRecord("t", ["s"], {}, {}, None, None, None, D1, [{"strategy": "s"}])
    allocation = AllocationRecord(datetime.now(UTC), "s", Decimal("0.5"), D1, "initial")
    BacktestRunRepository(database).save(record, [trade], [allocation])
    downgrade(database, "0001")
    with database.engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("backtest_runs", "trades", "allocations")
        ]
    assert counts == [1, 1, 1]
    upgrade(database)


D1 = Decimal(1)
