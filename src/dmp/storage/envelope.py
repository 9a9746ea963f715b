"""Envelope encryption of documents (DESIGN: chosen dependencies; RULES R4).

Each record has its own random 256-bit data key (storage/keyring.py); a document's
bytes are sealed with it (AES-256-GCM) before they reach the blob store. The data key
is stored only wrapped (encrypted) by the operator's master key, which never touches
the database. Purging a record deletes its wrapped key: every copy of its documents
left anywhere (a blob the purge could not delete, a backup, a replica) becomes
unreadable at once — crypto-shredding (CSP L1111-18: destroyed ten years after closure).

Formats (one leading version byte so that a future format can be told apart):

    sealed document   01 | nonce (12) | AES-256-GCM(data key, plaintext, aad) + tag (16)
    wrapped data key  01 | nonce (12) | AES-256-GCM(master key, data key, "dmp-record-key:" INS)

Why AES-GCM rather than AES-KW (RFC 3394) to wrap data keys: AES-KW has no associated
data, so a wrapped key copied onto another record's row would unwrap there without
complaint; with GCM the INS is authenticated, and a moved key fails to unwrap. Nonces are
random: NIST SP 800-38D allows 2^32 messages per key with random 96-bit nonces, far
above the 40 million records a master key wraps one key each for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = 1
_HEADER = bytes([VERSION])
MASTER_KEY_FILE = "master.key"
DEV_MODES = frozenset(["dev", "demo"])
_WRAP_CONTEXT = b"dmp-record-key:"


class SealBroken(Exception):
    """Sealed bytes do not open: altered, truncated, of an unknown format version, or
    sealed with another key or associated data. Deliberately says no more."""


class MasterKeyMissing(Exception):
    """No master key is configured and none may be made up (production mode)."""


class MasterKeyInvalid(ValueError):
    """The configured master key cannot be used (not 32 bytes, not base64, both set)."""


# ---------------------------------------------------------------------------- sealing


def new_data_key() -> bytes:
    """A fresh random AES-256 key."""
    return os.urandom(KEY_BYTES)


def seal(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """`plaintext` encrypted and authenticated with `data_key`; `aad` (e.g. the INS and
    the blob key) is authenticated too, so sealed bytes cannot be swapped between places."""
    nonce = os.urandom(NONCE_BYTES)
    return _HEADER + nonce + _aead(data_key).encrypt(nonce, plaintext, _HEADER + aad)


def open_sealed(data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of `sealed`, or SealBroken."""
    if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[:1] != _HEADER:
        raise SealBroken("sealed bytes are truncated or of an unknown format version")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return _aead(data_key).decrypt(nonce, body, _HEADER + aad)
    except InvalidTag:
        raise SealBroken("sealed bytes do not open with this key and context") from None


def _aead(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
    return AESGCM(key)


# ------------------------------------------------------------------------- master key


class MasterKey:
    """The operator's key-encryption key. It wraps records' data keys and nothing else;
    `key_id` (stored beside each wrapped key) names it without revealing it, so a key
    rotation can tell which rows still need rewrapping."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyInvalid(f"the master key must be {KEY_BYTES} bytes, not {len(key)}")
        self._key = bytes(key)
        self.key_id = hashlib.sha256(self._key).hexdigest()[:16]

    def wrap(self, data_key: bytes, ins: str) -> bytes:
        """`data_key` encrypted for the record `ins` (it unwraps for that INS only)."""
        if len(data_key) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, not {len(data_key)}")
        return seal(self._key, data_key, _WRAP_CONTEXT + ins.encode())

    def unwrap(self, wrapped: bytes, ins: str) -> bytes:
        """The data key of record `ins`; SealBroken if `wrapped` is not its key under
        this master key."""
        data_key = open_sealed(self._key, wrapped, _WRAP_CONTEXT + ins.encode())
        if len(data_key) != KEY_BYTES:
            raise SealBroken("the wrapped key is not a data key")
        return data_key

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def load_master_key(*, key_b64: str, key_file: Path | None, mode: str, data_dir: Path) -> MasterKey:
    """The master key from DMP_MASTER_KEY (`key_b64`, base64) or DMP_MASTER_KEY_FILE
    (`key_file`: 32 raw bytes or base64 text). With neither, dev and demo servers use
    `data_dir/master.key`, created (mode 0600) on first use; production refuses to start
    (MasterKeyMissing) rather than encrypt patients' documents with a key made up on the
    spot, which nobody would have backed up."""
    if key_b64.strip() and key_file is not None:
        raise MasterKeyInvalid("set DMP_MASTER_KEY or DMP_MASTER_KEY_FILE, not both")
    if key_b64.strip():
        return MasterKey(_decode_b64(key_b64, "DMP_MASTER_KEY"))
    if key_file is not None:
        return MasterKey(_read_key_file(key_file, "DMP_MASTER_KEY_FILE"))
    if mode not in DEV_MODES:
        raise MasterKeyMissing(
            f"no master key in {mode} mode: set DMP_MASTER_KEY (32 bytes, base64) or "
            "DMP_MASTER_KEY_FILE (a file of 32 raw bytes or their base64), and back it up: "
            "without it no document can be read"
        )
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    if path.stat().st_mode & 0o077:
        raise MasterKeyInvalid(f"{path} must be readable by its owner only (chmod 600)")
    return MasterKey(_read_key_file(path, str(path)))


def _decode_b64(text: str, source: str) -> bytes:
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")  # url-safe too
    try:
        key = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyInvalid(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyInvalid(
            f"{source} must hold {KEY_BYTES} bytes (44 base64 characters), not {len(key)}"
        )
    return key


def _read_key_file(path: Path, source: str) -> bytes:
    raw = path.read_bytes()
    if path.stat().st_mode & 0o004:
        log.warning("%s is readable by every user of this machine", path)
    if len(raw) == KEY_BYTES:
        return raw
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise MasterKeyInvalid(
            f"{source} must hold {KEY_BYTES} raw bytes or their base64, not {len(raw)} bytes"
        ) from None
    return _decode_b64(text, source)


def _create_key_file(path: Path) -> None:
    """Write a new key beside `path`, then link it in: concurrent first uses agree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64encode(new_data_key()) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.link(draft, path)
        log.warning("created a development master key in %s", path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        draft.unlink()
