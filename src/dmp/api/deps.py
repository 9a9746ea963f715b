"""What handlers take from the request: the database, the settings, the caller's context.

They are coroutines: FastAPI runs a plain function in its thread pool, and each such hop
cost more than the work of these (a search went through three hops, now one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from dmp.api import auth
from dmp.config import Settings
from dmp.domain.actors import ANONYMOUS
from dmp.services.context import Ctx
from dmp.storage.db import Database


async def db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def ctx(request: Request) -> Ctx:
    """The caller's context: the actor its bearer token proves (RULES R18, api/auth.py),
    anonymous without an Authorization header; a bad token is refused with a 401."""
    now = datetime.now(UTC)
    authenticated = await auth.authenticate(request, now)
    client = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:80]
    actor = authenticated.actor if authenticated else ANONYMOUS
    return Ctx(actor, now, f"{client} {agent}".strip(), matrix=request.app.state.matrix)
