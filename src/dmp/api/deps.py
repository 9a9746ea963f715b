"""What handlers take from the request: the database, the settings, the caller's context."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from dmp.api import auth
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
    """The caller's context: the actor its bearer token proves (RULES R18, api/auth.py),
    anonymous without an Authorization header; a bad token is refused with a 401."""
    now = datetime.now(UTC)
    authenticated = auth.authenticate(request, now)
    client = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:80]
    actor = authenticated.actor if authenticated else ANONYMOUS
    return Ctx(actor, now, f"{client} {agent}".strip(), matrix=request.app.state.matrix)
