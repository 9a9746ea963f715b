"""Logging in, sessions, lockout and password reset on SQLite and PostgreSQL (RULES R19):
password + a one-time code by e-mail (or TOTP), 10 minutes, once; 5 failures lock for a
growing delay; unknown identifiers indistinguishable; every outcome traced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from dmp.domain.errors import InvalidInput
from dmp.domain.notifications import ERASED_BODY, NoticeKind, NoticeStatus
from dmp.services import accounts, logins, records
from dmp.services.credentials import Passwords, Portal
from dmp.services.history import get_history
from dmp.services.logins import CodeRefused, LoginRefused, ResetRefused, SessionEnded
from dmp.services.notifications import deliver_pending, requeue_failed
from dmp.storage.db import Database
from dmp.storage.mailer import SmtpConfig, SmtpMailer
from dmp.storage.schema import portal_account, portal_session
from tests.personas import ALICE, BOB, ZOE
from tests.portal import (
    ALICE_EMAIL,
    ALICE_PASSWORD,
    KEYS,
    NOW,
    account_trail,
    activate,
    anonymous,
    cheap_passwords,
    holder,
    last_code,
    log_in,
    messages,
    register,
    trail,
)
from tests.smtp_sink import SmtpSink

NEW_PASSWORD = "nouvelle-phrase-de-passe"
MIN = timedelta(minutes=1)


class CountingPasswords(Passwords):
    """Records which stored hashes were checked (None: the dummy hash)."""

    def __init__(self) -> None:
        super().__init__(cheap_passwords().hasher)
        self.checked: list[str | None] = []

    def verify(self, stored: str | None, password: str) -> bool:
        self.checked.append(stored)
        return super().verify(stored, password)


@pytest.fixture
def portal() -> Portal:
    return Portal(KEYS, CountingPasswords())


@pytest.fixture
def alice(db: Database, portal: Portal) -> Database:
    """Alice activated her account; Bob is in the registry without one."""
    register(db)
    activate(db, portal)
    return db


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def start(db: Database, portal: Portal, at: datetime = NOW, password: str = ALICE_PASSWORD,
          ins: str = ALICE.ins) -> logins.Challenge:  # fmt: skip
    return logins.start_login(db, anonymous(at), portal, ins, password)


def finish(db: Database, portal: Portal, token: str, code: str, at: datetime = NOW) -> str:
    return logins.finish_login(db, anonymous(at), portal, token, code)


def login_actions(db: Database) -> list[tuple[str, str, object]]:
    return [
        (a, o, e["detail"].get("step"))  # type: ignore[union-attr]
        for a, o, e in trail(db, f"record:{ALICE.ins}")
        if a.startswith("account.") and a != "account.activate"
    ]


def sessions(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(select(portal_session)).mappings()]


# --- the normal login ---


def test_r19_password_then_the_emailed_code_opens_a_session(
    alice: Database, portal: Portal
) -> None:
    challenge = start(alice, portal)
    assert challenge.method == "email"
    [mail] = messages(alice, kind=NoticeKind.LOGIN_CODE)
    assert (mail.recipient, mail.status) == (ALICE_EMAIL, NoticeStatus.PENDING)
    token = finish(alice, portal, challenge.token, last_code(alice))
    assert token != challenge.token  # a new session id at login
    session = logins.open_session(alice, anonymous(NOW + MIN), token)
    assert (session.ins, session.stage.value) == (ALICE.ins, "active")
    assert login_actions(alice) == [
        ("account.login", "success", "password"),
        ("account.login", "success", "code"),
    ]
    # The holder's own trail shows their logins (R16), read as the existing history does.
    request = records.OpenRequest(ALICE.ins, "online", None, "holder", True)
    records.open_record(alice, holder(), request)
    page = get_history(alice, holder(now=NOW + MIN), ALICE.ins)
    assert "account.login" in [e.action.value for e in page.events]


def test_r19_the_code_arrives_once_and_is_then_erased_from_the_database(
    alice: Database, portal: Portal, smtp: SmtpSink
) -> None:
    challenge = start(alice, portal)
    code = last_code(alice)
    mailer = SmtpMailer(SmtpConfig("127.0.0.1", smtp.port, timeout=5))
    deliver_pending(alice, mailer, NOW, "w1")
    deliver_pending(alice, mailer, NOW + MIN, "w1")
    [received] = smtp.received
    assert received.recipients == [ALICE_EMAIL]
    assert received.message["Subject"] == "DMP : votre code de connexion"
    assert f"    {code}\r\n" in received.message.get_content()
    [sent] = messages(alice, kind=NoticeKind.LOGIN_CODE)
    assert (sent.status, sent.body) == (NoticeStatus.SENT, ERASED_BODY)
    [pending] = sessions(alice)
    assert code not in str(pending)  # a keyed digest only
    finish(alice, portal, challenge.token, code)


def test_r19_a_code_not_sent_within_ten_minutes_is_never_sent(
    alice: Database, portal: Portal, smtp: SmtpSink
) -> None:
    start(alice, portal)
    mailer = SmtpMailer(SmtpConfig("127.0.0.1", smtp.port, timeout=5))
    deliver_pending(alice, mailer, NOW + 10 * MIN, "w1")  # the mail server was down
    assert smtp.received == []
    [mail] = messages(alice, kind=NoticeKind.LOGIN_CODE)
    assert (mail.status, mail.body) == (NoticeStatus.FAILED, ERASED_BODY)
    assert requeue_failed(alice, NOW + 11 * MIN) == 0  # never given a second chance


def test_r19_a_new_login_erases_the_code_of_the_one_before(alice: Database, portal: Portal) -> None:
    first = start(alice, portal)
    old = last_code(alice)
    start(alice, portal, NOW + MIN)
    earlier, latest = messages(alice, kind=NoticeKind.LOGIN_CODE)
    assert (earlier.status, earlier.body) == (NoticeStatus.FAILED, ERASED_BODY)
    assert latest.status is NoticeStatus.PENDING
    # The old session still waits for its own code, the new one for the new code.
    with pytest.raises(CodeRefused):
        finish(alice, portal, first.token, "999999" if old != "999999" else "000000", NOW + MIN)


def test_r19_a_new_code_can_be_asked_after_a_minute_and_replaces_the_last(
    alice: Database, portal: Portal
) -> None:
    challenge = start(alice, portal)
    old = last_code(alice)
    assert not logins.send_new_code(alice, anonymous(NOW + MIN / 2), portal, challenge.token)
    assert logins.send_new_code(alice, anonymous(NOW + MIN), portal, challenge.token)
    new = last_code(alice)
    if old != new:
        with pytest.raises(CodeRefused):
            finish(alice, portal, challenge.token, old, NOW + 2 * MIN)
    finish(alice, portal, challenge.token, new, NOW + 2 * MIN)


def test_a_password_hashed_with_older_parameters_is_rehashed_at_login(
    alice: Database, portal: Portal
) -> None:
    stronger = Portal(KEYS, cheap_passwords(time_cost=2))
    log_in(alice, stronger)
    with alice.read() as conn:
        stored = conn.execute(select(portal_account.c.password_hash)).scalar_one()
    assert ",t=2," in stored
    assert not stronger.passwords.needs_rehash(stored)
    log_in(alice, stronger, now=NOW + MIN)


# --- refusals ---


def test_r19_a_wrong_password_is_refused_and_traced(alice: Database, portal: Portal) -> None:
    with pytest.raises(LoginRefused):
        start(alice, portal, password="pas-le-bon-mot-de-passe")
    assert messages(alice, kind=NoticeKind.LOGIN_CODE) == []
    assert sessions(alice) == []
    assert login_actions(alice) == [("account.login", "failed", "password")]


def test_r19_an_unknown_identifier_gets_the_same_answer_after_the_same_work(
    alice: Database, portal: Portal
) -> None:
    assert isinstance(portal.passwords, CountingPasswords)
    with pytest.raises(LoginRefused) as wrong:
        start(alice, portal, password="pas-le-bon-mot-de-passe")
    with pytest.raises(LoginRefused) as unknown:
        start(alice, portal, ins=ZOE.ins)
    with pytest.raises(LoginRefused) as no_account:
        start(alice, portal, ins=BOB.ins)  # in the registry, never activated
    assert str(wrong.value) == str(unknown.value) == str(no_account.value)
    assert wrong.value.code == unknown.value.code == no_account.value.code
    # An argon2 verification each time: the real hash, then the dummy one twice.
    real = portal.passwords.checked[0]
    assert real is not None
    assert real.startswith("$argon2id$")
    assert portal.passwords.checked[1:] == [None, None]
    system = [e["detail"] for a, _, e in trail(alice, "system") if a == "account.login"]
    assert system == [
        {"step": "password", "identifier": ZOE.ins},
        {"step": "password", "identifier": BOB.ins},
    ]
    assert trail(alice, f"record:{ZOE.ins}") == []


def test_a_malformed_identifier_names_the_field(alice: Database, portal: Portal) -> None:
    with pytest.raises(InvalidInput) as caught:
        start(alice, portal, ins="12345")
    assert caught.value.field == "identifier"


def test_r19_a_wrong_code_is_refused_and_the_right_one_still_works(
    alice: Database, portal: Portal
) -> None:
    challenge = start(alice, portal)
    code = last_code(alice)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(CodeRefused):
        finish(alice, portal, challenge.token, wrong)
    finish(alice, portal, challenge.token, code)
    assert login_actions(alice) == [
        ("account.login", "success", "password"),
        ("account.login", "failed", "code"),
        ("account.login", "success", "code"),
    ]


def test_r19_an_expired_code_is_refused(alice: Database, portal: Portal) -> None:
    challenge = start(alice, portal)
    with pytest.raises(SessionEnded):
        finish(alice, portal, challenge.token, last_code(alice), NOW + 10 * MIN)
    ended = [(a, e["reason"]) for a, _, e in trail(alice, f"record:{ALICE.ins}")][-1]
    assert ended == ("account.session_end", "absolute timeout")
    assert sessions(alice) == []


def test_r19_a_used_code_cannot_be_replayed(alice: Database, portal: Portal) -> None:
    challenge = start(alice, portal)
    code = last_code(alice)
    finish(alice, portal, challenge.token, code)
    with pytest.raises(SessionEnded):  # the waiting session ended with its use
        finish(alice, portal, challenge.token, code, NOW + MIN)
    again = start(alice, portal, NOW + 2 * MIN)
    if last_code(alice) != code:
        with pytest.raises(CodeRefused):  # nor with another login
            finish(alice, portal, again.token, code, NOW + 2 * MIN)


# --- lockout ---


def test_r19_five_wrong_passwords_lock_the_account_for_15_minutes(
    alice: Database, portal: Portal
) -> None:
    for n in range(5):
        with pytest.raises(LoginRefused):
            start(alice, portal, NOW + n * MIN, password=f"mauvais-essai-{n}-xyz")
    with pytest.raises(LoginRefused):  # the right password, while locked
        start(alice, portal, NOW + 18 * MIN)
    locked = [e for a, _, e in trail(alice, f"record:{ALICE.ins}") if a == "account.lock"]
    assert locked[0]["detail"]["until"] == (NOW + 4 * MIN + 15 * MIN).isoformat()
    [notice] = messages(alice, kind=NoticeKind.ACCOUNT_SECURITY)
    assert "bloquée" in notice.subject
    log_in(alice, portal, now=NOW + 19 * MIN)  # the lock has run out


def test_r19_wrong_codes_count_towards_the_lock_and_end_the_waiting_session(
    alice: Database, portal: Portal
) -> None:
    for _ in range(2):
        with pytest.raises(LoginRefused):
            start(alice, portal, password="mauvais-mot-de-passe")
    challenge = start(alice, portal)
    code = last_code(alice)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        with pytest.raises(CodeRefused):
            finish(alice, portal, challenge.token, wrong)
    with pytest.raises(LoginRefused):  # the 5th failure locks
        finish(alice, portal, challenge.token, wrong)
    assert sessions(alice) == []
    with pytest.raises(SessionEnded):
        finish(alice, portal, challenge.token, code)


def test_r19_the_lock_doubles_after_a_second_series(alice: Database, portal: Portal) -> None:
    at = NOW
    for series in range(2):
        for _ in range(5):
            with pytest.raises(LoginRefused):
                start(alice, portal, at, password="mauvais-mot-de-passe")
        at += timedelta(minutes=15 * (series + 1))
    with pytest.raises(LoginRefused):
        start(alice, portal, at - MIN)
    log_in(alice, portal, now=at)


def test_r19_an_unknown_identifier_never_shows_a_lock(alice: Database, portal: Portal) -> None:
    refusals = set()
    for _ in range(7):
        with pytest.raises(LoginRefused) as caught:
            start(alice, portal, ins=ZOE.ins)
        refusals.add((caught.value.code, str(caught.value)))
    assert len(refusals) == 1


# --- sessions ---


def test_r19_a_session_ends_after_30_idle_minutes(alice: Database, portal: Portal) -> None:
    token = log_in(alice, portal)
    at = NOW
    for _ in range(3):  # active every 29 minutes: it lives on
        at += timedelta(minutes=29)
        logins.open_session(alice, anonymous(at), token)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(at + timedelta(minutes=30)), token)
    assert login_actions(alice)[-1] == ("account.session_end", "success", None)
    assert trail(alice, f"record:{ALICE.ins}")[-1][2]["reason"] == "idle timeout"
    assert sessions(alice) == []


def test_r19_a_session_ends_twelve_hours_after_login_however_active(
    alice: Database, portal: Portal
) -> None:
    token = log_in(alice, portal)
    at = NOW
    while at + timedelta(minutes=20) < NOW + timedelta(hours=12):
        at += timedelta(minutes=20)
        logins.open_session(alice, anonymous(at), token)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(NOW + timedelta(hours=12)), token)
    assert trail(alice, f"record:{ALICE.ins}")[-1][2]["reason"] == "absolute timeout"


def test_r19_a_waiting_session_opens_no_page(alice: Database, portal: Portal) -> None:
    challenge = start(alice, portal)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(), challenge.token)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(), "made-up-token")


def test_r19_logout_destroys_the_session_and_is_traced(alice: Database, portal: Portal) -> None:
    token = log_in(alice, portal)
    logins.logout(alice, anonymous(NOW + MIN), token)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(NOW + MIN), token)
    assert login_actions(alice)[-1] == ("account.logout", "success", None)


# --- password reset ---


def reset(db: Database, portal: Portal, code: str, at: datetime = NOW, totp: str = "") -> None:
    logins.reset_password(db, anonymous(at), portal, ALICE.ins, code, totp, NEW_PASSWORD)


def test_r19_a_reset_code_by_email_sets_a_new_password_and_ends_every_session(
    alice: Database, portal: Portal
) -> None:
    token = log_in(alice, portal)
    logins.request_reset(alice, anonymous(NOW + MIN), ALICE.ins)
    [mail] = messages(alice, kind=NoticeKind.PASSWORD_RESET)
    assert "http" not in mail.body
    code = last_code(alice, kind=NoticeKind.PASSWORD_RESET)
    with pytest.raises(ResetRefused):
        reset(alice, portal, "0000-0000-0000-0000", NOW + 2 * MIN)
    reset(alice, portal, code, NOW + 2 * MIN)
    with pytest.raises(SessionEnded):
        logins.open_session(alice, anonymous(NOW + 2 * MIN), token)
    with pytest.raises(LoginRefused):
        start(alice, portal, NOW + 3 * MIN)
    log_in(alice, portal, now=NOW + 3 * MIN, password=NEW_PASSWORD)
    with pytest.raises(ResetRefused):  # once only
        reset(alice, portal, code, NOW + 4 * MIN)
    steps = [s for a, _, s in login_actions(alice) if a == "account.reset"]
    assert steps == ["request", "complete", "complete", "complete"]
    changed = messages(alice, kind=NoticeKind.ACCOUNT_SECURITY)
    assert [m.subject for m in changed] == ["DMP : votre mot de passe a été changé"]


def test_r19_a_reset_code_expires_after_30_minutes(alice: Database, portal: Portal) -> None:
    logins.request_reset(alice, anonymous(), ALICE.ins)
    code = last_code(alice, kind=NoticeKind.PASSWORD_RESET)
    with pytest.raises(ResetRefused):
        reset(alice, portal, code, NOW + 30 * MIN)
    reset(alice, portal, code, NOW + 29 * MIN)


def test_r19_a_reset_for_an_unknown_identifier_sends_nothing_and_says_nothing(
    alice: Database, portal: Portal
) -> None:
    logins.request_reset(alice, anonymous(), ZOE.ins)  # no error: nothing to tell
    assert messages(alice, ZOE.ins) == []
    with pytest.raises(ResetRefused):
        logins.reset_password(
            alice, anonymous(), portal, ZOE.ins, "0000-0000-0000-0000", "", NEW_PASSWORD
        )
    system = [(a, e["detail"]["step"]) for a, _, e in trail(alice, "system") if "reset" in a]
    assert system == [("account.reset", "request"), ("account.reset", "complete")]


def test_a_weak_new_password_is_refused_before_spending_the_reset_code(
    alice: Database, portal: Portal
) -> None:
    logins.request_reset(alice, anonymous(), ALICE.ins)
    code = last_code(alice, kind=NoticeKind.PASSWORD_RESET)
    with pytest.raises(InvalidInput, match="at least 12"):
        logins.reset_password(alice, anonymous(), portal, ALICE.ins, code, "", "court")
    reset(alice, portal, code)


# --- TOTP ---


@pytest.fixture
def totp(alice: Database, portal: Portal) -> pyotp.TOTP:
    """Alice enrolled an authenticator app."""
    enrolment = accounts.begin_totp(alice, holder(), portal)
    app = pyotp.TOTP(enrolment.secret)
    accounts.confirm_totp(alice, holder(), portal, app.at(NOW))
    return app


def test_r19_with_totp_enrolled_no_code_is_emailed_and_the_app_code_logs_in(
    alice: Database, portal: Portal, totp: pyotp.TOTP
) -> None:
    at = NOW + MIN
    challenge = start(alice, portal, at)
    assert challenge.method == "totp"
    assert messages(alice, kind=NoticeKind.LOGIN_CODE) == []
    token = finish(alice, portal, challenge.token, totp.at(at), at)
    logins.open_session(alice, anonymous(at), token)
    assert ("account.totp", "success", None) in login_actions(alice)


def test_r19_a_totp_code_serves_once(alice: Database, portal: Portal, totp: pyotp.TOTP) -> None:
    at = NOW + MIN
    first = start(alice, portal, at)
    finish(alice, portal, first.token, totp.at(at), at)
    second = start(alice, portal, at)
    with pytest.raises(CodeRefused):
        finish(alice, portal, second.token, totp.at(at), at)
    finish(alice, portal, second.token, totp.at(at + timedelta(seconds=30)), at)


def test_r19_with_totp_a_reset_also_needs_the_app_code(
    alice: Database, portal: Portal, totp: pyotp.TOTP
) -> None:
    at = NOW + MIN
    logins.request_reset(alice, anonymous(at), ALICE.ins)
    code = last_code(alice, kind=NoticeKind.PASSWORD_RESET)
    with pytest.raises(ResetRefused):
        reset(alice, portal, code, at)  # the mailbox alone is not enough
    reset(alice, portal, code, at, totp=totp.at(at))
    reasons = [
        e["reason"] for a, _, e in trail(alice, f"record:{ALICE.ins}") if a == "account.reset"
    ]
    assert reasons == [None, "wrong TOTP code", None]


def test_every_account_event_is_on_the_holders_chain(alice: Database, portal: Portal) -> None:
    token = log_in(alice, portal)
    logins.logout(alice, anonymous(), token)
    assert account_trail(alice) == [
        ("account.activate", "success"),
        ("account.login", "success"),
        ("account.login", "success"),
        ("account.logout", "success"),
    ]
