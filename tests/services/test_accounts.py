"""Activation letters, activation and TOTP enrolment on SQLite and PostgreSQL (RULES R19):
codes for adult beneficiaries only, valid 6 weeks, once; a new letter kills the old
code; every outcome traced; nothing but digests stored."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from dmp.domain.accounts import activation_expiry
from dmp.domain.errors import InvalidInput, NotFound
from dmp.services import accounts
from dmp.services.accounts import ActivationRefused
from dmp.services.context import system_ctx
from dmp.services.credentials import Portal
from dmp.storage.db import Database
from dmp.storage.schema import portal_account, portal_activation
from tests.personas import ALICE, BOB, LEO, ZOE
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
    letter_code,
    register,
    trail,
)


@pytest.fixture(scope="module")
def portal() -> Portal:
    return Portal(KEYS, cheap_passwords())


@pytest.fixture
def registry(db: Database) -> Database:
    register(db)
    return db


def activate_with(db: Database, portal: Portal, code: str, at: timedelta = timedelta()) -> None:
    accounts.activate_account(
        db, anonymous(NOW + at), portal, ALICE.ins, code, ALICE_EMAIL, ALICE_PASSWORD
    )


# --- letters ---


def test_r19_r3_a_bulk_run_writes_letters_for_adults_without_an_account_once(
    registry: Database, portal: Portal
) -> None:
    batches = list(accounts.issue_codes_in_bulk(registry, system_ctx(NOW), batch=1))
    letters = [letter for batch in batches for letter in batch]
    assert sorted(letter.ins for letter in letters) == sorted([ALICE.ins, BOB.ins])  # not Léo
    alice = next(letter for letter in letters if letter.ins == ALICE.ins)
    assert (alice.family_name, alice.given_names, alice.department) == (
        "Martin",
        "Alice Marie",
        "75",
    )
    assert alice.expires_on == activation_expiry(NOW)[0]
    # A second run finds everyone served: their codes are live.
    assert [b for b in accounts.issue_codes_in_bulk(registry, system_ctx(NOW)) if b] == []
    issued = [e for a, _, e in trail(registry, "system") if a == "account.codes_issue"]
    assert [e["detail"]["count"] for e in issued] == [1, 1]  # one trace per batch


def test_r19_a_bulk_run_stops_at_its_limit(registry: Database) -> None:
    letters = [x for b in accounts.issue_codes_in_bulk(registry, system_ctx(NOW), 1) for x in b]
    assert len(letters) == 1


def test_r19_the_database_keeps_only_a_digest_of_each_code(registry: Database) -> None:
    code = letter_code(registry)
    with registry.read() as conn:
        stored = conn.execute(select(portal_activation)).mappings().one()
    assert code.replace("-", "") not in str(dict(stored))
    assert len(stored["code_hash"]) == 64


def test_r19_listed_letters_say_why_someone_gets_none(registry: Database, portal: Portal) -> None:
    activate(registry, portal, BOB.ins)
    letters, skipped = accounts.issue_codes_for(
        registry, system_ctx(NOW), [ALICE.ins, BOB.ins, LEO.ins, ZOE.ins]
    )
    assert [letter.ins for letter in letters] == [ALICE.ins]
    assert skipped == {
        BOB.ins: "compte déjà activé",
        LEO.ins: "mineur : les droits sont exercés par les représentants légaux",
        ZOE.ins: "absent du registre des bénéficiaires",
    }


def test_r19_a_new_letter_kills_the_code_of_the_previous_one(
    registry: Database, portal: Portal
) -> None:
    old = letter_code(registry)
    new = letter_code(registry, now=NOW + timedelta(days=3))
    with pytest.raises(ActivationRefused):
        activate_with(registry, portal, old, timedelta(days=4))
    activate_with(registry, portal, new, timedelta(days=4))


# --- activation ---


def test_r19_activation_creates_the_account_once_with_an_argon2id_hash(
    registry: Database, portal: Portal
) -> None:
    code = letter_code(registry)
    activate_with(registry, portal, code)
    with registry.read() as conn:
        account = conn.execute(select(portal_account)).mappings().one()
    assert account["ins"] == ALICE.ins
    assert account["email"] == ALICE_EMAIL
    assert account["password_hash"].startswith("$argon2id$")
    assert ALICE_PASSWORD not in str(dict(account))
    with pytest.raises(ActivationRefused):  # the code served once
        activate_with(registry, portal, code, timedelta(minutes=1))
    assert account_trail(registry) == [
        ("account.activate", "success"),
        ("account.activate", "failed"),
    ]
    assert trail(registry, f"record:{ALICE.ins}")[0][2]["actor_role"] == "patient"


def test_r19_an_activation_code_expires_after_its_sixth_week(
    registry: Database, portal: Portal
) -> None:
    code = letter_code(registry)
    _, expires_at = activation_expiry(NOW)
    with pytest.raises(ActivationRefused):
        activate_with(registry, portal, code, expires_at - NOW)
    activate_with(registry, portal, code, expires_at - NOW - timedelta(seconds=1))
    events = trail(registry, f"record:{ALICE.ins}")
    assert events[0][2]["reason"] == "code expired or already used"


def test_r19_wrong_codes_lock_activation_for_a_while_then_the_right_one_works(
    registry: Database, portal: Portal
) -> None:
    code = letter_code(registry)
    wrong = "0000-0000-0000-0000"
    for _ in range(5):
        with pytest.raises(ActivationRefused):
            activate_with(registry, portal, wrong)
    with pytest.raises(ActivationRefused):  # locked: even the right code
        activate_with(registry, portal, code, timedelta(minutes=14))
    activate_with(registry, portal, code, timedelta(minutes=15))
    reasons = [e["reason"] for _, _, e in trail(registry, f"record:{ALICE.ins}")]
    assert reasons[:6] == ["wrong code"] * 5 + ["locked after repeated failures"]


def test_r19_an_unknown_ins_is_refused_like_a_wrong_code_and_traced_apart(
    registry: Database, portal: Portal
) -> None:
    letter_code(registry)
    with pytest.raises(ActivationRefused) as unknown:
        accounts.activate_account(
            registry, anonymous(), portal, ZOE.ins, "0000-0000-0000-0000", "z@example.org",
            ALICE_PASSWORD,
        )  # fmt: skip
    with pytest.raises(ActivationRefused) as wrong:
        activate_with(registry, portal, "0000-0000-0000-0000")
    assert (str(unknown.value), unknown.value.code) == (str(wrong.value), wrong.value.code)
    assert trail(registry, f"record:{ZOE.ins}") == []  # no chain for a stranger
    system = [
        (a, o, e["detail"]) for a, o, e in trail(registry, "system") if a == "account.activate"
    ]
    assert system == [("account.activate", "failed", {"identifier": ZOE.ins})]


@pytest.mark.parametrize(
    ("email", "password", "field", "code"),
    [
        ("", ALICE_PASSWORD, "email", "EMAIL_REQUIRED"),
        ("alice@", ALICE_PASSWORD, "email", "EMAIL_SYNTAX"),
        (ALICE_EMAIL, "trop-court", "password", "PASSWORD_TOO_SHORT"),
        (ALICE_EMAIL, f"{ALICE.ins}-secret", "password", "PASSWORD_IS_INS"),
    ],
)
def test_bad_activation_input_names_the_field_and_spends_no_attempt(
    registry: Database, portal: Portal, email: str, password: str, field: str, code: str
) -> None:
    letter = letter_code(registry)
    with pytest.raises(InvalidInput) as caught:
        accounts.activate_account(registry, anonymous(), portal, ALICE.ins, letter, email, password)
    assert (caught.value.field, caught.value.code) == (field, code)
    activate_with(registry, portal, letter)


# --- TOTP enrolment ---


def test_r19_the_holder_enrols_a_totp_app_by_typing_one_of_its_codes(
    registry: Database, portal: Portal
) -> None:
    activate(registry, portal)
    enrolment = accounts.begin_totp(registry, holder(), portal)
    assert enrolment.uri.startswith("otpauth://totp/DMP:alice.martin%40example.org?secret=")
    assert not accounts.get_account(registry, holder()).totp
    with pytest.raises(InvalidInput, match="does not match"):
        accounts.confirm_totp(registry, holder(), portal, "000000")
    accounts.confirm_totp(registry, holder(), portal, pyotp.TOTP(enrolment.secret).at(NOW))
    assert accounts.get_account(registry, holder()).totp
    with registry.read() as conn:
        sealed = conn.execute(select(portal_account.c.totp_secret)).scalar_one()
    assert enrolment.secret.encode() not in sealed  # sealed, not in clear
    assert ("account.totp", "success") in account_trail(registry)


def test_only_a_holder_reads_or_changes_their_own_account(
    registry: Database, portal: Portal
) -> None:
    activate(registry, portal)
    for ctx in (holder(BOB.ins), system_ctx(NOW), anonymous()):
        with pytest.raises(NotFound):
            accounts.get_account(registry, ctx)
        with pytest.raises(NotFound):
            accounts.begin_totp(registry, ctx, portal)
