"""What handlers take from the request: the database, the settings, the caller's context."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from dmp.config import Settings
from dmp.domain.actors import ANONYMOUS
from dmp.services.context import Ctx
from dmp.storage.db import Database


def db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def ctx(request: Request) -> Ctx:
    """The caller's context. Authentication arrives with the access issue; until then
    every API caller is traced as anonymous."""
    client = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:80]
    return Ctx(ANONYMOUS, datetime.now(UTC), f"{client} {agent}".strip())
