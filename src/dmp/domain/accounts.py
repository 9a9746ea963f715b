"""Patient portal accounts: the pure rules (RULES R19; docs/decisions/0007-portal-accounts.md).

R19: the holder logs in with an identifier (the INS) + a password + a one-time code sent
by e-mail at each login (or, once enrolled, a TOTP code); activation codes sent by mail
are valid 6 weeks; secrets never travel together on one channel — the activation code
comes by post, login codes by e-mail.

Here: the formats of the codes, their validity, the password policy, the lockout
schedule, the session lifetimes and the texts of the account e-mails. No I/O; the
randomness source is a parameter (the standard `secrets` module by default).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from dmp.domain.errors import InvalidInput
from dmp.domain.notifications import EPHEMERAL, Notice, NoticeKind
from dmp.domain.people import is_minor
from dmp.domain.time import PARIS, as_utc, local_date

# --- activation codes (R19: sent by post, valid 6 weeks, single use) ---

# Crockford's base 32: no I, L, O (read as 1, 1, 0) nor U; 16 symbols carry 80 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS, GROUP_LENGTH = 4, 4
CODE_LENGTH = CODE_GROUPS * GROUP_LENGTH
CODE_BITS = CODE_LENGTH * 5
ACTIVATION_VALIDITY = timedelta(days=42)
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A random 80-bit code in four dash-separated groups of four symbols, e.g.
    "7K3M-Q9TD-2HXA-R4PW" (activation and reset codes)."""
    value = int.from_bytes(token_bytes(CODE_BITS // 8), "big")
    symbols = [CODE_ALPHABET[(value >> (5 * i)) & 31] for i in range(CODE_LENGTH)]
    return format_code("".join(symbols))


def format_code(compact: str) -> str:
    return "-".join(compact[i : i + GROUP_LENGTH] for i in range(0, CODE_LENGTH, GROUP_LENGTH))


def parse_code(value: object, field: str) -> str:
    """A typed code in its compact form: case, spaces and hyphens ignored, O read as 0
    and I or L as 1 (the letters people confuse); else InvalidInput naming `field`."""
    if not isinstance(value, str):
        raise InvalidInput("CODE_FORMAT", "expected text", field)
    compact = "".join(value.split()).replace("-", "").upper().translate(_READ_AS)
    if len(compact) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in compact):
        raise InvalidInput("CODE_FORMAT", f"expected {CODE_LENGTH} letters and digits", field)
    return compact


def code_digest(compact: str) -> str:
    """What is stored of an 80-bit code: its SHA-256 (too much entropy to search)."""
    return hashlib.sha256(f"dmp-code:{compact}".encode()).hexdigest()


def activation_expiry(issued_at: datetime) -> tuple[date, datetime]:
    """R19: 6 weeks. The letter says 'valable jusqu'au <date> inclus': the code is good
    until the end of that day in Paris, the 42nd day after the day it was issued."""
    expires_on = local_date(issued_at) + ACTIVATION_VALIDITY
    end = datetime.combine(expires_on + timedelta(days=1), time(0), PARIS)
    return expires_on, as_utc(end)  # stored in UTC, as every instant


def may_have_account(birth_date: date, today: date) -> bool:
    """R3: a minor's rights are exercised by the legal representatives, so the portal
    account (and its activation letter) is for adults; a minor gets one at 18."""
    return not is_minor(birth_date, today)


def still_valid(expires_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    """A one-time secret is good before its expiry, once."""
    return used_at is None and now < expires_at


# --- login codes (R19: a one-time code by e-mail at each login) ---

LOGIN_CODE_DIGITS = 6
LOGIN_CODE_VALIDITY = EPHEMERAL[NoticeKind.LOGIN_CODE]  # 10 minutes
RESET_CODE_VALIDITY = EPHEMERAL[NoticeKind.PASSWORD_RESET]  # 30 minutes
RESEND_AFTER = timedelta(seconds=60)  # a new code, at most once a minute
SECOND_FACTOR_AT_MOST = timedelta(minutes=30)  # new codes for one login, within this


def new_login_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    return f"{randbelow(10**LOGIN_CODE_DIGITS):0{LOGIN_CODE_DIGITS}d}"


def parse_login_code(value: object, field: str = "code") -> str:
    """Six digits (spaces ignored), or InvalidInput."""
    text = "".join(value.split()) if isinstance(value, str) else ""
    if len(text) != LOGIN_CODE_DIGITS or not (text.isascii() and text.isdigit()):
        raise InvalidInput("LOGIN_CODE_FORMAT", f"expected {LOGIN_CODE_DIGITS} digits", field)
    return text


# --- passwords ---

PASSWORD_MIN, PASSWORD_MAX = 12, 128
# The most used passwords (French lists and the world's), compared in lower case once
# trailing digits and punctuation are dropped: 'Motdepasse2024!' is 'motdepasse'.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012", "azertyuiop", "azertyuiopqsdfghjklm", "qwertyuiop", "motdepasse",
        "motdepassesecret", "password", "passwordpassword", "passw0rd", "iloveyou",
        "jetaime", "jetaimejetaime", "soleil", "bonjour", "doudou", "loulou", "chouchou",
        "marseille", "olympiquedemarseille", "parissaintgermain", "football", "princesse",
        "doudoudoudou", "azerty", "qwerty", "abcdefghijkl", "administrateur", "admin",
        "dossiermedical", "dossiermedicalpartage", "monespacesante", "ameli",
        "assurancemaladie", "sante", "securitesociale", "changeme", "welcome", "letmein",
        "aaaaaaaaaaaa", "abcdefabcdef", "qwertyqwerty", "azertyazerty", "000000000000",
        "111111111111", "123123123123", "121212121212", "098765432109",
    }
)  # fmt: skip


