"""Engines and transactions: the PostgreSQL pool replaces the connections the server
closed, without a ping before each transaction; SQLite's writers queue on a lock file;
prebuilt statements run on the driver as SQLAlchemy would run them (storage/db.py)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    select,
    text,
)

from dmp.storage.db import Database, Prebuilt, WriterQueue, fetch_all, fetch_one, run

_OTHERS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


def _terminate_pooled_connections(db: Database) -> None:
    """What a server restart or an idle timeout does to the pool's connections: their
    server processes end, closing their sockets (waited for: pg_terminate_backend only
    signals them, and they leave pg_stat_activity before their sockets close)."""
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        pids = [pid for (pid,) in conn.execute(f"SELECT pid {_OTHERS}")]  # type: ignore[arg-type]
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids):
        assert time.monotonic() < deadline, "the pooled connections did not end"
        time.sleep(0.01)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie's sockets are closed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_connections_the_server_closed_are_replaced_on_checkout(pg_db: Database) -> None:
    with pg_db.read() as first, pg_db.read() as second:  # two connections in the pool
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
    _terminate_pooled_connections(pg_db)
    for _ in range(3):  # whichever pooled connection comes out, the transaction works
        with pg_db.write() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1


# --- SQLite's writers queue on a lock file (WriterQueue) ---

_COUNTER = "CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"

# A writer process: `n` read-then-write increments, with SQLite's busy handler off, so
# that a writer meeting SQLite's lock taken fails ("database is locked") at once.
_WRITER = """
import sys, time
from pathlib import Path
from sqlalchemy import text
from dmp.storage import db as storage_db
storage_db.SQLITE_BUSY_TIMEOUT_MS = 0
url, n, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
database = storage_db.Database(url)
while not go.exists():
    time.sleep(0.001)
for _ in range(n):
    with database.write() as conn:
        value = conn.execute(text("SELECT value FROM counter WHERE id = 1")).scalar_one()
        conn.execute(text("UPDATE counter SET value = :v WHERE id = 1"), {"v": value + 1})
database.dispose()
print("done")
"""


def _counter_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    with db.write() as conn:
        conn.execute(text(_COUNTER))
        conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return db


def _counter(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT value FROM counter")).scalar_one())


def test_sqlite_writers_of_two_processes_queue_and_lose_nothing(tmp_path: Path) -> None:
    """Two server processes on one SQLite file: every write transaction waits its turn
    on the lock file, none meets SQLite's lock taken (its busy handler is off here,
    so one that did would fail with "database is locked"), no increment is lost."""
    db = _counter_db(tmp_path)
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db.url), "300", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    outcomes = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outcomes]
    assert [out.strip() for out, _ in outcomes] == ["done", "done"]
    assert _counter(db) == 600
    db.dispose()


def test_sqlite_threads_of_one_process_queue_and_lose_nothing(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)
    errors: list[BaseException] = []

    def increments() -> None:
        try:
            for _ in range(50):
                with db.write() as conn:
                    value = conn.execute(text("SELECT value FROM counter")).scalar_one()
                    conn.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=increments) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _counter(db) == 300
    db.dispose()


def test_a_sqlite_writer_waits_while_another_process_holds_the_queue(tmp_path: Path) -> None:
    """The lock file is what orders writers across processes: held elsewhere, a write
    transaction does not begin; let go, it runs at once."""
    db = _counter_db(tmp_path)
    other = WriterQueue(f"{db.url.database}.writer-lock")  # another open file: as another process
    done = threading.Event()

    def write() -> None:
        with db.write() as conn:
            conn.execute(text("UPDATE counter SET value = 1"))
        done.set()

    with other:
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.3)
        assert _counter(db) == 0
    assert done.wait(10)
    writer.join()
    assert _counter(db) == 1
    other.close()
    db.dispose()


def test_a_failed_sqlite_write_lets_the_next_writer_in(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)

    def refused_half_way() -> None:
        with db.write() as conn:
            conn.execute(text("UPDATE counter SET value = 5"))
            raise RuntimeError("refused half-way")

    with pytest.raises(RuntimeError):
        refused_half_way()
    with db.write() as conn:  # would wait forever if the failed one kept the queue
        conn.execute(text("UPDATE counter SET value = value + 1"))
    assert _counter(db) == 1
    db.dispose()


def _taken_elsewhere(path: Path) -> bool:
    """Whether another open file holds the lock of `path` (a probe that does not wait)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a lock the probe took
    return False


