"""What every portal request goes through (docs/decisions/0007-portal-accounts.md).

`PortalRoute` is the route class of the whole portal, so no page can forget it:

- an unsafe method (POST) must come from the portal's own origin (`Origin`, or
  `Referer` when a browser sends no Origin) and carry the form's `csrf` token, an HMAC
  of the visitor's cookie (the session cookie once logged in, a random visitor cookie
  before): otherwise 403, before the page's code runs;
- every answer gets no-store caching and a strict Content-Security-Policy, and the
  visitor cookie when the browser had none;
- `NeedsLogin`, raised by a page, becomes a redirection to the login page that also
  drops a dead session cookie.

Cookies are `__Host-dmp_session` / `__Host-dmp_csrf`: Secure, HttpOnly, SameSite=Strict,
Path=/, no Domain. With DMP_SESSION_COOKIE_SECURE=false (plain http, development only)
they are `dmp_session` / `dmp_csrf` without Secure, as browsers require.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from dmp.config import Settings
from dmp.web.portal.deps import portal_of
from dmp.web.rendering import templates

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",  # not no-referrer: that would send `Origin: null`
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


class NeedsLogin(Exception):
    """No live session: go to the login page (with a fixed message key)."""

    def __init__(self, state: str = "expire") -> None:
        super().__init__(state)
        self.state = state


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def session_cookie(request: Request) -> str:
    secure = _settings(request).session_cookie_secure
    return "__Host-dmp_session" if secure else "dmp_session"


def visitor_cookie(request: Request) -> str:
    secure = _settings(request).session_cookie_secure
    return "__Host-dmp_csrf" if secure else "dmp_csrf"


def session_token(request: Request) -> str:
    return request.cookies.get(session_cookie(request), "")


def set_session(request: Request, response: Response, token: str) -> None:
    """The session cookie: no Max-Age (gone when the browser closes; the server ends it
    after 30 idle minutes or 12 hours anyway)."""
    _set(request, response, session_cookie(request), token)


def drop_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        session_cookie(request),
        path="/",
        secure=_settings(request).session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _set(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/",
        secure=_settings(request).session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def csrf_token(request: Request) -> str:
    """The token every form of this page carries (computed, never stored)."""
    binding: str = request.state.csrf_binding
    return portal_of(request).keys.csrf_token(binding)


def _binding(request: Request) -> tuple[str, bool]:
    """The value the CSRF token is bound to, and whether it is a new visitor cookie."""
    current = session_token(request) or request.cookies.get(visitor_cookie(request), "")
    if current:
        return current, False
    return secrets.token_urlsafe(32), True


def expected_origin(request: Request) -> str:
    configured = _settings(request).portal_base_url
    if configured:
        parts = urlsplit(configured)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return hmac.compare_digest(origin.encode(), expected_origin(request).encode())


async def _forged(request: Request) -> bool:
    if not _same_origin(request):
        return True
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or request.state.new_visitor:
        return True
    return not hmac.compare_digest(sent.encode(), csrf_token(request).encode())


def refused(request: Request) -> HTMLResponse:
    response: HTMLResponse = templates().TemplateResponse(
        request,
        "portal/refused.html",
        {"signed_in": False, "csrf": ""},
        status_code=403,
    )
    return response


class PortalRoute(APIRoute):
    """The portal's route class: origin and CSRF checks, headers, login redirects."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        page = super().get_route_handler()

        async def handler(request: Request) -> Response:
            request.state.csrf_binding, request.state.new_visitor = _binding(request)
            response: Response
            if request.method not in SAFE_METHODS and await _forged(request):
                response = refused(request)
            else:
                try:
                    response = await page(request)
                except NeedsLogin as exc:
                    response = RedirectResponse(f"/portail/connexion?etat={exc.state}", 303)
                    drop_session(request, response)
            if request.state.new_visitor:
                _set(request, response, visitor_cookie(request), request.state.csrf_binding)
            response.headers.update(HEADERS)
            if _settings(request).session_cookie_secure:
                response.headers["Strict-Transport-Security"] = "max-age=63072000"
            return response

        return handler
