"""How the holder's secrets are checked: passwords (argon2id) and TOTP codes (pyotp),
and the portal's keys (RULES R19; docs/decisions/0007-portal-accounts.md)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dmp.storage.portal_keys import PortalKeys

TOTP_ISSUER = "DMP"
TOTP_DRIFT = 1  # steps of 30 s either side: a phone clock a little off still works


class Passwords:
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over
    64 MiB, 4 lanes). A stored hash made with other parameters still verifies and is
    replaced at the next successful login (`needs_rehash`).

    An unknown identifier is checked against a dummy hash made with the same parameters,
    so that it costs the same time as a wrong password (no telling who has an account).
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; None (no account) checks the dummy hash
        and is always False."""
        try:
            matched = self.hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


@dataclass(frozen=True, slots=True)
class Portal:
    """What the account use cases need beside the database: the keys and the hasher."""

    keys: PortalKeys
    passwords: Passwords = field(default_factory=Passwords)


def new_totp_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def totp_uri(secret: str, label: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed or from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step whose code `code` is, within the allowed drift and later than
    `after` (the last step accepted: a TOTP code is good once); None otherwise."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - TOTP_DRIFT, current + TOTP_DRIFT):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
