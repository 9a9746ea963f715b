"""The portal's key: digests of the short login codes, CSRF tokens, sealed TOTP seeds
(RULES R19; docs/decisions/0007-portal-accounts.md).

A 6-digit code has a million values: a plain hash of it in the database would be
reversed at once by whoever reads a backup. Its digest is therefore keyed (HMAC-SHA256)
with a key that is not in the database: `DMP_PORTAL_SECRET`, or else 32 random bytes
kept in `data_dir/portal.key` (created on first use, mode 0600). A TOTP seed must be
read back to check a code: it is sealed with AES-256-GCM under a key derived from the
same secret, bound to the holder's INS.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "portal.key"
KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class PortalKeys:
    """Keys derived from one master secret, one per use, so that no value computed for
    one purpose can stand for another."""

    master: bytes = field(repr=False)

    def _key(self, purpose: str) -> bytes:
        return hmac.new(self.master, f"dmp-portal/{purpose}".encode(), hashlib.sha256).digest()

    def code_digest(self, session_hash: str, code: str) -> str:
        """The digest of a one-time code, bound to the session it was sent for."""
        message = f"{session_hash}:{code}".encode()
        return hmac.new(self._key("login-code"), message, hashlib.sha256).hexdigest()

    def csrf_token(self, binding: str) -> str:
        """The anti-forgery token of the forms shown to the holder of `binding` (the
        session cookie's value, or the anonymous visitor's cookie)."""
        return hmac.new(self._key("csrf"), binding.encode(), hashlib.sha256).hexdigest()

    def seal(self, secret: bytes, ins: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self._key("totp-seal")).encrypt(nonce, secret, ins.encode())

    def unseal(self, sealed: bytes, ins: str) -> bytes:
        """The secret sealed for `ins`; raises cryptography's InvalidTag if it was altered,
        sealed for another holder or under another key."""
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return AESGCM(self._key("totp-seal")).decrypt(nonce, body, ins.encode())


def load_portal_keys(data_dir: Path, configured: str) -> PortalKeys:
    """The keys from DMP_PORTAL_SECRET (at least 32 characters), or from the key file in
    `data_dir`, created with 32 random bytes if it does not exist yet."""
    if configured:
        if len(configured) < KEY_BYTES:
            raise ValueError(f"DMP_PORTAL_SECRET must be at least {KEY_BYTES} characters")
        return PortalKeys(hashlib.sha256(configured.encode()).digest())
    path = data_dir / KEY_FILE
    try:
        return PortalKeys(_read_key(path))
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: a concurrent process sees no key or a
    # whole one, and the first link wins.
    temporary = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key won: use it
            os.link(temporary, path)
    finally:
        temporary.unlink()
    return PortalKeys(_read_key(path))


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} must hold {KEY_BYTES} bytes, found {len(key)}")
    return key
