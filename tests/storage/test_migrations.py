"""`dmp db upgrade` (Alembic) on an empty SQLite file and an empty PostgreSQL database:
the schema at head, exactly as the tables declare it, and a second run is harmless."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from dmp.storage.db import Database
from dmp.storage.migrate import current_revision, head_revision, upgrade
from dmp.storage.schema import metadata


def differences(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_an_empty_database_has_no_schema(empty_db: Database) -> None:
    assert current_revision(empty_db) is None
    assert inspect(empty_db.engine).get_table_names() == []


def test_upgrade_creates_the_schema_at_head_as_the_tables_declare_it(empty_db: Database) -> None:
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision(empty_db) is not None
    tables = set(inspect(empty_db.engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert differences(empty_db) == []


def test_running_upgrade_twice_is_harmless(empty_db: Database) -> None:
    upgrade(empty_db)
    with empty_db.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_chain_head (chain, seq, hash) VALUES ('system', 0, 'x')"
        )
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision(empty_db)
    assert differences(empty_db) == []
    with empty_db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_chain_head").scalar_one() == 1
