"""The web app over a seeded database, in-process (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dmp.config import Settings
from dmp.main import create_app
from dmp.storage.db import Database
from dmp.web import deps

TODAY = date(2018, 12, 31)  # the pages' "today" in tests, five weeks after the launch


def make_app(db: Database, tmp_path: Path) -> FastAPI:
    app = create_app(Settings(mode="dev", data_dir=tmp_path), db)
    app.dependency_overrides[deps.today] = lambda: TODAY
    return app


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(db, tmp_path)) as test_client:
        yield test_client
