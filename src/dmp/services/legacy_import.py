"""Migrating records opened in the legacy system (DESIGN: feeds/records).

Each batch is one transaction: records whose INS has no record yet are inserted,
lines already imported identically are skipped (a rerun adds nothing), and lines
that contradict a stored record are reported as conflicts. The rollups count the
inserted records in the same transaction; the audit trail gets one event per
batch, not per line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dmp.domain import records as rules
from dmp.domain.audit import AuditAction
from dmp.domain.errors import DomainError
from dmp.domain.people import Identity
from dmp.domain.records import Opening, Record
from dmp.domain.time import local_date
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import rollups
from dmp.storage.db import Database
from dmp.storage.records import find_records, insert_new_records


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


@dataclass(slots=True)
class BatchResult:
    inserted: int = 0
    already_present: int = 0
    conflicts: list[LineConflict] = field(default_factory=list)


def import_legacy_batch(
    db: Database, ctx: Ctx, lines: list[LegacyLine], source: str
) -> BatchResult:
    result = BatchResult()
    fresh: dict[str, tuple[LegacyLine, Record]] = {}
    later: list[LegacyLine] = []  # a second line for an INS already in this batch
    for line in lines:
        try:
            record = rules.migrate_record(None, line.identity, line.opening)
        except DomainError as exc:
            result.conflicts.append(LineConflict(line.line, exc.field, exc.code, exc.message))
            continue
        if line.identity.ins in fresh:
            later.append(line)
        else:
            fresh[line.identity.ins] = (line, record)
    with db.write() as conn:
        inserted = insert_new_records(conn, [r for _, r in fresh.values()])
        skipped = [ln for ins, (ln, _) in fresh.items() if ins not in inserted] + later
        stored = find_records(conn, {ln.identity.ins for ln in skipped}) if skipped else {}
        for ln in sorted(skipped, key=lambda x: x.line):
            try:
                rules.migrate_record(stored.get(ln.identity.ins), ln.identity, ln.opening)
            except DomainError as exc:
                if rules.is_same_migration(stored[ln.identity.ins], ln.identity, ln.opening):
                    result.already_present += 1
                else:
                    result.conflicts.append(LineConflict(ln.line, exc.field, exc.code, exc.message))
        counts: Counter[rollups.OpeningKey] = Counter()
        for ins in inserted:
            o = fresh[ins][1].opening
            counts[(local_date(o.opened_at), o.channel.value, o.department, o.opened_by or "")] += 1
        rollups.add_openings(conn, counts)
        result.inserted = len(inserted)
        trace(
            conn,
            ctx,
            AuditAction.RECORDS_IMPORT,
            detail={
                "source": source,
                "lines": [lines[0].line, lines[-1].line] if lines else [],
                "inserted": result.inserted,
                "already_present": result.already_present,
                "conflicts": len(result.conflicts),
            },
        )
    return result
