"""/portail/mon-dossier: the logged-in holder's record status and access history
(RULES R16: who, profession, when, what, emergency or not), read through the same
guarded services as the API, as the holder (role PATIENT, id = INS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dmp.domain.audit import AuditEvent, Purpose
from dmp.domain.errors import NotFound
from dmp.domain.records import CHANNEL_LABELS, Record
from dmp.domain.time import PARIS
from dmp.services import accounts, logins, records
from dmp.services.history import get_history
from dmp.services.logins import SessionEnded
from dmp.storage.db import Database
from dmp.storage.portal_sessions import Session
from dmp.web.deps import DbDep
from dmp.web.portal.deps import NowDep, anonymous_ctx, holder_ctx
from dmp.web.portal.messages import ACTIONS, LOGIN_STEPS, OUTCOMES, ROLES
from dmp.web.portal.render import render
from dmp.web.portal.security import NeedsLogin, session_token

PAGE_SIZE = 25
STATUS = {"open": "Ouvert", "closed": "Fermé", "purged": "Détruit"}
T = TypeVar("T")


def current_holder(request: Request, db: Database, now: Any) -> Session:
    """The logged-in session, or NeedsLogin (to the login page)."""
    token = session_token(request)
    if not token:
        raise NeedsLogin("")
    try:
        return logins.open_session(db, anonymous_ctx(request, now), token)
    except SessionEnded:
        raise NeedsLogin("expire") from None


def index(request: Request) -> Response:
    target = "/portail/mon-dossier" if session_token(request) else "/portail/connexion"
    return RedirectResponse(target, 303)


def my_record(request: Request, db: DbDep, now: NowDep, page: str = "1") -> HTMLResponse:
    session = current_holder(request, db, now)
    ctx = holder_ctx(request, now, session.ins)
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    account = accounts.get_account(db, ctx)
    record = _found(lambda: records.get_record(db, ctx, session.ins))
    history = _found(lambda: get_history(db, ctx, session.ins, PAGE_SIZE, (number - 1) * PAGE_SIZE))
    labels = request.app.state.matrix.labels
    context = {
        "signed_in": True,
        "account": account,
        "last_login": _when(account.last_login_at) if account.last_login_at else None,
        "record": _record(record) if record else None,
        "events": [_event(e, session.ins, labels) for e in history.events] if history else [],
        "total": history.total if history else 0,
        "page": number,
        "pages": max(1, -(-history.total // PAGE_SIZE)) if history else 1,
    }
    return render(request, "mon_dossier.html", context)


def _found(read: Callable[[], T]) -> T | None:
    """What the guarded service returns, or None where the holder has no record."""
    try:
        return read()
    except NotFound:
        return None


def _when(at: Any) -> str:
    local = at.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


def _record(record: Record) -> dict[str, str]:
    opening = record.opening
    return {
        "status": STATUS.get(record.status.value, record.status.value),
        "opened": _when(opening.opened_at),
        "channel": CHANNEL_LABELS.get(opening.channel, opening.channel.value),
        "closed": _when(record.closed_at) if record.closed_at else "",
    }


def _event(event: AuditEvent, ins: str, labels: dict[str, str]) -> dict[str, Any]:
    """One line of the history: who, profession, when, what, outcome, emergency."""
    if event.actor_role == "patient" and event.actor_id == ins:
        who = "Vous"
    else:
        role = ROLES.get(event.actor_role, event.actor_role)
        shown_id = event.actor_id if event.actor_role == "professional" else ""
        who = f"{role} ({'RPPS ' + shown_id})" if shown_id else role
    what = ACTIONS.get(event.action.value, event.action.value)
    step = event.detail.get("step")
    if isinstance(step, str) and step in LOGIN_STEPS:
        what = f"{what} : {LOGIN_STEPS[step]}"
    return {
        "when": _when(event.at),
        "iso": event.at.isoformat(),
        "who": who,
        "profession": labels.get(event.actor_profession or "", event.actor_profession or ""),
        "organisation": event.actor_organisation or "",
        "what": what,
        "outcome": OUTCOMES.get(event.outcome.value, event.outcome.value),
        "emergency": event.purpose is Purpose.EMERGENCY,
    }
