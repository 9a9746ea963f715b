"""Claim lines and claims-import progress (RULES R5; domain/claims.py).

The bulk path stores a batch of validated lines held in an Arrow table (columns `line`
then domain.claims.COLUMNS, care_date as date32, quantity as an integer, no claim_id
twice). The batch is loaded into a temporary table — PostgreSQL: COPY (CSV written by
Arrow straight from the arrays); SQLite: one executemany — and then, in SQL:

1. the lines whose INS is in the registry and whose claim_id is not stored are inserted
   with one INSERT … SELECT;
2. the others come back, if any: beneficiary unknown to the registry, or claim_id
   already stored, with the first field in which the stored line differs ('' for a
   duplicate). (SQLite asks this before inserting.)

No line-by-line round trip, and no ON CONFLICT (whose speculative insertion costs more
than the probes): nothing can slip in between the two statements, since a batch holds
the claims table in SHARE ROW EXCLUSIVE mode on PostgreSQL (imports and purges queue,
readers do not wait) and SQLite's write transactions are exclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, func, select

from dmp.domain.claims import COLUMNS, ClaimCategory, ClaimLine
from dmp.storage.dialect import placeholder
from dmp.storage.schema import claim as t
from dmp.storage.schema import claim_import as progress_t

LOAD_COLUMNS = ("line", *COLUMNS)
_NAMES = ", ".join(COLUMNS)
_LOAD_NAMES = ", ".join(LOAD_COLUMNS)
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


@dataclass(slots=True)
class StoredBatch:
    inserted: int = 0
    duplicates: int = 0
    unknown: int = 0  # lines whose INS is not in the registry
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (line, field)


def store_claims(conn: Connection, batch: pa.Table) -> StoredBatch:
    """Store the new lines of `batch`; classify the others (see the module docstring)."""
    result = StoredBatch()
    if batch.num_rows == 0:
        return result
    postgres = conn.dialect.name == "postgresql"
    _load(conn, batch, postgres)
    if postgres:
        # Insert first: a first import (the usual case) then needs no classification.
        result.inserted = conn.exec_driver_sql(_INSERT).rowcount
        if result.inserted < batch.num_rows:
            _classify(conn, _classify_sql(postgres), result)
        return result  # the load table empties itself at commit (ON COMMIT DELETE ROWS)
    _classify(conn, _classify_sql(postgres), result)
    result.inserted = conn.exec_driver_sql(_INSERT).rowcount
    conn.exec_driver_sql("DELETE FROM claim_load")
    return result


def _classify(conn: Connection, sql: str, result: StoredBatch) -> None:
    for line, unknown, differs in conn.exec_driver_sql(sql):
        if differs is None:
            result.unknown += int(bool(unknown))
        elif differs == "":
            result.duplicates += 1
        else:
            result.conflicts.append((int(line), str(differs)))


def _load(conn: Connection, batch: pa.Table, postgres: bool) -> None:
    batch = batch.select(list(LOAD_COLUMNS))
    if postgres:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute(_PG_LOAD_TABLE)
            cur.execute("LOCK TABLE claim IN SHARE ROW EXCLUSIVE MODE")
            # The load table has no statistics: without this the planner may hash the
            # whole claim table for each batch instead of probing its index per line,
            # and compile the statements (JIT) for every batch.
            cur.execute("SET LOCAL enable_hashjoin = off")
            cur.execute("SET LOCAL enable_mergejoin = off")
            cur.execute("SET LOCAL jit = off")
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, _CSV)
            with cur.copy(f"COPY claim_load ({_LOAD_NAMES}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(memoryview(sink.getvalue()))
        return
    conn.exec_driver_sql(_SQLITE_LOAD_TABLE)
    dates = batch.column("care_date").cast(pa.string())
    batch = batch.set_column(LOAD_COLUMNS.index("care_date"), "care_date", dates)
    rows = list(zip(*(c.to_pylist() for c in batch.columns), strict=True))
    marks = ", ".join("?" for _ in LOAD_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO claim_load ({_LOAD_NAMES}) VALUES ({marks})", rows)


_LOAD_TYPES = (
    "line BIGINT, claim_id TEXT, ins TEXT, care_date DATE, category TEXT, code TEXT, "
    "label TEXT, quantity INTEGER, performer_rpps TEXT, performer_name TEXT, "
    "performer_profession TEXT, prescriber_rpps TEXT, facility_finess TEXT"
)
_PG_LOAD_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS claim_load ({_LOAD_TYPES}) ON COMMIT DELETE ROWS"
_SQLITE_LOAD_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS claim_load ({_LOAD_TYPES})"
_KNOWN = "EXISTS (SELECT 1 FROM beneficiary b WHERE b.ins = l.ins)"
_INSERT = (
    f"INSERT INTO claim ({_NAMES}) SELECT {_NAMES} FROM claim_load l WHERE {_KNOWN} "
    "AND NOT EXISTS (SELECT 1 FROM claim c WHERE c.claim_id = l.claim_id)"
)


def _classify_sql(postgres: bool) -> str:
    """The lines not plainly new: (line, unknown beneficiary, first differing field or ''
    or NULL when the claim_id is not stored). On PostgreSQL it runs after the insert,
    so the lines this very transaction inserted (xmin: ours) are left out."""
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    cases = " ".join(f"WHEN c.{n} {differs} l.{n} THEN '{n}'" for n in COLUMNS[1:])
    stored = "c.claim_id IS NOT NULL"
    if postgres:
        stored += " AND c.xmin <> pg_current_xact_id()::xid"
    return (
        f"SELECT l.line, NOT {_KNOWN}, "
        f"CASE WHEN NOT ({stored}) THEN NULL {cases} ELSE '' END "
        "FROM claim_load l LEFT JOIN claim c ON c.claim_id = l.claim_id "
        f"WHERE ({stored}) OR NOT {_KNOWN}"
    )


# --- reading -------------------------------------------------------------------------


def find_claims(
    conn: Connection,
    ins: str,
    since: date,
    until: date,
    categories: Iterable[ClaimCategory] = (),
    *,
    limit: int,
    offset: int,
) -> tuple[list[ClaimLine], int]:
    """A page of the record's lines with since <= care_date <= until, newest first,
    and how many there are in all (one range of the primary key)."""
    where = [t.c.ins == ins, t.c.care_date >= since, t.c.care_date <= until]
    chosen = [c.value for c in categories]
    if chosen:
        where.append(t.c.category.in_(chosen))
    total = conn.scalar(select(func.count()).select_from(t).where(*where)) or 0
    rows = conn.execute(
        select(*(t.c[n] for n in COLUMNS))
        .where(*where)
        .order_by(t.c.care_date.desc(), t.c.claim_id)
        .limit(limit)
        .offset(offset)
    )
    return [_to_line(r) for r in rows], int(total)


def find_claims_by_id(conn: Connection, claim_ids: list[str]) -> dict[str, ClaimLine]:
    found: dict[str, ClaimLine] = {}
    for i in range(0, len(claim_ids), 500):
        query = select(*(t.c[n] for n in COLUMNS)).where(t.c.claim_id.in_(claim_ids[i : i + 500]))
        found.update((r[0], _to_line(r)) for r in conn.execute(query))
    return found


def _to_line(row: Any) -> ClaimLine:
    values = dict(zip(COLUMNS, row, strict=True))
    values["category"] = ClaimCategory(values["category"])
    return ClaimLine(**values)


def delete_claims_before(conn: Connection, day: date) -> int:
    """Delete every line whose care date precedes `day`; return how many."""
    mark = placeholder(conn)
    bound = t.c.care_date.type.bind_processor(conn.dialect)
    done = conn.exec_driver_sql(
        f"DELETE FROM claim WHERE care_date < {mark}", (bound(day) if bound else day,)
    )
    return int(done.rowcount)


# --- import progress -------------------------------------------------------------------

COUNTS = ("read", "inserted", "duplicates", "conflicts", "rejected", "unknown", "outside")


@dataclass(slots=True)
class ImportProgress:
    """Where the import of one file stands (one row of claim_import)."""

    fingerprint: str
    file_name: str
    file_size: int
    position: int = 0  # bytes of CSV text (or Parquet rows) committed
    line: int = 1  # the last committed line (1: the header)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    finished_at: datetime | None = None


def find_import(conn: Connection, fingerprint: str) -> ImportProgress | None:
    row = conn.execute(select(progress_t).where(progress_t.c.fingerprint == fingerprint)).first()
    if row is None:
        return None
    m = row._mapping
    return ImportProgress(
        m["fingerprint"],
        m["file_name"],
        m["file_size"],
        m["position"],
        m["line"],
        {c: int(m[c]) for c in COUNTS},
        m["finished_at"],
    )


def start_import(conn: Connection, p: ImportProgress, now: datetime) -> None:
    """Record the start of an import from the beginning (a finished one is restarted)."""
    conn.execute(progress_t.delete().where(progress_t.c.fingerprint == p.fingerprint))
    conn.execute(
        progress_t.insert().values(
            fingerprint=p.fingerprint,
            file_name=p.file_name[-255:],
            file_size=p.file_size,
            position=p.position,
            line=p.line,
            started_at=now,
            updated_at=now,
            finished_at=None,
            **p.counts,
        )
    )


def save_progress(conn: Connection, p: ImportProgress, now: datetime) -> None:
    """Store where the import stands (in the transaction of the batch that got there)."""
    conn.execute(
        progress_t.update()
        .where(progress_t.c.fingerprint == p.fingerprint)
        .values(
            position=p.position,
            line=p.line,
            updated_at=now,
            finished_at=p.finished_at,
            **p.counts,
        )
    )
