"""Which blob keys the database refers to: documents' `blob_key` and the `pending_blob`
rows of publishes in flight. What `dmp fsck` and the purge need to find blobs nobody
refers to, or that a purged record leaves behind.

The publish protocol these queries assume (services that store documents follow it):
1. insert the `pending_blob` row and commit, 2. put the blob, 3. in one transaction,
insert the `document` row and delete the `pending_blob` row, checking that the delete
removed it: if it did not, `fsck` judged the publish abandoned and removed the blob, so
the publish must fail. At every moment a stored blob is therefore referred to by a
pending row or by a document row, or it is garbage.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Result, delete, select, tuple_

from dmp.storage.schema import document, pending_blob

Claimed = tuple[str, str]  # (blob_key, ins)


def claim_stale_pending(conn: Connection, before: datetime, limit: int) -> list[Claimed]:
    """Delete up to `limit` pending rows created before `before` and return them. The
    delete is the claim: a publish still running finds its row gone and fails (step 3)."""
    oldest = (
        select(pending_blob.c.blob_key)
        .where(pending_blob.c.created_at < before)
        .order_by(pending_blob.c.created_at)
        .limit(limit)
        .scalar_subquery()
    )
    rows = conn.execute(
        delete(pending_blob)
        .where(pending_blob.c.blob_key.in_(oldest), pending_blob.c.created_at < before)
        .returning(pending_blob.c.blob_key, pending_blob.c.ins)
    )
    return [(row.blob_key, row.ins) for row in rows]


def committed_blob_keys(conn: Connection, claimed: Sequence[Claimed]) -> set[str]:
    """The keys among `claimed` that a document row of the same record refers to
    (looked up by (ins, blob_key), so the record's key prefix of the index serves)."""
    if not claimed:
        return set()
    pairs = [(ins, key) for key, ins in claimed]
    rows = conn.execute(
        select(document.c.blob_key).where(tuple_(document.c.ins, document.c.blob_key).in_(pairs))
    )
    return set(rows.scalars())


def referenced_keys(conn: Connection, batch: int = 5000) -> Generator[str]:
    """Every blob key a document or a pending row refers to, in ascending byte order
    (the order blob stores list keys in), streamed; duplicates may occur. Close the
    iterator (contextlib.closing) when stopping early: it holds two database cursors."""
    with (
        _sorted_keys(conn, document.c.blob_key, batch) as documents,
        _sorted_keys(conn, pending_blob.c.blob_key, batch) as pending,
    ):
        yield from heapq.merge(documents.scalars(), pending.scalars())


def referenced_now(conn: Connection, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that a document or a pending row refers to."""
    if not keys:
        return set()
    found = set(
        conn.execute(select(document.c.blob_key).where(document.c.blob_key.in_(keys))).scalars()
    )
    found.update(
        conn.execute(
            select(pending_blob.c.blob_key).where(pending_blob.c.blob_key.in_(keys))
        ).scalars()
    )
    return found


def delete_documents_of(conn: Connection, ins: str) -> list[str]:
    """Delete the record's document rows; their blob keys, whose blobs the caller
    deletes once this transaction has committed (RULES R4, purge)."""
    gone = delete(document).where(document.c.ins == ins).returning(document.c.blob_key)
    return list(conn.execute(gone).scalars())


def delete_pending_of(conn: Connection, ins: str) -> list[str]:
    """Delete the record's pending notes; their blob keys (RULES R4, purge)."""
    gone = delete(pending_blob).where(pending_blob.c.ins == ins).returning(pending_blob.c.blob_key)
    return list(conn.execute(gone).scalars())


def _sorted_keys(conn: Connection, column: ColumnElement[str], batch: int) -> Result[Any]:
    # Byte order whatever the database's collation: "C" on PostgreSQL, SQLite's default.
    order = column.collate("C") if conn.dialect.name == "postgresql" else column
    return conn.execute(select(column).order_by(order).execution_options(yield_per=batch))
