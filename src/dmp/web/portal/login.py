"""/portail/connexion and /portail/code: the two steps of a login (RULES R19), and
/portail/deconnexion."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dmp.domain.errors import DomainError
from dmp.services import logins
from dmp.services.logins import LoginRefused, SessionEnded
from dmp.web.deps import DbDep
from dmp.web.portal.deps import NowDep, anonymous_ctx, portal_of
from dmp.web.portal.messages import STATES
from dmp.web.portal.render import FormText, error_of, render
from dmp.web.portal.security import NeedsLogin, drop_session, session_token, set_session


def show(request: Request, etat: str = "") -> HTMLResponse:
    return render(request, "connexion.html", {"values": {}, "notice": STATES.get(etat)})


def submit(
    request: Request, db: DbDep, now: NowDep, identifier: FormText = "", password: FormText = ""
) -> Response:
    ctx = anonymous_ctx(request, now)
    try:
        challenge = logins.start_login(db, ctx, portal_of(request), identifier, password)
    except DomainError as exc:
        context = {"values": {"identifier": identifier}, "errors": error_of(exc), "notice": None}
        return render(request, "connexion.html", context, 400)
    response = RedirectResponse(f"/portail/code?par={challenge.method}", 303)
    set_session(request, response, challenge.token)
    return response


def code_page(request: Request, par: str = "email", nouveau: str = "") -> HTMLResponse:
    if not session_token(request):
        raise NeedsLogin()
    context = {"method": "totp" if par == "totp" else "email", "resent": nouveau == "1"}
    return render(request, "code.html", context)


def code_submit(
    request: Request, db: DbDep, now: NowDep, code: FormText = "", par: str = "email"
) -> Response:
    ctx = anonymous_ctx(request, now)
    method = "totp" if par == "totp" else "email"
    try:
        token = logins.finish_login(db, ctx, portal_of(request), session_token(request), code)
    except SessionEnded:
        raise NeedsLogin() from None
    except LoginRefused as exc:  # the lock: back to the first step, nothing more said
        refusal = render(
            request, "connexion.html", {"values": {}, "errors": error_of(exc), "notice": None}, 400
        )
        drop_session(request, refusal)
        return refusal
    except DomainError as exc:
        context = {"method": method, "resent": False, "errors": error_of(exc)}
        return render(request, "code.html", context, 400)
    response = RedirectResponse("/portail/mon-dossier", 303)
    set_session(request, response, token)  # a new id: the one of step 1 is dead
    return response


def resend(request: Request, db: DbDep, now: NowDep) -> Response:
    ctx = anonymous_ctx(request, now)
    sent = logins.send_new_code(db, ctx, portal_of(request), session_token(request))
    return RedirectResponse(f"/portail/code?par=email&nouveau={int(sent)}", 303)


def logout(request: Request, db: DbDep, now: NowDep) -> Response:
    logins.logout(db, anonymous_ctx(request, now), session_token(request))
    response = RedirectResponse("/portail/connexion?etat=deconnecte", 303)
    drop_session(request, response)
    return response
