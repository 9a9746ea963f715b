"""Migrating records opened in the legacy system (DESIGN: feeds/records).

A line is judged by the domain (the migration rule; feeds/records checks whole chunks
as a strict fast path of it) and arrives here in a batch of Arrow columns, one row per
new record (storage.records.BATCH_SCHEMA). Each batch is one transaction: records
whose INS has no record yet are inserted, lines already imported identically are
skipped (a rerun adds nothing), and lines contradicting a stored record are reported
as conflicts. The rollups count the inserted records in the same transaction; the
audit trail gets one event per batch, not per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from dmp.domain import records as rules
from dmp.domain.audit import AuditAction
from dmp.domain.errors import DomainError
from dmp.domain.people import Identity
from dmp.domain.records import Opening
from dmp.services.batches import Turn, first_of_each
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import rollups
from dmp.storage.db import Database
from dmp.storage.records import (
    RecordValues,
    find_records,
    insert_new_records,
    opening_keys,
    record_from_row,
    record_values,
    stored_as_migrated,
)


@dataclass(frozen=True, slots=True)
class LegacyLine:
    line: int
    identity: Identity
    opening: Opening


@dataclass(frozen=True, slots=True)
class LineConflict:
    line: int
    field: str | None
    code: str
    reason: str


# (line number, the record's row values)
PreparedRecord = tuple[int, RecordValues]


@dataclass(slots=True)
class BatchResult:
    inserted: int = 0
    already_present: int = 0
    conflicts: list[LineConflict] = field(default_factory=list)


def prepare_legacy_line(line: LegacyLine) -> PreparedRecord | LineConflict:
    """Apply the migration rule to one line (pure)."""
    try:
        record = rules.migrate_record(None, line.identity, line.opening)
    except DomainError as exc:
        return LineConflict(line.line, exc.field, exc.code, exc.message)
    return line.line, record_values(record)


def import_legacy_batch(
    db: Database, ctx: Ctx, batch: pa.Table, source: str, turn: Turn | None = None
) -> BatchResult:
    """Store a batch of migrated records (storage.records.BATCH_SCHEMA, in line order).
    `turn`: its place among the batches of an import stored two at a time."""
    committed = False
    try:
        if turn is not None:
            turn.may_insert()
        with db.write() as conn:
            result, new = _insert(conn, batch)
            if turn is not None:
                turn.inserted()
                turn.may_update()
            rollups.add_openings(conn, opening_keys(new))
            lines = batch["line"]
            trace(
                conn,
                ctx,
                AuditAction.RECORDS_IMPORT,
                detail={
                    "source": source,
                    "lines": [lines[0].as_py(), lines[-1].as_py()] if len(lines) else [],
                    "inserted": result.inserted,
                    "already_present": result.already_present,
                    "conflicts": len(result.conflicts),
                },
            )
        committed = True
    finally:
        if turn is not None:
            turn.finish(committed)
    return result


def _insert(conn: Connection, batch: pa.Table) -> tuple[BatchResult, pa.Table]:
    """Insert the batch's new records; judge the others. The result, and the rows
    inserted."""
    result = BatchResult()
    fresh, later = first_of_each(batch, "ins")
    inserted = insert_new_records(conn, fresh)
    skipped = pa.concat_tables([fresh.filter(pc.invert(inserted)), later])
    if skipped.num_rows:
        same = stored_as_migrated(conn, skipped)  # a rerun's lines, by column
        result.already_present += pc.sum(same).as_py() or 0
        skipped = skipped.filter(pc.invert(same))
    if skipped.num_rows:  # the domain judges the rest
        stored = find_records(conn, set(skipped["ins"].to_pylist()))
        for row in skipped.sort_by("line").to_pylist():
            conflict = _compare(row, stored[row["ins"]])
            if conflict is None:
                result.already_present += 1
            else:
                result.conflicts.append(conflict)
    new = fresh.filter(inserted)
    result.inserted = new.num_rows
    return result, new


def _compare(row: dict[str, Any], existing: rules.Record) -> LineConflict | None:
    """None if the line is the stored record's own migration (a rerun), else why not."""
    line = int(row["line"])
    candidate = record_from_row(row)
    assert candidate.identity is not None
    if rules.is_same_migration(existing, candidate.identity, candidate.opening):
        return None
    try:
        rules.migrate_record(existing, candidate.identity, candidate.opening)
    except DomainError as exc:
        return LineConflict(line, exc.field, exc.code, exc.message)
    # The INS's earlier record was purged here: the legacy system's copy is older than
    # that purge, so it is not brought back (every line is counted).
    return LineConflict(
        line,
        "ins",
        "RECORD_PURGED",
        "a record for this INS was purged here; the legacy copy is not migrated",
    )
