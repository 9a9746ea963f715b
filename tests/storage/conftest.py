"""Databases for the migration tests: of each kind, with nothing in them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmp.storage.db import Database
from tests.pg import PgServer


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of each kind with nothing in it (not even Alembic's version table)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield database
        database.dispose()
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"e_{uuid.uuid4().hex[:12]}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    database = Database(server.url(name))
    yield database
    database.dispose()
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")
