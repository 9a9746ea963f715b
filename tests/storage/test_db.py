"""Engines and transactions: the PostgreSQL pool replaces the connections the server
closed, without a ping before each transaction (storage/db.py)."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from sqlalchemy import text

from dmp.storage.db import Database

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
