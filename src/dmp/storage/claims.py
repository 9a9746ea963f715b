"""Claim lines and claims-import progress (RULES R5; domain/claims.py).

The bulk path stores a batch of validated lines held in an Arrow table (columns `line`
then domain.claims.COLUMNS, care_date as date32, quantity as an integer, no claim_id
twice):

1. two probes by value list — which of the batch's INS are in the registry, which of
   its claim_ids are already stored (an index lookup each, in one statement each);
2. the new lines of known beneficiaries go straight into `claim` — PostgreSQL: COPY
   (CSV written by Arrow from the arrays, `encode_lines`: the caller may write it
   before the transaction, and it is sent as it is when every line turns out new, the
   usual case); SQLite: one executemany;
3. the stored lines that came again are read back and compared by the domain
   (duplicate or conflict, and the field): rare, and judged in one place.

No staging table and no second pass over the batch: on PostgreSQL, COPY into a staging
table and re-reading it cost as much as the insert. Nothing can slip in between the
probes and the insert: on PostgreSQL claims imports run one at a time (`import_lock`)
and the two batches of an import stored at once share no claim_id (the runner has the
later one wait for the earlier one's commit when they do); SQLite's write transactions
are exclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, func, select

from dmp.domain.claims import COLUMNS, ClaimCategory, ClaimLine, differing_field
from dmp.storage.dialect import placeholder
from dmp.storage.schema import claim as t
from dmp.storage.schema import claim_import as progress_t

_NAMES = ", ".join(COLUMNS)
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
_SQLITE_IN = 900  # values per IN (…) list: under SQLite's limit on bound parameters


@dataclass(slots=True)
class StoredBatch:
    inserted: int = 0
    duplicates: int = 0
    unknown: int = 0  # lines whose INS is not in the registry
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (line, field)


# The advisory lock of claims imports ('dmpclaim' in ASCII).
_IMPORT_LOCK = 0x646D70636C61696D


@contextmanager
def import_lock(engine: Engine) -> Iterator[None]:
    """Claims imports one at a time on PostgreSQL, the next waiting for the one running:
    a session advisory lock, held on a connection of its own from the import's start to
    its end (outside any transaction: an open one would hold back vacuum all along).
    Its batches' probes can then trust that no other import stores a claim_id meanwhile.
    A process that dies lets go of it with its connection. SQLite needs none: its write
    transactions are exclusive."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({_IMPORT_LOCK})")
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_IMPORT_LOCK})")
                conn.commit()
            except Exception:
                conn.invalidate()  # never back to the pool still holding the lock
                raise


def encode_lines(lines: pa.Table) -> pa.Buffer:
    """`lines` as PostgreSQL's COPY reads them (CSV of domain.claims.COLUMNS)."""
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(lines.select(list(COLUMNS)), sink, _CSV)
    return sink.getvalue()


def store_claims(
    conn: Connection, batch: pa.Table, encoded: pa.Buffer | None = None
) -> StoredBatch:
    """Store the new lines of `batch`; classify the others (see the module docstring).
    `encoded`: `encode_lines(batch)`, written beforehand (PostgreSQL)."""
    result = StoredBatch()
    if batch.num_rows == 0:
        return result
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            # The probe tables have no statistics: without this the planner may hash
            # the whole claim table for each batch instead of probing its index per
            # value, and compile the statements (JIT) for every batch.
            cur.execute("SET LOCAL enable_hashjoin = off")
            cur.execute("SET LOCAL enable_mergejoin = off")
            cur.execute("SET LOCAL jit = off")
    known = pc.is_in(batch["ins"], value_set=_present(conn, "beneficiary", "ins", batch["ins"]))
    stored_ids = _present(conn, "claim", "claim_id", batch["claim_id"])
    stored = pc.is_in(batch["claim_id"], value_set=stored_ids)
    new = batch.filter(pc.and_(known, pc.invert(stored)))
    if postgres and new.num_rows:
        # The text written beforehand is the whole batch's: it serves if all is new.
        whole = encoded if encoded is not None and new.num_rows == batch.num_rows else None
        _copy(conn, whole if whole is not None else encode_lines(new))
    elif new.num_rows:
        _insert(conn, new.select(list(COLUMNS)))
    result.inserted = new.num_rows
    result.unknown = batch.filter(pc.and_(pc.invert(known), pc.invert(stored))).num_rows
    again = batch.filter(stored)
    if again.num_rows:
        _compare(conn, again, result)
    return result


def _present(conn: Connection, table: str, column: str, values: pa.ChunkedArray) -> pa.Array:
    """Which of `values` are in `table`.`column` (a unique, indexed column).

    PostgreSQL gets the values by COPY into a temporary table joined to the index: a
    100,000-element array parameter cost more to send and parse than the probes."""
    wanted = pc.unique(values)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        probe = f"probe_{table}"
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(pa.table({"value": wanted}), sink, _CSV)
        with raw.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {probe} (value TEXT) ON COMMIT DELETE ROWS"
            )
            with cur.copy(f"COPY {probe} (value) FROM STDIN (FORMAT csv)") as copy:
                copy.write(memoryview(sink.getvalue()))
            cur.execute(f"SELECT p.value FROM {probe} p JOIN {table} t ON t.{column} = p.value")
            found = [row[0] for row in cur.fetchall()]
            cur.execute(f"DELETE FROM {probe}")  # a batch probes each table once, but
            # a test may store two batches in one transaction
        return pa.array(found, pa.string())
    found = []
    listed = wanted.to_pylist()
    for i in range(0, len(listed), _SQLITE_IN):
        chunk = listed[i : i + _SQLITE_IN]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({marks})"
        found += [row[0] for row in conn.exec_driver_sql(sql, tuple(chunk))]
    return pa.array(found, pa.string())


def _copy(conn: Connection, text: pa.Buffer) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    copying = f"COPY claim ({_NAMES}) FROM STDIN (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(copying) as copy:
        copy.write(memoryview(text))


def _insert(conn: Connection, lines: pa.Table) -> None:
    dates = lines.column("care_date").cast(pa.string())  # SQLite keeps dates as ISO text
    lines = lines.set_column(COLUMNS.index("care_date"), "care_date", dates)
    rows = list(zip(*(c.to_pylist() for c in lines.columns), strict=True))
    marks = ", ".join("?" for _ in COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO claim ({_NAMES}) VALUES ({marks})", rows)


def _compare(conn: Connection, again: pa.Table, result: StoredBatch) -> None:
    """Lines whose claim_id is stored: the same line (a duplicate) or a conflict."""
    stored = find_claims_by_id(conn, again["claim_id"].to_pylist())
    for row in again.to_pylist():
        line = row.pop("line")
        row["category"] = ClaimCategory(row["category"])
        differs = differing_field(stored[row["claim_id"]], ClaimLine(**row))
        if differs is None:
            result.duplicates += 1
        else:
            result.conflicts.append((int(line), differs))


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
    and how many there are in all (one range of ix_claim_ins: the person's lines, at
    most 24 months of them once purged, sorted by date in memory)."""
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
