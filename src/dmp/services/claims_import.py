"""Storing batches of the insurer's claims feed (issue 5; RULES R5, R16).

Each batch is one transaction: its new lines are inserted, re-sent lines are counted as
duplicates or reported as conflicts (never overwritten: domain.claims), lines of people
unknown to the registry are counted and skipped, the import's progress row advances to
the batch's end, and one audit event records the batch's counts — not one per line.
The batch's per-line issues are handed to `report` before the commit, so a crash
between the two leaves issues a rerun trims (feeds/claims/runner.py), never a
committed batch whose issues were lost.

What needs no database — setting apart and judging the claim_ids repeated within the
batch, writing its lines as COPY text on PostgreSQL — is `prepare_batch`, which the
runner calls while the batch before is being stored: the transaction does only the
probes, the insert and the bookkeeping.

On PostgreSQL two batches are stored at once, on two connections (`Turn`): batch k+1
probes and copies its lines while batch k does the same or finishes; its bookkeeping
(the progress row, the audit event, the reject file) waits for k's commit, so batches
commit in file order and a resume starts exactly after the last one committed. If k+1
gives a claim_id that k also gives, its probe could not see k's uncommitted line and
its insert would fail on the key: such a batch waits for k's commit before it probes.
Imports run one at a time (`one_import_at_a_time`), so no other import's lines slip in
between a batch's probes and its insert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from dmp.domain.audit import AuditAction
from dmp.domain.claims import ClaimCategory, ClaimLine, conflict_reason, differing_field
from dmp.services.batches import Turn, first_of_each
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import claims as store
from dmp.storage.claims import ImportProgress
from dmp.storage.db import Database

CONFLICT = "CLAIM_CONFLICT"


@dataclass(frozen=True, slots=True, order=True)
class LineIssue:
    """A line that was rejected or is in conflict: what the reject file lists."""

    line: int
    field: str
    code: str
    reason: str


@dataclass(slots=True)
class ClaimBatch:
    """A batch of the file, checked: `lines` are valid and within the window."""

    lines: pa.Table  # `line`, then domain.claims.COLUMNS, typed
    issues: list[LineIssue]  # rejected lines
    read: int  # lines read (valid, rejected, outside the window)
    outside: int  # valid lines older than the window: not kept
    last_line: int
    position: int  # where the file stands once this batch is stored


@dataclass(slots=True)
class PreparedBatch:
    """A batch ready for its transaction (`prepare_batch`)."""

    batch: ClaimBatch
    unique: pa.Table  # the lines, each claim_id once (its first line)
    repeated: int  # lines whose claim_id came earlier in the batch
    repeat_conflicts: list[LineIssue]  # those of them with other content
    encoded: pa.Buffer | None  # `unique` as COPY text (PostgreSQL), or None
    # It gives a claim_id of the batch prepared before it: it may be stored only once
    # that one has committed (see the module docstring).
    after_previous: bool = False


@dataclass(slots=True)
class BatchResult:
    counts: dict[str, int]
    issues: list[LineIssue] = field(default_factory=list)


Report = Callable[[list[LineIssue]], None]


def begin_import(db: Database, ctx: Ctx, fresh: ImportProgress) -> ImportProgress:
    """Where to start: the unfinished import of the same file, or `fresh` (a finished
    import of the same bytes is run again: every line then counts as a duplicate)."""
    with db.write() as conn:
        known = store.find_import(conn, fresh.fingerprint)
        if known is not None and known.finished_at is None:
            return known
        store.start_import(conn, fresh, ctx.now)
    return fresh


@contextmanager
def one_import_at_a_time(db: Database) -> Iterator[None]:
    """Held for a whole import: another one waits for its end (storage.claims.import_lock)."""
    with store.import_lock(db.engine):
        yield


def prepare_batch(
    db: Database, batch: ClaimBatch, previous: PreparedBatch | None = None
) -> PreparedBatch:
    """The batch's work that needs no database nor lock (see the module docstring);
    `previous`: the batch prepared before it, possibly still being stored."""
    unique, repeated = first_of_each(batch.lines, "claim_id")
    repeats = _compare_repeats(unique, repeated)
    postgres = db.engine.dialect.name == "postgresql"
    encoded = store.encode_lines(unique) if postgres and unique.num_rows else None
    shared = previous is not None and bool(
        pc.any(pc.is_in(unique["claim_id"], value_set=previous.unique["claim_id"])).as_py()
    )
    return PreparedBatch(batch, unique, repeated.num_rows, repeats, encoded, shared)


def store_batch(
    db: Database,
    ctx: Ctx,
    progress: ImportProgress,
    prepared: PreparedBatch,
    report: Report,
    turn: Turn | None = None,
) -> BatchResult:
    """Store one prepared batch and advance `progress` with it (in place, once
    committed). `turn`: its place among the batches stored two at a time."""
    committed = False
    try:
        if turn is not None and prepared.after_previous:
            turn.may_update()
        result = _store(db, ctx, progress, prepared, report, turn)
        committed = True
    finally:
        if turn is not None:
            turn.finish(committed)
    return result


def _store(
    db: Database,
    ctx: Ctx,
    progress: ImportProgress,
    prepared: PreparedBatch,
    report: Report,
    turn: Turn | None,
) -> BatchResult:
    batch, repeats = prepared.batch, prepared.repeat_conflicts
    issues = [*batch.issues, *repeats]
    with db.write() as conn:
        stored = store.store_claims(conn, prepared.unique, prepared.encoded)
        if turn is not None:  # the batch before has advanced `progress` once this returns
            turn.may_update()
        issues += [LineIssue(n, f, CONFLICT, conflict_reason(f)) for n, f in stored.conflicts]
        issues.sort()
        conflicts = sum(1 for i in issues if i.code == CONFLICT)
        counts = {
            "read": batch.read,
            "inserted": stored.inserted,
            "duplicates": stored.duplicates + prepared.repeated - len(repeats),
            "conflicts": conflicts,
            "rejected": len(issues) - conflicts,
            "unknown": stored.unknown,
            "outside": batch.outside,
        }
        after = ImportProgress(
            progress.fingerprint,
            progress.file_name,
            progress.file_size,
            batch.position,
            batch.last_line,
            {k: progress.counts[k] + counts[k] for k in counts},
        )
        store.save_progress(conn, after, ctx.now)
        trace(
            conn,
            ctx,
            AuditAction.CLAIMS_IMPORT,
            detail={
                "source": progress.file_name,
                "lines": [progress.line + 1, batch.last_line],
                **counts,
            },
        )
        report(issues)
    progress.position, progress.line, progress.counts = after.position, after.line, after.counts
    return BatchResult(counts, issues)


def finish_import(db: Database, ctx: Ctx, progress: ImportProgress) -> None:
    progress.finished_at = ctx.now
    with db.write() as conn:
        store.save_progress(conn, progress, ctx.now)


_REPEAT = "claim_id already given earlier in this batch with different content"


def _compare_repeats(unique: pa.Table, repeated: pa.Table) -> list[LineIssue]:
    """A repeat with other content than its first line is a conflict; else a duplicate."""
    if repeated.num_rows == 0:
        return []
    wanted = pc.is_in(unique["claim_id"], value_set=repeated["claim_id"])
    firsts = {r["claim_id"]: _line(r) for r in unique.filter(wanted).to_pylist()}
    issues = []
    for row in repeated.to_pylist():
        differs = differing_field(firsts[row["claim_id"]], _line(row))
        if differs is not None:
            issues.append(LineIssue(row["line"], differs, CONFLICT, _REPEAT))
    return issues


def _line(row: dict[str, object]) -> ClaimLine:
    values = {k: v for k, v in row.items() if k != "line"}
    values["category"] = ClaimCategory(str(values["category"]))
    return ClaimLine(**values)  # type: ignore[arg-type]