def normalise_password(password: str) -> str:
    """The form a password is hashed in (NFC: 'é' typed one way or the other matches)."""
    return unicodedata.normalize("NFC", password)


def check_password(password: str, ins: str, field: str = "password") -> str:
    """The password policy; returns the password (NFC) or raises InvalidInput naming why.

    At least 12 characters (length beats composition rules, NIST SP 800-63B), at most 128
    (argon2 hashes anything, but a megabyte password is an attack); not containing the
    INS, which is printed on documents; not one of the most common passwords."""
    text = normalise_password(password)
    if len(text) < PASSWORD_MIN:
        raise InvalidInput("PASSWORD_TOO_SHORT", f"at least {PASSWORD_MIN} characters", field)
    if len(text) > PASSWORD_MAX:
        raise InvalidInput("PASSWORD_TOO_LONG", f"at most {PASSWORD_MAX} characters", field)
    if ins and ins[:13] in "".join(c for c in text if c.isalnum()).upper():
        raise InvalidInput("PASSWORD_IS_INS", "must not contain the INS", field)
    core = text.lower().rstrip("0123456789!?.*#$@&%_- ")
    if core in COMMON_PASSWORDS or text.lower() in COMMON_PASSWORDS or len(set(text)) < 4:
        raise InvalidInput("PASSWORD_TOO_COMMON", "too common or too easy to guess", field)
    return text


# --- lockout (repeated failures of a password or a code) ---

MAX_FAILURES = 5
FIRST_LOCK = timedelta(minutes=15)
LONGEST_LOCK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Throttle:
    """Failed attempts in the current series, the lock if any, and how many locks there
    were since the last success (each one twice as long as the one before)."""

    failures: int = 0
    locked_until: datetime | None = None
    lockouts: int = 0

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def lock_duration(lockouts_before: int) -> timedelta:
    """15 min for the first lock, then 30, 60… capped at 24 h."""
    return min(FIRST_LOCK * (1 << min(lockouts_before, 16)), LONGEST_LOCK)


def after_failure(throttle: Throttle, now: datetime) -> Throttle:
    """One more failure. The 5th in a series locks; attempts made while locked change
    nothing (they are refused and traced, but do not lengthen the lock); once a lock has
    run out a new series of 5 starts."""
    if throttle.locked(now):
        return throttle
    failures = 1 if throttle.locked_until is not None else throttle.failures + 1
    if failures < MAX_FAILURES:
        return Throttle(failures, None, throttle.lockouts)
    until = now + lock_duration(throttle.lockouts)
    return Throttle(failures, until, throttle.lockouts + 1)


# --- sessions ---

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)


class Stage(StrEnum):
    """What a session allows: nothing yet but the second factor, or the portal."""

    SECOND_FACTOR = "second_factor"  # password checked, code awaited (10 minutes)
    ACTIVE = "active"


def session_expires_at(stage: Stage, created_at: datetime) -> datetime:
    """Absolute end: 10 minutes to give the code, 12 hours for a logged-in session."""
    lifetime = LOGIN_CODE_VALIDITY if stage is Stage.SECOND_FACTOR else SESSION_ABSOLUTE
    return created_at + lifetime


