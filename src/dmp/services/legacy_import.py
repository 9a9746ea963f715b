"""Migrating records opened in the legacy system (DESIGN: feeds/records).

A line is first *prepared* (the domain's migration rule, then the stored row values:
plain tuples, cheap to hand from a parsing process to the writer), then stored in
batches. Each batch is one transaction: records whose INS has no record yet are
inserted, lines already imported identically are skipped (a rerun adds nothing), and
lines contradicting a stored record are reported as conflicts. The rollups count the
inserted records in the same transaction; the audit trail gets one event per batch,
not per line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dmp.domain import records as rules
from dmp.domain.audit import AuditAction
from dmp.domain.errors import DomainError
from dmp.domain.people import Identity
from dmp.domain.records import Opening
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import rollups
from dmp.storage.db import Database
from dmp.storage.records import (
    RecordValues,
    find_records,
    insert_record_rows,
    opening_key,
    record_from_values,
    record_values,
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
    """Apply the migration rule to one line (pure: runs in parsing processes)."""
    try:
        record = rules.migrate_record(None, line.identity, line.opening)
    except DomainError as exc:
        return LineConflict(line.line, exc.field, exc.code, exc.message)
    return line.line, record_values(record)


def import_legacy_batch(
    db: Database, ctx: Ctx, lines: list[PreparedRecord], source: str
) -> BatchResult:
    result = BatchResult()
    fresh: dict[str, PreparedRecord] = {}
    later: list[PreparedRecord] = []  # a second line for an INS already in this batch
    for prepared in lines:
        ins = prepared[1][0]
        if ins in fresh:
            later.append(prepared)
        else:
            fresh[ins] = prepared
    with db.write() as conn:
        inserted = insert_record_rows(conn, [values for _, values in fresh.values()])
        skipped = [p for ins, p in fresh.items() if ins not in inserted] + later
        stored = find_records(conn, {p[1][0] for p in skipped}) if skipped else {}
        for line, values in sorted(skipped, key=lambda p: p[0]):
            candidate = record_from_values(values)
            existing = stored[candidate.ins]
            assert candidate.identity is not None
            if rules.is_same_migration(existing, candidate.identity, candidate.opening):
                result.already_present += 1
                continue
            try:
                rules.migrate_record(existing, candidate.identity, candidate.opening)
            except DomainError as exc:
                result.conflicts.append(LineConflict(line, exc.field, exc.code, exc.message))
                continue
            # The INS's earlier record was purged here: the legacy system's copy is
            # older than that purge, so it is not brought back (every line is counted).
            result.conflicts.append(
                LineConflict(
                    line,
                    "ins",
                    "RECORD_PURGED",
                    "a record for this INS was purged here; the legacy copy is not migrated",
                )
            )
        rollups.add_openings(conn, Counter(opening_key(fresh[ins][1]) for ins in inserted))
        result.inserted = len(inserted)
        trace(
            conn,
            ctx,
            AuditAction.RECORDS_IMPORT,
            detail={
                "source": source,
                "lines": [lines[0][0], lines[-1][0]] if lines else [],
                "inserted": result.inserted,
                "already_present": result.already_present,
                "conflicts": len(result.conflicts),
            },
        )
    return result
