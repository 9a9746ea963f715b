"""Engines and transactions for SQLite (embedded default) and PostgreSQL.

`Database.write()` is the one unit of work: a transaction that commits on success
and rolls back on any error. On SQLite it begins IMMEDIATE so that concurrent
writers queue on the lock instead of failing half-way; reads never block in WAL.
SQLite's writers queue first on a lock file beside the database (`WriterQueue`), so
that the next one starts as soon as the last commits, in any process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql.base import Executable

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """A database the services read and write through."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: Engine = _create_engine(url, self.is_sqlite, echo)
        path = self.url.database if self.is_sqlite else None
        self._writers: AbstractContextManager[object] = (
            WriterQueue(f"{path}.writer-lock")
            if path and path != ":memory:" and not path.startswith("file:")
            else nullcontext()
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction: commit on success, roll back on error."""
        with (
            self._writers,
            self.engine.connect().execution_options(dmp_write=True) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writers, WriterQueue):
            self._writers.close()


class WriterQueue:
    """SQLite's writers, one at a time, queued on an exclusive lock of a file beside
    the database (`flock`), held from before BEGIN IMMEDIATE until after the commit or
    rollback.

    Without it, a writer that finds SQLite's lock taken sleeps in SQLite's busy handler
    by steps (1, 2, 5, 10… up to 100 ms) and looks again: the lock stays free while
    it sleeps, and a second server process on the same file loses most of its time so.
    A waiter here is woken by the kernel as soon as the holder lets go. Threads of one
    process queue on a lock of their own first (an flock is held by an open file, which
    they share); a process that dies lets go of its flock with it. Writers that do not
    come through here (another program) still meet SQLite's busy handler.

    Re-entrant within a thread, like the transaction it guards would be."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0  # changed only while holding _threads
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_EX)  # waits without the GIL
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # A forked child must not share its parent's open file: their flocks would be
        # one and the same lock, which excludes nobody.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


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
        # On the driver's connection: through SQLAlchemy, this line cost a tenth of an
        # empty transaction (statement listeners see no BEGIN: they never counted it).
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if immediate else "BEGIN"
        )

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


# --- statements of the hot paths ---

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order; None: by name
    defaults: dict[str, Any]  # values the statement holds itself (LIMIT 1…)
    binds: tuple[tuple[str, Processor], ...]  # parameters the dialect converts
    keys: tuple[str, ...]  # the columns of its rows
    results: tuple[Processor | None, ...]  # their conversions, None: as the driver gives


class Prebuilt:
    """A SQLAlchemy Core statement compiled once per dialect and run on the driver's
    own cursor, with the same conversions SQLAlchemy applies (dates as SQLite stores
    them, booleans…): for the statements every publish and search runs.

    Measured on SQLite: a prebuilt statement through `Connection.execute` cost 56 µs of
    SQLAlchemy (cache key, parameters, result metadata), `exec_driver_sql` 45 µs, the
    driver 4 µs; a publish runs about ten. When someone listens to statements (a test
    counting them, `echo`), they go through `exec_driver_sql`, which tells them.

    Parameters are bound by name; a statement needing SQLAlchemy at execution (an
    expanding IN) is refused when compiled."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    sql = str(compiled.string)
    if "POSTCOMPILE" in sql:
        raise ValueError("a prebuilt statement cannot expand its parameters at execution")
    defaults: dict[str, Any] = {}
    binds: list[tuple[str, Processor]] = []
    for bind in compiled.binds.values():
        name = compiled.bind_names[bind]
        if not bind.required:
            defaults[name] = bind.effective_value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    columns = list(getattr(statement, "exported_columns", ()))
    return _Compiled(
        sql,
        tuple(compiled.positiontup) if compiled.positional else None,
        defaults,
        tuple(binds),
        tuple(c.key for c in columns),
        tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns),
    )


def _cursor(conn: Connection, statement: Prebuilt, params: dict[str, Any]) -> Any:
    c = statement.compiled(conn.dialect)
    values = {**c.defaults, **params} if c.defaults else params
    for name, process in c.binds:
        value = values[name]
        if value is not None:
            values[name] = process(value)
    return driver_execute(
        conn, c.sql, values if c.positions is None else tuple(values[n] for n in c.positions)
    )


def driver_execute(conn: Connection, sql: str, args: tuple[Any, ...] | dict[str, Any]) -> Any:
    """Fixed SQL (the driver's parameter marks) on the driver's cursor, within the
    transaction of `conn`; through `exec_driver_sql` when statements are listened to."""
    if conn.dispatch.before_cursor_execute or conn.engine.echo:
        return conn.exec_driver_sql(sql, args)
    return conn.connection.driver_connection.execute(sql, args)  # type: ignore[union-attr]


def _row(c: _Compiled, row: Any) -> dict[str, Any]:
    return {
        key: value if process is None or value is None else process(value)
        for key, process, value in zip(c.keys, c.results, row, strict=True)
    }


def fetch_all(conn: Connection, statement: Prebuilt, **params: Any) -> list[dict[str, Any]]:
    """The rows of `statement`, each a dict by column name."""
    c = statement.compiled(conn.dialect)
    return [_row(c, r) for r in _cursor(conn, statement, dict(params)).fetchall()]


def fetch_one(conn: Connection, statement: Prebuilt, **params: Any) -> dict[str, Any] | None:
    """The first row of `statement` (a dict by column name), or None."""
    row = _cursor(conn, statement, dict(params)).fetchone()
    return None if row is None else _row(statement.compiled(conn.dialect), row)


def run(conn: Connection, statement: Prebuilt, **params: Any) -> int:
    """Run `statement`; the number of rows it changed."""
    return int(_cursor(conn, statement, dict(params)).rowcount)