def test_the_queue_is_reentrant_in_a_thread_and_let_go_after_the_outermost(
    tmp_path: Path,
) -> None:
    """A write within a write of the same thread does not wait for itself forever (it
    meets SQLite's own lock, as before the queue); the file is let go only at the end."""
    path = tmp_path / "queue.lock"
    queue = WriterQueue(str(path))
    with queue:
        with queue:
            assert _taken_elsewhere(path)
        assert _taken_elsewhere(path)
    assert not _taken_elsewhere(path)
    queue.close()


# --- prebuilt statements run on the driver (Prebuilt) ---

_SAMPLE = Table(
    "prebuilt_sample",
    MetaData(),
    Column("id", String(8), primary_key=True),
    Column("at", DateTime(timezone=True)),
    Column("day", Date),
    Column("flag", Boolean),
)
_SAMPLE_INSERT = Prebuilt(
    _SAMPLE.insert().values({c: bindparam(c) for c in ("id", "at", "day", "flag")})
)
_SAMPLE_SINCE = Prebuilt(
    select(_SAMPLE).where(_SAMPLE.c.at >= bindparam("since")).order_by(_SAMPLE.c.id).limit(5)
)
AT = datetime(2026, 3, 16, 9, 30, 15, 123456, tzinfo=UTC)


def _sample(db: Database) -> None:
    _SAMPLE.create(db.engine)
    with db.write() as conn:
        run(conn, _SAMPLE_INSERT, id="a", at=AT, day=date(2026, 3, 16), flag=True)
        run(conn, _SAMPLE_INSERT, id="b", at=None, day=None, flag=False)


def test_a_prebuilt_statement_stores_and_reads_values_as_sqlalchemy_does(db: Database) -> None:
    """Dates, times and booleans go in and come out as through Connection.execute: the
    rows a prebuilt statement wrote read the same through SQLAlchemy, and back."""
    _sample(db)
    with db.read() as conn:
        through_sqlalchemy = [dict(r) for r in conn.execute(select(_SAMPLE)).mappings()]
        found = fetch_all(conn, _SAMPLE_SINCE, since=AT - timedelta(seconds=1))
        none = fetch_one(conn, _SAMPLE_SINCE, since=AT + timedelta(seconds=1))
    assert found == [through_sqlalchemy[0]]
    assert _aware(found[0]["at"]) == AT
    assert found[0]["day"] == date(2026, 3, 16)
    assert found[0]["flag"] is True
    assert through_sqlalchemy[1] == {"id": "b", "at": None, "day": None, "flag": False}
    assert none is None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def test_statement_listeners_see_prebuilt_statements(db: Database) -> None:
    """Tests count statements (and echo logs them) through SQLAlchemy's events: with a
    listener, a prebuilt statement goes through exec_driver_sql, which tells it."""
    _sample(db)
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    with db.read() as conn:
        found = fetch_all(conn, _SAMPLE_SINCE, since=AT - timedelta(seconds=1))
    event.remove(db.engine, "before_cursor_execute", note)
    assert [r["id"] for r in found] == ["a"]
    assert len([s for s in seen if "prebuilt_sample" in s]) == 1


def test_a_statement_expanding_its_parameters_cannot_be_prebuilt(db: Database) -> None:
    expanding = Prebuilt(select(_SAMPLE).where(_SAMPLE.c.id.in_(bindparam("ids", expanding=True))))
    with db.read() as conn, pytest.raises(ValueError, match="expand"):
        fetch_all(conn, expanding, ids=["a"])
