"""Migration 0011 (claim_id becomes the claim table's primary key, the care history
reads `ix_claim_ins`): stored lines survive it both ways, on SQLite and PostgreSQL, and
a claim_id stays unique."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from dmp.storage.db import Database
from dmp.storage.migrate import _config, current_revision, upgrade

LINE = (
    "INSERT INTO claim (ins, care_date, claim_id, category, code, label, quantity) "
    "VALUES ('{ins}', '2026-01-{day:02d}', '{claim_id}', 'biology', '1104', 'NFS', 1)"
)


@pytest.fixture
def at_0010(empty_db: Database) -> Database:
    """A database of each kind migrated to 0010, holding three claim lines."""
    upgrade(empty_db, "0010")
    with empty_db.write() as conn:
        for n, ins in enumerate(["1", "1", "2"], start=1):
            conn.exec_driver_sql(LINE.format(ins=ins * 15, day=n, claim_id=f"C{n}"))
    return empty_db


def _lines(db: Database) -> list[tuple[str, str]]:
    with db.read() as conn:
        rows = conn.exec_driver_sql("SELECT claim_id, ins FROM claim ORDER BY claim_id")
        return [(r[0], r[1]) for r in rows]


def test_0011_keeps_the_stored_lines_and_keys_them_by_claim_id(at_0010: Database) -> None:
    before = _lines(at_0010)
    upgrade(at_0010, "0011")
    assert current_revision(at_0010) == "0011"
    assert _lines(at_0010) == before
    found = inspect(at_0010.engine)
    assert found.get_pk_constraint("claim")["constrained_columns"] == ["claim_id"]
    assert {i["name"]: i["column_names"] for i in found.get_indexes("claim")} == {
        "ix_claim_ins": ["ins"]
    }
    with pytest.raises(IntegrityError), at_0010.write() as conn:
        conn.exec_driver_sql(LINE.format(ins="3" * 15, day=9, claim_id="C1"))


def test_0011_downgrades_to_the_former_key_with_the_lines(at_0010: Database) -> None:
    before = _lines(at_0010)
    upgrade(at_0010, "0011")
    command.downgrade(_config(at_0010), "0010")
    assert _lines(at_0010) == before
    found = inspect(at_0010.engine)
    assert found.get_pk_constraint("claim")["constrained_columns"] == [
        "ins",
        "care_date",
        "claim_id",
    ]
    with pytest.raises(IntegrityError), at_0010.write() as conn:
        conn.exec_driver_sql(LINE.format(ins="3" * 15, day=9, claim_id="C2"))