def session_end(expires_at: datetime, last_seen_at: datetime, now: datetime) -> str | None:
    """Why a session is over ('absolute' or 'idle'), or None while it lives."""
    if now >= expires_at:
        return "absolute"
    if now >= last_seen_at + SESSION_IDLE:
        return "idle"
    return None


# --- the account e-mails (no link, no INS, no name: decision 0006) ---

_SIGNATURE = (
    "\n\nNous ne vous demanderons jamais vos codes ni votre mot de passe, ni par téléphone "
    "ni par courriel. Ce message ne contient aucun lien : n'utilisez que l'adresse "
    "habituelle de votre espace DMP.\n\n"
    "Message automatique, merci de ne pas y répondre.\nDossier Médical Partagé"
)


def _when(at: datetime) -> str:
    local = at.astimezone(PARIS)
    return f"le {local:%d/%m/%Y} à {local:%H} h {local:%M}"


def login_code_notice(code: str, at: datetime) -> Notice:
    """R19: the one-time code of a login, valid 10 minutes."""
    minutes = int(LOGIN_CODE_VALIDITY.total_seconds() // 60)
    return Notice(
        NoticeKind.LOGIN_CODE,
        "DMP : votre code de connexion",
        f"Bonjour,\n\nVotre code de connexion, demandé {_when(at)}, est :\n\n    {code}\n\n"
        f"Il est valable {minutes} minutes et ne sert qu'une fois. Si vous n'êtes pas à "
        "l'origine de cette connexion, quelqu'un connaît votre mot de passe : changez-le "
        "depuis la page « Mot de passe oublié »." + _SIGNATURE,
    )


def reset_code_notice(code: str, at: datetime) -> Notice:
    """The one-time code that lets the holder choose a new password, valid 30 minutes."""
    minutes = int(RESET_CODE_VALIDITY.total_seconds() // 60)
    return Notice(
        NoticeKind.PASSWORD_RESET,
        "DMP : réinitialisation de votre mot de passe",
        f"Bonjour,\n\nVous avez demandé {_when(at)} à changer le mot de passe de votre espace "
        f"DMP. Votre code de réinitialisation est :\n\n    {code}\n\nSaisissez-le sur la "
        "page « Mot de passe oublié » de votre espace, avec votre nouveau mot de passe. "
        f"Il est valable {minutes} minutes et ne sert qu'une fois. Si vous n'avez rien "
        "demandé, ignorez ce message : votre mot de passe reste inchangé." + _SIGNATURE,
    )


def locked_notice(at: datetime, until: datetime) -> Notice:
    """Told to the holder only, so that an attacker learns nothing from the lock."""
    local = until.astimezone(PARIS)
    return Notice(
        NoticeKind.ACCOUNT_SECURITY,
        "DMP : connexion bloquée temporairement",
        f"Bonjour,\n\n{_when(at).capitalize()}, plusieurs tentatives de connexion à votre "
        "espace DMP ont échoué. Par sécurité, la connexion est bloquée jusqu'au "
        f"{local:%d/%m/%Y} à {local:%H} h {local:%M}.\n\nSi ce n'était pas vous, changez votre "
        "mot de passe dès que possible depuis la page « Mot de passe oublié »." + _SIGNATURE,
    )


def password_changed_notice(at: datetime) -> Notice:
    return Notice(
        NoticeKind.ACCOUNT_SECURITY,
        "DMP : votre mot de passe a été changé",
        f"Bonjour,\n\nLe mot de passe de votre espace DMP a été changé {_when(at)}, et toutes "
        "vos sessions ouvertes ont été fermées.\n\nSi vous n'êtes pas à l'origine de ce "
        "changement, contactez sans attendre votre caisse d'assurance maladie." + _SIGNATURE,
    )


def totp_enrolled_notice(at: datetime) -> Notice:
    return Notice(
        NoticeKind.ACCOUNT_SECURITY,
        "DMP : application d'authentification activée",
        f"Bonjour,\n\n{_when(at).capitalize()}, une application d'authentification a été "
        "associée à votre espace DMP : ses codes remplacent désormais les codes envoyés par "
        "courriel.\n\nSi vous n'êtes pas à l'origine de ce changement, contactez sans attendre "
        "votre caisse d'assurance maladie." + _SIGNATURE,
    )
