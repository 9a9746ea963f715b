"""Logging in to the portal, sessions, logging out, resetting a password (RULES R19;
docs/decisions/0007-portal-accounts.md).

R19: identifier (the INS) + password, then a one-time code: sent by e-mail (valid 10
minutes, once), or from the holder's TOTP app once enrolled. 5 failures in a row
(password or code) lock the account for 15 minutes, then 30, 60… capped at 24 h. An
unknown identifier gets the same answer, after the same argon2 work, as a wrong
password: nothing tells an attacker who has an account, or that one is locked (the
holder is told by e-mail).

Each call that ends in a refusal commits its trace and the failure count first, then
raises; secrets are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from dmp.domain import accounts as rules
from dmp.domain.accounts import Stage, Throttle
from dmp.domain.actors import Actor, Role
from dmp.domain.audit import AuditAction, Outcome
from dmp.domain.errors import NotFound, Refused
from dmp.domain.identity import parse_ins
from dmp.domain.notifications import NoticeKind
from dmp.services.accounts import forget_codes, queue_message
from dmp.services.context import Ctx
from dmp.services.credentials import Portal, totp_step
from dmp.services.trail import trace
from dmp.storage import accounts as store
from dmp.storage import portal_sessions as sessions
from dmp.storage.accounts import Account
from dmp.storage.db import Database
from dmp.storage.portal_sessions import Session, session_digest


class LoginRefused(Refused):
    """Wrong identifier or password, or the account is locked: one answer for all."""

    def __init__(self) -> None:
        super().__init__("LOGIN_REFUSED", "identifier or password not accepted, or locked")


class CodeRefused(Refused):
    """The one-time code is wrong or expired; the holder may try again (up to the lock)."""

    def __init__(self) -> None:
        super().__init__("CODE_REFUSED", "one-time code not accepted", "code")


class ResetRefused(Refused):
    """Wrong identifier, reset code or TOTP code, or the account is locked."""

    def __init__(self) -> None:
        super().__init__("RESET_REFUSED", "reset not accepted", "reset_code")


class SessionEnded(NotFound):
    """No live session for this cookie: log in (again)."""

    def __init__(self) -> None:
        super().__init__("SESSION_ENDED", "no live session", "session")


@dataclass(frozen=True, slots=True)
class Challenge:
    """Step 1 passed: the cookie value of the session awaiting the second factor."""

    token: str
    method: Literal["email", "totp"]


# --- step 1: identifier and password ---


def start_login(
    db: Database, ctx: Ctx, portal: Portal, identifier: str, password: str
) -> Challenge:
    """R19 step 1. Returns the second-factor session (and queues the e-mail code), or
    raises LoginRefused; a malformed INS is an InvalidInput naming `identifier`."""
    ins = parse_ins(identifier, "identifier")
    with db.read() as conn:
        known = store.find_account(conn, ins)
    stored = known.password_hash if known else None
    matched = portal.passwords.verify(stored, rules.normalise_password(password))
    rehashed = None
    if matched and stored and portal.passwords.needs_rehash(stored):
        rehashed = portal.passwords.hash(rules.normalise_password(password))
    with db.write() as conn:
        account = store.find_account(conn, ins, for_update=True)
        if account is None:
            _trace_unknown(conn, ctx, AuditAction.ACCOUNT_LOGIN, ins, "password")
            challenge = None
        elif account.throttle.locked(ctx.now):
            _trace(conn, ctx, AuditAction.ACCOUNT_LOGIN, ins, "password", "locked")
            challenge = None
        elif not matched or account.password_hash != stored:
            _fail(conn, ctx, account, AuditAction.ACCOUNT_LOGIN, "password", "wrong password")
            challenge = None
        else:
            if rehashed:
                store.update_account(conn, ins, password_hash=rehashed)
            challenge = _second_factor(conn, ctx, portal, account, AuditAction.ACCOUNT_LOGIN)
    if challenge is None:
        raise LoginRefused()
    return challenge


def _second_factor(
    conn: Connection, ctx: Ctx, portal: Portal, account: Account, action: AuditAction
) -> Challenge:
    """Open the session that awaits the code; send the code unless the holder uses TOTP."""
    sessions.delete_ended_sessions(conn, account.ins, ctx.now)
    token = secrets.token_urlsafe(32)
    id_hash = session_digest(token)
    method: Literal["email", "totp"] = "totp" if account.totp_secret else "email"
    session = Session(
        account.ins,
        id_hash,
        Stage.SECOND_FACTOR,
        ctx.now,
        ctx.now,
        rules.session_expires_at(Stage.SECOND_FACTOR, ctx.now),
    )
    sessions.insert_session(conn, session)
    if method == "email":
        _send_code(conn, ctx, portal, account, session)
    detail: dict[str, object] = {"step": "password", "second_factor": method}
    trace(conn, ctx, action, record_ins=account.ins, detail=detail)
    return Challenge(token, method)


def _send_code(
    conn: Connection, ctx: Ctx, portal: Portal, account: Account, session: Session
) -> None:
    code = rules.new_login_code()
    digest = portal.keys.code_digest(session.id_hash, code)
    expires_at = ctx.now + rules.LOGIN_CODE_VALIDITY
    sessions.set_session_code(conn, session, digest, ctx.now, expires_at)
    queue_message(conn, account, rules.login_code_notice(code, ctx.now), ctx.now)


def send_new_code(db: Database, ctx: Ctx, portal: Portal, token: str) -> bool:
    """Another e-mail code for the login under way (the last one stops counting); False
    when asked again within a minute, or past 30 minutes of trying."""
    with db.write() as conn:
        session = _live(conn, ctx, token, Stage.SECOND_FACTOR)
        account = store.find_account(conn, session.ins) if session else None
        if session is None or account is None:
            return False
        if account.totp_secret or session.otp_sent_at is None:
            return False
        too_soon = ctx.now < session.otp_sent_at + rules.RESEND_AFTER
        too_late = ctx.now >= session.created_at + rules.SECOND_FACTOR_AT_MOST
        if too_soon or too_late:
            return False
        _send_code(conn, ctx, portal, account, session)
        trace(
            conn, ctx, AuditAction.ACCOUNT_LOGIN, record_ins=account.ins, detail={"step": "resend"}
        )
    return True


# --- step 2: the one-time code ---


def finish_login(db: Database, ctx: Ctx, portal: Portal, token: str, code: str) -> str:
    """R19 step 2: the code of the session `token`. Success ends that session and opens a
    new one (a fresh id: rotation at login), whose cookie value is returned. A wrong code
    raises CodeRefused; the 5th failure locks the account, ends the session and raises
    LoginRefused; a missing or expired session raises SessionEnded."""
    code = rules.parse_login_code(code)
    with db.write() as conn:
        # An ended session's deletion and trace commit before SessionEnded is raised.
        session = _live(conn, ctx, token, Stage.SECOND_FACTOR)
        account = store.find_account(conn, session.ins, for_update=True) if session else None
        outcome: str | Exception = SessionEnded()
        if session is not None and account is not None:
            outcome = _check_code(conn, ctx, portal, account, session, code)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _check_code(
    conn: Connection, ctx: Ctx, portal: Portal, account: Account, session: Session, code: str
) -> str | Exception:
    ins = account.ins
    if account.throttle.locked(ctx.now):
        sessions.delete_session(conn, ins, session.id_hash)
        _trace(conn, ctx, AuditAction.ACCOUNT_LOGIN, ins, "code", "locked")
        return LoginRefused()
    right, step = _second_factor_ok(portal, account, session, code, ctx.now)
    if not right:
        throttle = _fail(conn, ctx, account, AuditAction.ACCOUNT_LOGIN, "code", "wrong code")
        return LoginRefused() if throttle.locked(ctx.now) else CodeRefused()
    sessions.delete_session(conn, ins, session.id_hash)
    token = _open_active(conn, ctx, ins)
    store.update_account(conn, ins, throttle=Throttle(), last_login_at=ctx.now, totp_last_step=step)
    forget_codes(conn, ins, NoticeKind.LOGIN_CODE)
    method = "totp" if account.totp_secret else "email"
    trace(
        conn,
        _as_holder(ctx, ins),
        AuditAction.ACCOUNT_LOGIN,
        record_ins=ins,
        detail={"step": "code", "second_factor": method},
    )
    return token


def _second_factor_ok(
    portal: Portal, account: Account, session: Session, code: str, now: datetime
) -> tuple[bool, int | None]:
    """Whether the code is right, and the last TOTP step used (remembered: once only)."""
    if account.totp_secret:
        secret = portal.keys.unseal(account.totp_secret, account.ins).decode()
        step = totp_step(secret, code, now, account.totp_last_step)
        return step is not None, step if step is not None else account.totp_last_step
    sent, digest = session.otp_sent_at, session.otp_hash
    if digest is None or sent is None or now >= sent + rules.LOGIN_CODE_VALIDITY:
        return False, account.totp_last_step
    expected = portal.keys.code_digest(session.id_hash, code)
    return hmac.compare_digest(digest, expected), account.totp_last_step


def _open_active(conn: Connection, ctx: Ctx, ins: str) -> str:
    token = secrets.token_urlsafe(32)
    expires_at = rules.session_expires_at(Stage.ACTIVE, ctx.now)
    sessions.insert_session(
        conn, Session(ins, session_digest(token), Stage.ACTIVE, ctx.now, ctx.now, expires_at)
    )
    return token


# --- sessions ---


def open_session(db: Database, ctx: Ctx, token: str) -> Session:
    """The logged-in session of the cookie `token`, its idle timeout restarted; or
    SessionEnded (an expired one is deleted, and its end traced)."""
    with db.write() as conn:
        session = _live(conn, ctx, token, Stage.ACTIVE)
        if session is not None:
            sessions.touch_session(conn, session, ctx.now)
    if session is None:
        raise SessionEnded()
    return session


def _live(conn: Connection, ctx: Ctx, token: str, stage: Stage) -> Session | None:
    session = sessions.find_session(conn, session_digest(token)) if token else None
    if session is None or session.stage is not stage:
        return None
    why = rules.session_end(session.expires_at, session.last_seen_at, ctx.now)
    if why is None:
        return session
    sessions.delete_session(conn, session.ins, session.id_hash)
    trace(
        conn,
        _as_holder(ctx, session.ins),
        AuditAction.ACCOUNT_SESSION_END,
        record_ins=session.ins,
        reason=f"{why} timeout",
        detail={"stage": stage.value},
    )
    return None


def logout(db: Database, ctx: Ctx, token: str) -> None:
    """End the session of the cookie `token` (whatever its stage), traced."""
    with db.write() as conn:
        session = sessions.find_session(conn, session_digest(token)) if token else None
        if session is None:
            return
        sessions.delete_session(conn, session.ins, session.id_hash)
        trace(
            conn,
            _as_holder(ctx, session.ins),
            AuditAction.ACCOUNT_LOGOUT,
            record_ins=session.ins,
        )


# --- password reset ---


def request_reset(db: Database, ctx: Ctx, identifier: str) -> None:
    """Send a reset code (30 minutes, once) to the account's address. The caller is told
    the same whether the account exists or not; a request within a minute of the last
    one sends nothing more."""
    ins = parse_ins(identifier, "identifier")
    code = rules.new_code()
    with db.write() as conn:
        account = store.find_account(conn, ins, for_update=True)
        if account is None:
            _trace_unknown(conn, ctx, AuditAction.ACCOUNT_RESET, ins, "request")
            return
        last = store.find_reset(conn, ins)
        if last and last.used_at is None and ctx.now < last.created_at + rules.RESEND_AFTER:
            return
        digest = rules.code_digest(rules.parse_code(code, "reset_code"))
        expires_at = ctx.now + rules.RESET_CODE_VALIDITY
        store.save_reset(conn, store.Reset(ins, digest, ctx.now, expires_at))
        queue_message(conn, account, rules.reset_code_notice(code, ctx.now), ctx.now)
        trace(conn, ctx, AuditAction.ACCOUNT_RESET, record_ins=ins, detail={"step": "request"})


def reset_password(
    db: Database,
    ctx: Ctx,
    portal: Portal,
    identifier: str,
    reset_code: str,
    totp_code: str,
    new_password: str,
) -> None:
    """The reset code from the e-mail, plus the TOTP code when the holder enrolled an app
    (the second factor that is not the mailbox), sets a new password; every session ends
    and the holder is told. Refusals count towards the lock, as at login."""
    ins = parse_ins(identifier, "identifier")
    compact = rules.parse_code(reset_code, "reset_code")
    password = rules.check_password(new_password, ins)
    password_hash = portal.passwords.hash(password)
    with db.write() as conn:
        account = store.find_account(conn, ins, for_update=True)
        if account is None:
            _trace_unknown(conn, ctx, AuditAction.ACCOUNT_RESET, ins, "complete")
            refused = True
        elif account.throttle.locked(ctx.now):
            _trace(conn, ctx, AuditAction.ACCOUNT_RESET, ins, "complete", "locked")
            refused = True
        else:
            refused = _reset(conn, ctx, portal, account, compact, totp_code, password_hash)
    if refused:
        raise ResetRefused()


def _reset(
    conn: Connection,
    ctx: Ctx,
    portal: Portal,
    account: Account,
    compact: str,
    totp_code: str,
    password_hash: str,
) -> bool:
    ins, digest = account.ins, rules.code_digest(compact)
    reset = store.find_reset(conn, ins)
    fresh = (
        reset is not None
        and hmac.compare_digest(reset.code_hash, digest)
        and rules.still_valid(reset.expires_at, reset.used_at, ctx.now)
    )
    step, second = account.totp_last_step, True
    if account.totp_secret:
        secret = portal.keys.unseal(account.totp_secret, ins).decode()
        typed = "".join(totp_code.split())
        found = totp_step(secret, typed, ctx.now, account.totp_last_step) if typed else None
        step, second = (found, True) if found is not None else (step, False)
    if not (fresh and second) or not store.use_reset(conn, ins, digest, ctx.now):
        why = "wrong TOTP code" if fresh else "wrong, expired or used reset code"
        _fail(conn, ctx, account, AuditAction.ACCOUNT_RESET, "complete", why)
        return True
    store.update_account(
        conn,
        ins,
        password_hash=password_hash,
        password_changed_at=ctx.now,
        throttle=Throttle(),
        totp_last_step=step,
    )
    ended = sessions.delete_sessions(conn, ins)
    forget_codes(conn, ins, NoticeKind.PASSWORD_RESET)
    queue_message(conn, account, rules.password_changed_notice(ctx.now), ctx.now)
    detail = {"step": "complete", "sessions_ended": ended}
    trace(conn, ctx, AuditAction.ACCOUNT_RESET, record_ins=ins, detail=detail)
    return False


# --- failures and traces ---


def _fail(
    conn: Connection, ctx: Ctx, account: Account, action: AuditAction, step: str, why: str
) -> Throttle:
    """Count a failure; the one that locks also ends the holder's sessions and tells them."""
    throttle = rules.after_failure(account.throttle, ctx.now)
    store.update_account(conn, account.ins, throttle=throttle)
    _trace(conn, ctx, action, account.ins, step, why)
    if throttle.lockouts > account.throttle.lockouts and throttle.locked_until is not None:
        sessions.delete_sessions(conn, account.ins)
        until = throttle.locked_until
        trace(
            conn,
            ctx,
            AuditAction.ACCOUNT_LOCK,
            outcome=Outcome.DENIED,
            record_ins=account.ins,
            reason=f"{rules.MAX_FAILURES} failures in a row",
            detail={"until": until.isoformat(), "lockouts": throttle.lockouts},
        )
        queue_message(conn, account, rules.locked_notice(ctx.now, until), ctx.now)
    return throttle


def _trace(conn: Connection, ctx: Ctx, action: AuditAction, ins: str, step: str, why: str) -> None:
    trace(
        conn, ctx, action, outcome=Outcome.FAILED, record_ins=ins, reason=why, detail={"step": step}
    )


def _trace_unknown(conn: Connection, ctx: Ctx, action: AuditAction, ins: str, step: str) -> None:
    """On the system chain: an identifier without an account gets no chain of its own."""
    trace(
        conn,
        ctx,
        action,
        outcome=Outcome.FAILED,
        reason="unknown identifier",
        detail={"step": step, "identifier": ins},
    )


def _as_holder(ctx: Ctx, ins: str) -> Ctx:
    return replace(ctx, actor=Actor(Role.PATIENT, ins))
