"""The holder's portal account: activation letters, activation, TOTP enrolment
(RULES R19; docs/decisions/0007-portal-accounts.md).

R19: activation codes go by post (the mailing house prints the CSV `dmp activation-codes`
writes), are valid 6 weeks and serve once; login codes go by e-mail, so the two secrets
never share a channel. Every outcome is traced: on the holder's chain when the INS has
a code or an account, on the system chain otherwise (an unknown identifier creates no
chain for a person who may not exist).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Connection

from dmp.domain import accounts as rules
from dmp.domain import notifications as notices
from dmp.domain.actors import Actor, Role
from dmp.domain.audit import AuditAction, Outcome
from dmp.domain.errors import InvalidInput, NotFound, Refused
from dmp.domain.identity import parse_ins
from dmp.domain.notifications import Notice, NoticeKind, NoticeStatus
from dmp.domain.time import local_date
from dmp.services.context import Ctx
from dmp.services.credentials import Portal, new_totp_secret, totp_step, totp_uri
from dmp.services.trail import trace
from dmp.storage import accounts as store
from dmp.storage import outbox
from dmp.storage.accounts import Account, Activation, Addressee
from dmp.storage.db import Database
from dmp.storage.outbox import OutboxEntry

BULK_BATCH = 5_000


class ActivationRefused(Refused):
    """One answer for every wrong case (unknown INS, wrong, used, expired or replaced
    code, already active, locked): no hint to whoever tries codes or identifiers."""

    def __init__(self) -> None:
        super().__init__("ACTIVATION_REFUSED", "activation code not valid", "code")


# --- activation letters (dmp activation-codes) ---


@dataclass(frozen=True, slots=True)
class Letter:
    """One line for the mailing house: who, and the code in clear (only ever here)."""

    ins: str
    family_name: str
    given_names: str
    department: str
    code: str
    expires_on: date


def issue_codes_for(
    db: Database, ctx: Ctx, ins_list: Sequence[str]
) -> tuple[list[Letter], dict[str, str]]:
    """R19: a new code for each listed beneficiary (a previous code dies); returns the
    letters and, for the others, why not: not in the registry, a minor, already active."""
    wanted = list(dict.fromkeys(parse_ins(i) for i in ins_list))
    skipped: dict[str, str] = {}
    with db.write() as conn:
        people = store.find_addressees(conn, wanted)
        active = store.accounts_among(conn, wanted)
        eligible = []
        for ins in wanted:
            person = people.get(ins)
            if person is None:
                skipped[ins] = "absent du registre des bénéficiaires"
            elif ins in active:
                skipped[ins] = "compte déjà activé"
            elif not rules.may_have_account(person.birth_date, local_date(ctx.now)):
                skipped[ins] = "mineur : les droits sont exercés par les représentants légaux"
            else:
                eligible.append(person)
        letters = _issue(conn, ctx, eligible, "listed")
    return letters, skipped


def issue_codes_in_bulk(
    db: Database, ctx: Ctx, limit: int | None = None, batch: int = BULK_BATCH
) -> Iterator[list[Letter]]:
    """R19: codes for every adult beneficiary without an account or a live code, in INS
    order, one transaction (and one trace) per batch; each batch is yielded once
    committed, so the letters written are exactly the codes stored."""
    after, left = "", limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        with db.write() as conn:
            found = store.code_candidates(conn, after, size, ctx.now)
            if not found:
                return
            after = found[-1].ins
            today = local_date(ctx.now)
            adults = [p for p in found if rules.may_have_account(p.birth_date, today)]
            letters = _issue(conn, ctx, adults, "bulk")
        if left is not None:
            left -= len(letters)
        yield letters


def _issue(conn: Connection, ctx: Ctx, people: Sequence[Addressee], mode: str) -> list[Letter]:
    if not people:
        return []
    expires_on, expires_at = rules.activation_expiry(ctx.now)
    letters, rows = [], []
    for person in people:
        code = rules.new_code()
        digest = rules.code_digest(rules.parse_code(code, "code"))
        rows.append(Activation(person.ins, digest, ctx.now, expires_at))
        letters.append(
            Letter(
                person.ins,
                person.family_name,
                person.given_names,
                person.department,
                code,
                expires_on,
            )
        )
    store.save_activations(conn, rows)
    detail: dict[str, object] = {"count": len(rows), "mode": mode, "expires_on": str(expires_on)}
    if mode == "listed":
        detail["ins"] = [p.ins for p in people]
    trace(conn, ctx, AuditAction.ACCOUNT_CODES_ISSUE, detail=detail)
    return letters


# --- activation on the portal ---


def activate_account(
    db: Database, ctx: Ctx, portal: Portal, ins: str, code: str, email: str, password: str
) -> None:
    """R19: the holder activates their account with the code of the letter, chooses the
    address that will receive their login codes and a password. Malformed input is an
    InvalidInput naming the field; every other refusal is ActivationRefused."""
    ins = parse_ins(ins)
    compact = rules.parse_code(code, "code")
    address = notices.parse_email(email)
    if address is None:
        raise InvalidInput("EMAIL_REQUIRED", "an e-mail address is required", "email")
    password = rules.check_password(password, ins)
    password_hash = portal.passwords.hash(password)  # slow: outside the transaction
    with db.write() as conn:
        refusal = _activate(conn, ctx, ins, compact, address, password_hash)
    if refusal:
        raise ActivationRefused()


def _activate(
    conn: Connection, ctx: Ctx, ins: str, compact: str, email: str, password_hash: str
) -> bool:
    """Activate if the code is right; True if refused (its trace committed either way)."""
    activation = store.find_activation(conn, ins, for_update=True)
    account = store.find_account(conn, ins)

    def refuse(reason: str, *, chain: bool = True) -> bool:
        trace(
            conn,
            ctx,
            AuditAction.ACCOUNT_ACTIVATE,
            outcome=Outcome.FAILED,
            record_ins=ins if chain else None,
            reason=reason,
            detail={} if chain else {"identifier": ins},
        )
        return True

    if activation is None:
        return refuse("no activation code for this INS", chain=account is not None)
    if account is not None:
        return refuse("the account is already active")
    if activation.throttle.locked(ctx.now):
        return refuse("locked after repeated failures")
    right = hmac.compare_digest(activation.code_hash, rules.code_digest(compact))
    if not right or not rules.still_valid(activation.expires_at, activation.used_at, ctx.now):
        why = "wrong code" if not right else "code expired or already used"
        throttle = rules.after_failure(activation.throttle, ctx.now)
        store.save_activation_throttle(conn, ins, throttle)
        return refuse(why)
    if not store.use_activation(conn, ins, activation.code_hash, ctx.now):
        return refuse("code already used")
    store.insert_account(conn, Account(ins, email, password_hash, ctx.now, ctx.now))
    trace(conn, _as_holder(ctx, ins), AuditAction.ACCOUNT_ACTIVATE, record_ins=ins)
    return False


# --- the logged-in holder's account ---


@dataclass(frozen=True, slots=True)
class AccountView:
    ins: str
    email: str
    totp: bool
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str  # base 32, to type into the app
    uri: str  # otpauth://, for a QR code or a copy


def get_account(db: Database, ctx: Ctx) -> AccountView:
    """The calling holder's own account (never anyone else's)."""
    with db.read() as conn:
        account = _own_account(conn, ctx)
    return AccountView(
        account.ins, account.email, account.totp_secret is not None, account.last_login_at
    )


def begin_totp(db: Database, ctx: Ctx, portal: Portal) -> TotpEnrolment:
    """A new TOTP secret for the holder, kept sealed until they prove their app has it."""
    secret = new_totp_secret()
    with db.write() as conn:
        account = _own_account(conn, ctx, for_update=True)
        sealed = portal.keys.seal(secret.encode(), account.ins)
        store.update_account(conn, account.ins, totp_pending=sealed)
    return TotpEnrolment(secret, totp_uri(secret, account.email))


def pending_totp(db: Database, ctx: Ctx, portal: Portal) -> TotpEnrolment | None:
    """The enrolment under way, to show its key again (a mistyped code needs no new key)."""
    with db.read() as conn:
        account = _own_account(conn, ctx)
    if account.totp_pending is None:
        return None
    secret = portal.keys.unseal(account.totp_pending, account.ins).decode()
    return TotpEnrolment(secret, totp_uri(secret, account.email))


def confirm_totp(db: Database, ctx: Ctx, portal: Portal, code: str) -> None:
    """The holder types a code from their app: from now on TOTP replaces e-mail codes."""
    code = rules.parse_login_code(code)
    with db.write() as conn:
        account = _own_account(conn, ctx, for_update=True)
        if account.totp_pending is None:
            raise InvalidInput("TOTP_NOT_STARTED", "no enrolment under way", "code")
        secret = portal.keys.unseal(account.totp_pending, account.ins).decode()
        step = totp_step(secret, code, ctx.now, None)
        if step is None:
            raise InvalidInput("TOTP_CODE", "this code does not match the application", "code")
        store.update_account(
            conn,
            account.ins,
            totp_secret=account.totp_pending,
            totp_pending=None,
            totp_last_step=step,
        )
        trace(conn, ctx, AuditAction.ACCOUNT_TOTP, record_ins=account.ins, detail={"on": True})
        queue_message(conn, account, rules.totp_enrolled_notice(ctx.now), ctx.now)


def _own_account(conn: Connection, ctx: Ctx, *, for_update: bool = False) -> Account:
    account = None
    if ctx.actor.role is Role.PATIENT:
        account = store.find_account(conn, ctx.actor.id, for_update=for_update)
    if account is None:
        raise NotFound("ACCOUNT_NOT_FOUND", "no portal account for the caller", "account")
    return account


# --- shared with logins ---


def queue_message(conn: Connection, account: Account, notice: Notice, now: datetime) -> None:
    """An account e-mail to the account's address, through the outbox, in the caller's
    transaction. A login or reset code replaces any such code not sent yet."""
    if notice.kind in notices.EPHEMERAL:
        outbox.cancel_ephemeral(conn, account.ins, notice.kind, "replaced by a newer code")
    notice_id = uuid.uuid4().hex
    outbox.insert_notice(
        conn,
        OutboxEntry(
            ins=account.ins,
            id=notice_id,
            kind=notice.kind,
            recipient=account.email,
            subject=notice.subject,
            body=notice.body,
            message_id=notices.message_id(notice_id),
            created_at=now,
            status=NoticeStatus.PENDING,
            next_attempt_at=now,
        ),
    )


def forget_codes(conn: Connection, ins: str, kind: NoticeKind) -> None:
    """The code was used: a copy still waiting to be sent is erased."""
    outbox.cancel_ephemeral(conn, ins, kind, "its code was used already")


def _as_holder(ctx: Ctx, ins: str) -> Ctx:
    return replace(ctx, actor=Actor(Role.PATIENT, ins))
