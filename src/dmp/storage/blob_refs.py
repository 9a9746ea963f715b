"""Which blob keys the database refers to: documents' `blob_key`, nothing else. What
`dmp fsck` needs to find bytes no document refers to, and the purge to find the bytes
a purged record leaves behind.

A publish writes the bytes first, then commits the `document` row that refers to them,
or deletes them if it fails (services/documents.py); there is no other reference. Bytes
nobody refers to are therefore a publish still running, a crash's leftovers, or what a
purge could not delete: services/fsck.py tells them apart by the hour in their key.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Result, delete, select

from dmp.storage.schema import document


def referenced_keys(conn: Connection, batch: int = 5000) -> Generator[str]:
    """Every blob key a document refers to, in ascending byte order (the order blob
    stores list keys in), streamed. Close the iterator (contextlib.closing) when
    stopping early: it holds a database cursor."""
    with _sorted_keys(conn, document.c.blob_key, batch) as rows:
        yield from rows.scalars()


def referenced_now(conn: Connection, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` that a document refers to (one query, by the unique index
    `ix_document_blob_key`)."""
    if not keys:
        return set()
    query = select(document.c.blob_key).where(document.c.blob_key.in_(keys))
    return set(conn.execute(query).scalars())


def delete_documents_of(conn: Connection, ins: str) -> list[str]:
    """Delete the record's document rows; their blob keys, whose blobs the caller
    deletes once this transaction has committed (RULES R4, purge)."""
    gone = delete(document).where(document.c.ins == ins).returning(document.c.blob_key)
    return list(conn.execute(gone).scalars())


def _sorted_keys(conn: Connection, column: ColumnElement[str], batch: int) -> Result[Any]:
    # Byte order whatever the database's collation: "C" on PostgreSQL, SQLite's default.
    order = column.collate("C") if conn.dialect.name == "postgresql" else column
    return conn.execute(select(column).order_by(order).execution_options(yield_per=batch))
