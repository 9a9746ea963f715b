"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

`Database.write()` is the one unit of work: a transaction that commits on success
and rolls back on any error. On SQLite it begins IMMEDIATE so that concurrent
writers queue on the lock instead of failing half-way; reads never block in WAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """A database the services read and write through."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: Engine = _create_engine(url, self.is_sqlite, echo)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction: commit on success, roll back on error."""
        with self.engine.connect().execution_options(dmp_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, is_sqlite: bool, echo: bool) -> Engine:
    if not is_sqlite:
        return _postgresql_engine(url, echo)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        # 64 MB of page cache: bulk imports touch index pages all over the B-trees.
        cur.execute("PRAGMA cache_size = -65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("dmp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# A pooled connection older than this is replaced (server-side idle timeouts, proxies).
POOL_RECYCLE_SECONDS = 1800


def _postgresql_engine(url: str, echo: bool) -> Engine:
    """No pool_pre_ping: its ping costs a round trip on every transaction (1 of the 12
    a search took). A connection the server closed (a restart, an idle timeout) is
    caught on checkout by reading the socket without waiting, and replaced; one that
    breaks mid-request fails that request and SQLAlchemy then renews the whole pool."""
    engine = create_engine(
        url, echo=echo, pool_size=10, max_overflow=20, pool_recycle=POOL_RECYCLE_SECONDS
    )

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        pgconn = dbapi_conn.pgconn
        try:
            # Reads what the server sent meanwhile without waiting: a closing server's
            # goodbye message comes first, the closed socket shows on the second read.
            pgconn.consume_input()
            pgconn.consume_input()
        except psycopg.OperationalError:
            raise DisconnectionError("the server closed the connection") from None
        if pgconn.status != pq.ConnStatus.OK or dbapi_conn.broken:
            raise DisconnectionError("the connection is broken")

    return engine
