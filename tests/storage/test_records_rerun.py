"""A rerun of the legacy import finds its own lines by comparing columns
(storage.records.stored_as_migrated), the fast path of the domain's
is_same_migration: a row it calls stored must be one the domain calls the same
migration, and a row differing from the stored record in any one migration column, a
record opened here rather than migrated, or an INS with no record must be left to the
domain. On SQLite (stored text) and PostgreSQL (typed columns).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from dmp.domain import records as rules
from dmp.domain.people import Identity
from dmp.domain.records import Channel, Opening
from dmp.storage.db import Database
from dmp.storage.records import (
    BATCH_SCHEMA,
    find_records,
    insert_new_records,
    record_from_row,
    record_values,
    records_table,
    stored_as_migrated,
)
from tests.personas import make_ins

OPENERS = [(Channel.PHARMACY, "751000001"), (Channel.ONLINE, None), (Channel.PROFESSIONAL, None)]


def _batch(n: int) -> pa.Table:
    rows = []
    for i in range(n):
        born = date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        ins = make_ins("1" if i % 2 else "2", born, "75056", f"{i:03d}")
        identity = Identity(ins, f"Nom{i}", "Jean Marc", born, "M" if i % 2 else "F")
        channel, opener = OPENERS[i % len(OPENERS)]
        opened = datetime(2017, 3, 26, 0, 59, 59, 999_999, tzinfo=UTC) + timedelta(hours=7 * i)
        opening = Opening(channel, opener, "75", opened)
        rows.append((i + 2, record_values(rules.migrate_record(None, identity, opening))))
    return records_table(rows)


def _with(batch: pa.Table, row: int, column: str, value: Any) -> pa.Table:
    values = batch[column].to_pylist()
    values[row] = value
    index = batch.schema.get_field_index(column)
    return batch.set_column(index, column, pa.array(values, BATCH_SCHEMA.field(column).type))


@pytest.fixture
def stored(db: Database) -> pa.Table:
    batch = _batch(12)
    # Row 11 is a record opened here, not migrated: the same values never make it a rerun.
    with db.write() as conn:
        insert_new_records(conn, _with(batch, 11, "source", "opened"))
    return batch


def _mask(db: Database, batch: pa.Table) -> list[bool]:
    with db.read() as conn:
        return [bool(x) for x in stored_as_migrated(conn, batch).to_pylist()]


def test_the_lines_of_a_rerun_are_found_and_the_domain_agrees(
    db: Database, stored: pa.Table
) -> None:
    assert _mask(db, stored) == [True] * 11 + [False]
    with db.read() as conn:
        found = find_records(conn, stored["ins"].to_pylist())
    verdicts = []
    for row in stored.to_pylist():
        line = record_from_row(row)
        assert line.identity is not None
        verdicts.append(rules.is_same_migration(found[line.ins], line.identity, line.opening))
    assert verdicts == [True] * 11 + [False]


CHANGES: dict[str, Any] = {
    "family_name": "Nom0bis",
    "given_names": "Jean",
    "birth_date": date(1960, 1, 2),
    "sex": "M",
    "channel": "insurer",
    "opened_by": "751000002",
    "department": "13",
    "opened_at": datetime(2017, 3, 26, 1, 0, tzinfo=UTC),  # a microsecond later
}


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_a_line_differing_in_one_migration_column_is_left_to_the_domain(
    db: Database, stored: pa.Table, column: str
) -> None:
    changed = _with(stored, 0, column, CHANGES[column])
    assert changed[column][0].as_py() != stored[column][0].as_py()
    assert _mask(db, changed) == [False] + [True] * 10 + [False]


@pytest.mark.parametrize(("row", "value"), [(0, None), (1, "751000001")])
def test_an_opener_present_on_one_side_only_is_a_difference(
    db: Database, stored: pa.Table, row: int, value: str | None
) -> None:
    """Row 0 was opened by a pharmacy, row 1 online: a missing opener is not equal to
    one, and two missing openers are equal (row 1 as stored, in the first test)."""
    assert (stored["opened_by"][row].as_py() is None) == (value is not None)
    mask = _mask(db, _with(stored, row, "opened_by", value))
    assert mask[row] is False
    assert mask[:row] + mask[row + 1 : 11] == [True] * 10


def test_an_ins_without_a_record_and_a_repeated_line(db: Database, stored: pa.Table) -> None:
    unknown = _batch(14).slice(12, 2)  # INS never stored
    repeated = stored.slice(3, 1)  # the same line twice in one batch: both are the rerun's
    batch = pa.concat_tables([unknown, repeated, repeated])
    assert _mask(db, batch) == [False, False, True, True]
