"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter mark, for the few fixed SQL strings of the
    bulk and audit paths (psycopg: %s, sqlite3: ?)."""
    return "%s" if conn.dialect.name == "postgresql" else "?"
