"""/portail/activation: the holder activates their account with the code of the letter
(RULES R19), chooses the e-mail address for their login codes and a password."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dmp.domain.errors import DomainError
from dmp.services import accounts
from dmp.web.deps import DbDep
from dmp.web.portal.deps import NowDep, anonymous_ctx, portal_of
from dmp.web.portal.messages import french
from dmp.web.portal.render import FormText, error_of, render

PAGE = "activation.html"


def show(request: Request) -> HTMLResponse:
    return render(request, PAGE, {"values": {}})


def submit(
    request: Request,
    db: DbDep,
    now: NowDep,
    identifier: FormText = "",
    code: FormText = "",
    email: FormText = "",
    password: FormText = "",
    confirmation: FormText = "",
) -> Response:
    values = {"identifier": identifier, "code": code, "email": email}
    if password != confirmation:
        errors = {"confirmation": french(DomainError("PASSWORD_MISMATCH", "", "confirmation"))}
        return render(request, PAGE, {"values": values, "errors": errors}, 400)
    try:
        accounts.activate_account(
            db, anonymous_ctx(request, now), portal_of(request), identifier, code, email, password
        )
    except DomainError as exc:
        return render(request, PAGE, {"values": values, "errors": error_of(exc)}, 400)
    return RedirectResponse("/portail/connexion?etat=active", 303)
