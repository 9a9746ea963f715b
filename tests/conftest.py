"""Fixtures: every database test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmp.storage.db import Database
from dmp.storage.migrate import upgrade
from tests.pg import PgServer
from tests.s3 import MotoServer

TEMPLATE = "dmp_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    server.start()
    server.execute(f"CREATE DATABASE {TEMPLATE}")
    migrated = Database(server.url(TEMPLATE))
    upgrade(migrated)
    migrated.dispose()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'dmp.sqlite3'}")
        upgrade(database)
        yield database
        database.dispose()
        return
    yield from _postgres_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[Database]:
    """A migrated PostgreSQL database, for what only PostgreSQL has (roles, triggers)."""
    yield from _postgres_database(pg_server)


def _postgres_database(server: PgServer) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    database = Database(server.url(name))
    yield database
    database.dispose()
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for tests about the embedded default only."""
    database = Database(f"sqlite:///{tmp_path / 'dmp.sqlite3'}")
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A throwaway S3 endpoint (moto's server over HTTP on loopback, tests/s3.py)."""
    server = MotoServer()
    server.start()
    yield server
    server.stop()
