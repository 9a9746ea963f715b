"""Builders for the portal account tests (RULES R19): a cheap hasher, holders with an
activated account, the codes read from the outbox as the mail server would get them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy import select

from dmp.domain.actors import ANONYMOUS, Actor, Role
from dmp.domain.notifications import NoticeKind
from dmp.services import accounts, logins
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.credentials import Passwords, Portal
from dmp.storage import outbox
from dmp.storage.db import Database
from dmp.storage.outbox import OutboxEntry
from dmp.storage.portal_keys import PortalKeys
from dmp.storage.schema import audit_event
from tests.personas import ALICE, ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
ALICE_EMAIL = "alice.martin@example.org"
ALICE_PASSWORD = "cheval-agrafe-pile-correct"
KEYS = PortalKeys(b"k" * 32)


def cheap_passwords(time_cost: int = 1) -> Passwords:
    """argon2id with tiny costs: the tests check behaviour, not resistance."""
    return Passwords(PasswordHasher(time_cost=time_cost, memory_cost=1024, parallelism=1))


def anonymous(now: datetime = NOW) -> Ctx:
    return Ctx(ANONYMOUS, now, "test")


def holder(ins: str = ALICE.ins, now: datetime = NOW) -> Ctx:
    return Ctx(Actor(Role.PATIENT, ins), now, "test")


def register(db: Database, now: datetime = NOW) -> None:
    """Alice and Bob (adults) and Léo (a minor) are in the registry; Zoé is not."""
    load_beneficiaries_batch(
        db, system_ctx(now, "test"), [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY], "test"
    )


def letter_code(db: Database, ins: str = ALICE.ins, now: datetime = NOW) -> str:
    """The code printed on a new activation letter for `ins`."""
    letters, skipped = accounts.issue_codes_for(db, system_ctx(now, "test"), [ins])
    assert skipped == {}, skipped
    return letters[0].code


def activate(
    db: Database,
    portal: Portal,
    ins: str = ALICE.ins,
    now: datetime = NOW,
    password: str = ALICE_PASSWORD,
    email: str = ALICE_EMAIL,
) -> None:
    code = letter_code(db, ins, now)
    accounts.activate_account(db, anonymous(now), portal, ins, code, email, password)


def messages(
    db: Database, ins: str = ALICE.ins, kind: NoticeKind | None = None
) -> list[OutboxEntry]:
    with db.read() as conn:
        found = outbox.find_notices(conn, ins)
    return [e for e in found if kind is None or e.kind is kind]


def last_code(db: Database, ins: str = ALICE.ins, kind: NoticeKind = NoticeKind.LOGIN_CODE) -> str:
    """The code in the last message of `kind` (as the holder reads it in their mailbox)."""
    body = messages(db, ins, kind)[-1].body
    found = re.search(r"\n {4}([0-9A-Z-]{6,19})\n", body)
    assert found, body
    return found.group(1)


def log_in(
    db: Database,
    portal: Portal,
    ins: str = ALICE.ins,
    now: datetime = NOW,
    password: str = ALICE_PASSWORD,
) -> str:
    """Both steps with the e-mail code; the logged-in session's cookie value."""
    challenge = logins.start_login(db, anonymous(now), portal, ins, password)
    return logins.finish_login(db, anonymous(now), portal, challenge.token, last_code(db, ins))


def trail(db: Database, chain: str) -> list[tuple[str, str, dict[str, object]]]:
    """(action, outcome, event) of every event of `chain`, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            select(audit_event.c.action, audit_event.c.outcome, audit_event.c.event)
            .where(audit_event.c.chain == chain)
            .order_by(audit_event.c.seq)
        ).all()
    return [(action, outcome, json.loads(event)) for action, outcome, event in rows]


def account_trail(db: Database, ins: str = ALICE.ins) -> list[tuple[str, str]]:
    """(action, outcome) of the account events of the holder's chain."""
    return [
        (action, outcome)
        for action, outcome, _ in trail(db, f"record:{ins}")
        if action.startswith("account.")
    ]
