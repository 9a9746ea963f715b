"""What portal pages take from the request: the portal's keys and hasher, the clock,
the caller's context (anonymous before login, the holder after)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from dmp.config import Settings
from dmp.domain.actors import ANONYMOUS, Actor, Role
from dmp.services.context import Ctx
from dmp.services.credentials import Passwords, Portal
from dmp.storage.portal_keys import load_portal_keys

_building = threading.Lock()


def portal_of(request: Request) -> Portal:
    """The app's portal keys and password hasher, built on first use (the key file is
    read or created then; the dummy hash computed once)."""
    built: Portal | None = getattr(request.app.state, "portal", None)
    if built is None:
        with _building:
            built = getattr(request.app.state, "portal", None)
            if built is None:
                settings: Settings = request.app.state.settings
                keys = load_portal_keys(settings.data_dir, settings.portal_secret)
                built = request.app.state.portal = Portal(keys, Passwords())
    return built


def now() -> datetime:
    """The portal's clock: a dependency, so that tests can move it."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(now)]


def _client(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:80]
    return f"{host} {agent}".strip()


def anonymous_ctx(request: Request, at: datetime) -> Ctx:
    """Before login: an anonymous caller, traced as such."""
    return Ctx(ANONYMOUS, at, _client(request), matrix=request.app.state.matrix)


def holder_ctx(request: Request, at: datetime, ins: str) -> Ctx:
    """After login (R19): the holder, role PATIENT, id their INS; every service they
    reach goes through the access guard like an API call."""
    return Ctx(Actor(Role.PATIENT, ins), at, _client(request), matrix=request.app.state.matrix)
