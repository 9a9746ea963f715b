"""The pure rules of portal accounts (RULES R19): code formats and entropy, the 6-week
expiry of activation codes, the password policy, the lockout schedule, session ends."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest

from dmp.domain import accounts as rules
from dmp.domain.accounts import Stage, Throttle
from dmp.domain.errors import InvalidInput
from dmp.domain.time import PARIS
from tests.personas import ALICE

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)


# --- activation codes ---


def test_r19_an_activation_code_is_four_groups_of_four_unambiguous_symbols() -> None:
    for _ in range(200):
        code = rules.new_code()
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code), code
        assert not set(code) & set("ILOU")


def test_r19_an_activation_code_carries_80_random_bits() -> None:
    assert len(rules.CODE_ALPHABET) == 32 == len(set(rules.CODE_ALPHABET))
    assert rules.CODE_LENGTH * math.log2(len(rules.CODE_ALPHABET)) == rules.CODE_BITS == 80
    # Every bit of the random source shows in the code: all-ones and all-zeros differ
    # in every symbol, and 2,000 codes never repeat.
    assert rules.new_code(lambda n: b"\xff" * n) == "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    assert rules.new_code(lambda n: b"\x00" * n) == "0000-0000-0000-0000"
    assert len({rules.new_code() for _ in range(2000)}) == 2000


@pytest.mark.parametrize(
    ("typed", "compact"),
    [
        ("ab12-cd34-ef56-gh78", "AB12CD34EF56GH78"),
        (" AB12 CD34 EF56 GH78 ", "AB12CD34EF56GH78"),
        ("oB1I-cD34-EF56-GHL8", "0B11CD34EF56GH18"),  # O read as 0, I and L as 1
    ],
)
def test_a_typed_code_ignores_case_spaces_hyphens_and_confusable_letters(
    typed: str, compact: str
) -> None:
    assert rules.parse_code(typed, "code") == compact


@pytest.mark.parametrize(
    "typed", ["", "AB12-CD34-EF56", "AB12-CD34-EF56-GH7U", "AB12CD34EF56GH78X"]
)
def test_a_malformed_code_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.parse_code(typed, "code")
    assert (caught.value.code, caught.value.field) == ("CODE_FORMAT", "code")


def test_only_a_digest_of_the_code_is_kept_and_it_is_the_same_however_typed() -> None:
    digest = rules.code_digest(rules.parse_code("ab12-cd34-ef56-gh78", "code"))
    assert digest == rules.code_digest(rules.parse_code("AB12CD34EF56GH78", "code"))
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "AB12" not in digest


def test_r19_an_activation_code_is_valid_six_weeks_until_the_end_of_the_printed_day() -> None:
    issued = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)  # 11:00 in Paris
    expires_on, expires_at = rules.activation_expiry(issued)
    assert expires_on == date(2018, 12, 18)  # 42 days after 6 November
    assert expires_at == datetime(2018, 12, 19, 0, 0, tzinfo=PARIS)
    assert expires_at - issued >= timedelta(days=42)
    last_second = expires_at - timedelta(seconds=1)
    assert rules.still_valid(expires_at, None, last_second)
    assert not rules.still_valid(expires_at, None, expires_at)
    assert not rules.still_valid(expires_at, issued, issued + timedelta(minutes=1))  # used


def test_r19_the_expiry_follows_the_paris_calendar_across_midnight_utc() -> None:
    late = datetime(2018, 11, 6, 23, 30, tzinfo=UTC)  # already 7 November in Paris
    assert rules.activation_expiry(late)[0] == date(2018, 12, 19)


def test_r3_only_adults_get_an_account() -> None:
    assert rules.may_have_account(date(2000, 11, 6), date(2018, 11, 6))
    assert not rules.may_have_account(date(2000, 11, 7), date(2018, 11, 6))


# --- login codes ---


def test_r19_a_login_code_is_six_digits_from_a_million() -> None:
    values = count()
    assert rules.new_login_code(lambda n: next(values)) == "000000"
    assert rules.new_login_code(lambda n: n - 1) == "999999"
    assert all(re.fullmatch(r"[0-9]{6}", rules.new_login_code()) for _ in range(100))


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "١٢٣٤٥٦", ""])
def test_a_malformed_login_code_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="6 digits"):
        rules.parse_login_code(typed)


def test_r19_login_codes_last_ten_minutes_and_reset_codes_thirty() -> None:
    assert timedelta(minutes=10) == rules.LOGIN_CODE_VALIDITY
    assert timedelta(minutes=30) == rules.RESET_CODE_VALIDITY
    assert rules.parse_login_code(" 012 345 ") == "012345"


# --- passwords ---


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("court", "PASSWORD_TOO_SHORT"),
        ("onze-lettre", "PASSWORD_TOO_SHORT"),
        ("x" * 129, "PASSWORD_TOO_LONG"),
        (f"mon{ALICE.ins}", "PASSWORD_IS_INS"),
        (f"{ALICE.ins[:1]} {ALICE.ins[1:5]} {ALICE.ins[5:13]}!", "PASSWORD_IS_INS"),
        ("motdepasse2024!", "PASSWORD_TOO_COMMON"),
        ("AZERTYUIOP", "PASSWORD_TOO_SHORT"),
        ("Azertyuiop12", "PASSWORD_TOO_COMMON"),
        ("123456789012", "PASSWORD_TOO_COMMON"),
        ("abababababab", "PASSWORD_TOO_COMMON"),
    ],
)
def test_a_weak_password_is_refused_with_its_reason(password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.check_password(password, ALICE.ins)
    assert (caught.value.code, caught.value.field) == (code, "password")


@pytest.mark.parametrize(
    "password", ["cheval-agrafe-pile-correct", "Le chat dort à 7 h", "chevalé-" * 16]
)
def test_a_long_uncommon_password_is_accepted(password: str) -> None:
    assert rules.check_password(password, ALICE.ins) == password


def test_a_password_is_compared_in_one_unicode_form() -> None:
    composed, decomposed = "Mémé-dort-au-jardin", "Me\u0301me\u0301-dort-au-jardin"
    assert rules.check_password(decomposed, ALICE.ins) == composed
    assert rules.normalise_password(decomposed) == composed


# --- lockout ---


def failures(n: int, start: Throttle | None = None, at: datetime = NOW) -> Throttle:
    throttle = start or Throttle()
    for _ in range(n):
        throttle = rules.after_failure(throttle, at)
    return throttle


def test_r19_four_failures_do_not_lock_the_fifth_locks_for_15_minutes() -> None:
    four = failures(4)
    assert (four.failures, four.locked(NOW)) == (4, False)
    five = rules.after_failure(four, NOW)
    assert five.locked_until == NOW + timedelta(minutes=15)
    assert five.locked(NOW + timedelta(minutes=14, seconds=59))
    assert not five.locked(NOW + timedelta(minutes=15))


def test_r19_attempts_during_a_lock_do_not_lengthen_it() -> None:
    locked = failures(5)
    assert failures(10, locked, NOW + timedelta(minutes=5)) == locked


def test_r19_each_lock_doubles_up_to_a_day() -> None:
    durations = [rules.lock_duration(n) for n in range(9)]
    minutes = [int(d.total_seconds() // 60) for d in durations]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    assert rules.lock_duration(10_000) == timedelta(hours=24)


def test_r19_after_a_lock_runs_out_a_new_series_of_five_locks_twice_as_long() -> None:
    first = failures(5)
    after = NOW + timedelta(minutes=15)
    four_more = failures(4, first, after)
    assert not four_more.locked(after)
    second = rules.after_failure(four_more, after)
    assert second.locked_until == after + timedelta(minutes=30)
    assert second.lockouts == 2


# --- sessions ---


def test_r19_a_session_ends_after_30_idle_minutes_or_12_hours_in_all() -> None:
    expires = rules.session_expires_at(Stage.ACTIVE, NOW)
    assert expires == NOW + timedelta(hours=12)
    seen = NOW + timedelta(hours=11, minutes=50)
    assert rules.session_end(expires, seen, seen + timedelta(minutes=9)) is None
    assert rules.session_end(expires, seen, expires) == "absolute"
    assert rules.session_end(expires, NOW, NOW + timedelta(minutes=29, seconds=59)) is None
    assert rules.session_end(expires, NOW, NOW + timedelta(minutes=30)) == "idle"


def test_r19_the_second_factor_must_come_within_ten_minutes() -> None:
    assert rules.session_expires_at(Stage.SECOND_FACTOR, NOW) == NOW + timedelta(minutes=10)


# --- the e-mails ---


def test_account_emails_carry_the_code_but_no_link_ins_or_name() -> None:
    notice = rules.login_code_notice("042137", NOW)
    assert "042137" in notice.body
    assert "042137" not in notice.subject  # subjects show on locked screens
    assert "10 minutes" in notice.body
    for text in (
        notice,
        rules.reset_code_notice("ABCD-EFGH-JKMN-PQRS", NOW),
        rules.locked_notice(NOW, NOW + timedelta(minutes=15)),
        rules.password_changed_notice(NOW),
        rules.totp_enrolled_notice(NOW),
    ):
        assert text.subject.startswith("DMP : ")
        assert "http" not in text.body
        assert "www." not in text.body
        assert ALICE.ins not in text.body
    assert (
        "jusqu'au 06/11/2018 à 11 h 15"
        in rules.locked_notice(NOW, NOW + timedelta(minutes=15)).body
    )
