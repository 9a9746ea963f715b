"""/portail/securite: the holder's account, and enrolling a TOTP app whose codes then
replace the e-mailed ones (RULES R19). The key is shown as text and as an otpauth://
URI; no QR code (nothing to install, and a typed key works with every app)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from dmp.domain.errors import DomainError
from dmp.services import accounts
from dmp.services.accounts import TotpEnrolment
from dmp.services.context import Ctx
from dmp.storage.db import Database
from dmp.web.deps import DbDep
from dmp.web.portal.deps import NowDep, holder_ctx, portal_of
from dmp.web.portal.home import current_holder
from dmp.web.portal.render import FormText, error_of, render

PAGE = "securite.html"


def _page(
    request: Request,
    db: Database,
    ctx: Ctx,
    enrolment: TotpEnrolment | None,
    *,
    errors: dict[str, str] | None = None,
    done: bool = False,
) -> HTMLResponse:
    account = accounts.get_account(db, ctx)
    secret = enrolment.secret if enrolment else ""
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    context = {
        "signed_in": True,
        "account": account,
        "enrolment": enrolment,
        "grouped_secret": grouped,
        "errors": errors or {},
        "done": done,
    }
    return render(request, PAGE, context, 400 if errors else 200)


def show(request: Request, db: DbDep, now: NowDep) -> HTMLResponse:
    session = current_holder(request, db, now)
    ctx = holder_ctx(request, now, session.ins)
    return _page(request, db, ctx, accounts.pending_totp(db, ctx, portal_of(request)))


def begin(request: Request, db: DbDep, now: NowDep) -> HTMLResponse:
    session = current_holder(request, db, now)
    ctx = holder_ctx(request, now, session.ins)
    return _page(request, db, ctx, accounts.begin_totp(db, ctx, portal_of(request)))


def confirm(request: Request, db: DbDep, now: NowDep, code: FormText = "") -> HTMLResponse:
    session = current_holder(request, db, now)
    ctx = holder_ctx(request, now, session.ins)
    portal = portal_of(request)
    try:
        accounts.confirm_totp(db, ctx, portal, code)
    except DomainError as exc:
        pending = accounts.pending_totp(db, ctx, portal)
        return _page(request, db, ctx, pending, errors=error_of(exc))
    return _page(request, db, ctx, None, done=True)
