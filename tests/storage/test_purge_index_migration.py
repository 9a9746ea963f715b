"""Migration 0010 on a database holding records: the purge's index becomes the closed
records' own (closed_at, INS) index, the purge still finds its candidates, and the
downgrade restores the former index. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import inspect

from dmp.storage.db import Database
from dmp.storage.migrate import _config, upgrade
from dmp.storage.records import find_closed_before
from tests.personas import ALICE, BOB

ROW = (
    "INSERT INTO record (ins, family_name, given_names, birth_date, sex, status, source, "
    "channel, department, opened_at, opened_day, closed_at, version) VALUES ('{p.ins}', "
    "'{p.family_name}', '{p.given_names}', '{p.birth_date}', '{p.sex}', '{status}', "
    "'legacy', 'online', '75', '2014-01-02 10:00:00', '2014-01-02', {closed_at}, 1)"
)


@pytest.fixture
def at_0009(empty_db: Database) -> Database:
    """Migrated to 0009, holding a closed record (ALICE) and an open one (BOB)."""
    upgrade(empty_db, "0009")
    with empty_db.write() as conn:
        closed_at = "'2015-06-01 08:00:00'"
        conn.exec_driver_sql(ROW.format(p=ALICE, status="closed", closed_at=closed_at))
        conn.exec_driver_sql(ROW.format(p=BOB, status="open", closed_at="NULL"))
    return empty_db


def _record_indexes(db: Database) -> dict[str, list[str | None]]:
    return {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("record")}


def test_0010_makes_the_purge_index_partial_and_keeps_the_candidates(at_0009: Database) -> None:
    assert _record_indexes(at_0009) == {"ix_record_closed_at": ["closed_at"]}
    upgrade(at_0009, "0010")
    assert _record_indexes(at_0009) == {"ix_record_closed_at_ins": ["closed_at", "ins"]}
    with at_0009.read() as conn:
        found = find_closed_before(conn, date(2026, 1, 1), 10)
    assert [r.ins for r in found] == [ALICE.ins]
    assert found[0].closed_at == datetime(2015, 6, 1, 8, tzinfo=UTC)


def test_0010_downgrades_to_the_former_index(at_0009: Database) -> None:
    upgrade(at_0009, "0010")
    command.downgrade(_config(at_0009), "0009")
    assert _record_indexes(at_0009) == {"ix_record_closed_at": ["closed_at"]}
