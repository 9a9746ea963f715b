"""/portail/mot-de-passe-oublie: a reset code by e-mail (30 minutes, once), then a new
password with that code and, if enrolled, the TOTP code (RULES R19). The e-mail holds
a code to type, no link (docs/decisions/0006, 0007)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dmp.domain.errors import DomainError
from dmp.services import logins
from dmp.web.deps import DbDep
from dmp.web.portal.deps import NowDep, anonymous_ctx, portal_of
from dmp.web.portal.messages import french
from dmp.web.portal.render import FormText, error_of, render

PAGE = "mot_de_passe_oublie.html"


def show(request: Request) -> HTMLResponse:
    return render(request, PAGE, {"values": {}, "sent": False})


def request_code(request: Request, db: DbDep, now: NowDep, identifier: FormText = "") -> Response:
    values = {"identifier": identifier}
    try:
        logins.request_reset(db, anonymous_ctx(request, now), identifier)
    except DomainError as exc:
        return render(
            request, PAGE, {"values": values, "sent": False, "errors": error_of(exc)}, 400
        )
    # The same answer whether an account exists or not.
    return render(request, PAGE, {"values": values, "sent": True})


def submit(
    request: Request,
    db: DbDep,
    now: NowDep,
    identifier: FormText = "",
    reset_code: FormText = "",
    totp_code: FormText = "",
    password: FormText = "",
    confirmation: FormText = "",
) -> Response:
    values = {"identifier": identifier, "reset_code": reset_code}
    context: dict[str, object] = {"values": values, "sent": True}
    if password != confirmation:
        errors = {"confirmation": french(DomainError("PASSWORD_MISMATCH", "", "confirmation"))}
        return render(request, PAGE, context | {"errors": errors}, 400)
    try:
        logins.reset_password(
            db,
            anonymous_ctx(request, now),
            portal_of(request),
            identifier,
            reset_code,
            totp_code,
            password,
        )
    except DomainError as exc:
        return render(request, PAGE, context | {"errors": error_of(exc)}, 400)
    return RedirectResponse("/portail/connexion?etat=reinitialise", 303)
