"""Who calls the API: `Authorization: Bearer <token>` verified into an Actor (RULES R18).

No Authorization header: the caller is anonymous (traced, never trusted). A header that
is not a valid bearer token: 401 with an OperationOutcome and a `WWW-Authenticate`
challenge (RFC 6750 §3), never a 500. Keys the server cannot read: 503.

The verifier is built from the settings on first use and kept on `app.state`: the
JWKS file is read, and the development key created, only when a token arrives.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from dmp.api.json import FhirJson
from dmp.api.outcomes import issue, operation_outcome
from dmp.config import Settings
from dmp.services.tokens import (
    DEV_ISSUER,
    DEV_MODES,
    Authenticated,
    KeySource,
    KeysUnavailable,
    RemoteJwks,
    TokenRefused,
    Verifier,
    load_jwks_file,
    open_dev_issuer,
)

log = logging.getLogger(__name__)
_building = threading.Lock()


class UnsupportedScheme(TokenRefused):
    """An Authorization header with another scheme than Bearer (Basic…)."""

    def __init__(self) -> None:
        super().__init__("AUTH_SCHEME", "use Authorization: Bearer <token>")


async def authenticate(request: Request, now: datetime) -> Authenticated | None:
    """The caller proven by the request's bearer token; None without Authorization.

    A token verified lately is answered from memory, on the event loop; another is
    verified in the thread pool (the issuer's key set may have to be fetched)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise UnsupportedScheme()
    token = token.strip()
    if not token:
        raise TokenRefused("TOKEN_MALFORMED", "the bearer token is empty")
    seen: RecentTokens = request.app.state.recent_tokens
    known = seen.get(token, now)
    if known is not None:
        return known
    authenticated = await run_in_threadpool(_verify, request.app, token, now)
    seen.add(token, authenticated, now)
    return authenticated


def _verify(app: FastAPI, token: str, now: datetime) -> Authenticated:
    return verifier(app).verify(token, now)


RECENT_TOKENS_TTL = timedelta(seconds=60)


class RecentTokens:
    """Tokens verified lately, so that a client's next requests with the same token skip
    the signature check (about 0.6 ms of a 2-core machine's CPU per request; practice
    software sends one token for hours).

    An entry is the verifier's own answer for that exact string, signature included,
    and holds for `ttl` at most, never past the token's expiry: a token the verifier
    would now refuse (expired; its key withdrawn from the issuer's key set, which is
    re-read every DMP_OIDC_JWKS_TTL_SECONDS) is refused again within `ttl`. Only
    verified tokens enter; at most `size` are kept, the oldest dropped first."""

    def __init__(self, ttl: timedelta = RECENT_TOKENS_TTL, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[str, tuple[Authenticated, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: datetime) -> Authenticated | None:
        found = self._seen.get(token)
        if found is None:
            return None
        authenticated, verified_at = found
        if verified_at <= now < min(verified_at + self.ttl, authenticated.expires_at):
            return authenticated
        with self._lock:
            self._seen.pop(token, None)
        return None

    def add(self, token: str, authenticated: Authenticated, now: datetime) -> None:
        with self._lock:
            while len(self._seen) >= self.size:
                del self._seen[next(iter(self._seen))]
            self._seen[token] = (authenticated, now)


def verifier(app: FastAPI) -> Verifier:
    """The app's verifier, built from its settings once (KeysUnavailable if it cannot be)."""
    built: Verifier | None = getattr(app.state, "token_verifier", None)
    if built is None:
        with _building:
            built = getattr(app.state, "token_verifier", None)
            if built is None:
                built = app.state.token_verifier = build_verifier(app.state.settings)
    return built


def build_verifier(settings: Settings) -> Verifier:
    """Trust the configured issuer (its JWKS file or URL) and, in dev and demo modes
    only, the development issuer. A configuration that cannot be used is logged and
    gives KeysUnavailable: the operator fixes it, callers get a 503 meanwhile."""
    issuers: dict[str, KeySource] = {}
    try:
        if settings.oidc_issuer:
            if settings.oidc_issuer == DEV_ISSUER:
                raise ValueError(f"DMP_OIDC_ISSUER may not be {DEV_ISSUER}")
            issuers[settings.oidc_issuer] = _configured_keys(settings)
        if settings.mode in DEV_MODES:
            issuers[DEV_ISSUER] = open_dev_issuer(settings.data_dir, settings.mode).source()
    except (OSError, ValueError) as exc:
        log.error("bearer tokens cannot be verified: %s", exc)
        raise KeysUnavailable() from None
    return Verifier(
        settings.oidc_audience,
        issuers,
        timedelta(seconds=settings.token_leeway_seconds),
        timedelta(minutes=settings.token_max_lifetime_minutes),
    )


def _configured_keys(settings: Settings) -> KeySource:
    if settings.oidc_jwks_url:
        return RemoteJwks(settings.oidc_jwks_url, timedelta(seconds=settings.oidc_jwks_ttl_seconds))
    if settings.oidc_jwks_file:
        return load_jwks_file(settings.oidc_jwks_file)
    raise ValueError("DMP_OIDC_ISSUER is set without DMP_OIDC_JWKS_FILE or DMP_OIDC_JWKS_URL")


def refusal_response(exc: TokenRefused) -> FhirJson:
    """401 (503 when keys are unavailable) as an OperationOutcome with its challenge."""
    if isinstance(exc, KeysUnavailable):
        status, fhir_code, headers = 503, "transient", {"Retry-After": "30"}
    else:
        status = 401
        fhir_code = "expired" if exc.code == "TOKEN_EXPIRED" else "login"
        challenge = "Bearer"  # RFC 6750 §3: no error code for another scheme
        if not isinstance(exc, UnsupportedScheme):
            challenge = f'Bearer error="invalid_token", error_description="{_quoted(exc.reason)}"'
        headers = {"WWW-Authenticate": challenge}
    return FhirJson(
        operation_outcome([issue(exc.code, exc.reason, fhir_code, exc.claim)]),
        status_code=status,
        headers=headers,
    )


def _quoted(text: str) -> str:
    """RFC 6750 error_description: printable ASCII without quote or backslash."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


def install(app: FastAPI) -> None:
    """Register the refusal handler on `app`, and its memory of recent tokens (kept no
    longer than the issuer's key set is: a withdrawn key stops working as soon)."""
    settings: Settings = app.state.settings
    keys_kept = timedelta(seconds=settings.oidc_jwks_ttl_seconds)
    app.state.recent_tokens = RecentTokens(ttl=min(RECENT_TOKENS_TTL, keys_kept))

    async def on_refused(request: Request, exc: Exception) -> FhirJson:
        assert isinstance(exc, TokenRefused)
        log.info("bearer token refused: %s (%s)", exc.code, exc.reason)
        return refusal_response(exc)

    app.add_exception_handler(TokenRefused, on_refused)
