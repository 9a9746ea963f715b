"""Signed bearer tokens: verifying them into an Actor, and the development issuer.

RULES R18: professionals authenticate with CPS, e-CPS or Pro Santé Connect (OpenID
Connect); the API receives the resulting signed token (a JWT) and trusts it only when
it is signed by a configured issuer's key, meant for this server, within its lifetime
and carries valid identifiers. The claims are described in
docs/decisions/0005-tokens.md:

    iss aud exp iat [nbf] sub jti     standard, all required but nbf
    dmp_role                          a Role (professional, patient, representative…)
    rpps profession [specialty]       professional: RPPS, profession code, specialty,
    [finess]                          and the organisation's FINESS
    ins                               patient: their INS; representative: the minor's

Only asymmetric algorithms are accepted (ALGORITHMS): `alg=none` and the HMAC family
are refused before any key is looked at, which also defeats the key-confusion attack
(the issuer's public key used as an HMAC secret). Keys come only from the configured
key sets, never from the token (`jku`, `x5u`, `jwk` headers are ignored).

The development issuer signs tokens with an ES256 key kept in the data dir; it is
trusted, and usable, only in the "dev" and "demo" modes (DEV_MODES).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import os
import re
import threading
import urllib.parse
import urllib.request
import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, overload

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from dmp.domain.actors import Actor, Role
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_finess, parse_ins, parse_rpps
from dmp.domain.matrix import default_matrix

log = logging.getLogger(__name__)

ALGORITHMS = frozenset(
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
)
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub", "jti", "dmp_role")
TOKEN_ROLES = frozenset(Role) - {Role.SYSTEM, Role.ANONYMOUS}  # never asserted by a token
DEV_ISSUER = "urn:dmp:dev-issuer"
DEV_MODES = frozenset(["dev", "demo"])
DEV_KEY_FILE = "dev-issuer-key.pem"
_KEY_TYPES = frozenset(["RSA", "EC", "OKP"])  # never "oct": that would be an HMAC secret
_PRIVATE_MEMBERS = frozenset(["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
_SUBJECT = re.compile(r"[\x21-\x7e]{1,64}")  # fits the 64-character actor ids we store
_SPECIALTY = re.compile(r"[A-Z0-9_-]{1,16}")  # e.g. SM54 (médecine générale)
_KEY_TYPE_OF = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}  # by ALGORITHMS prefix
_MAX_JWKS_BYTES = 1 << 20


class TokenRefused(Exception):
    """A bearer token is not accepted: a stable code, a reason safe to show the caller
    (it never quotes a library's error or a file path) and the claim at fault, if any."""

    def __init__(self, code: str, reason: str, claim: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.claim = claim


class KeysUnavailable(TokenRefused):
    """The server cannot verify any token now (key set unreadable or unreachable)."""

    def __init__(self) -> None:
        super().__init__("TOKEN_KEYS_UNAVAILABLE", "token signing keys are unavailable")


class DevIssuerRefused(Exception):
    """The development issuer was asked for outside the dev and demo modes."""


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who a verified token proves the caller to be."""

    actor: Actor
    issuer: str
    token_id: str
    expires_at: datetime
    specialty: str | None = None
    represented_ins: str | None = None  # a representative acts for this minor's record


# ------------------------------------------------------------------------------ claims


def actor_from_claims(claims: Mapping[str, Any], professions: frozenset[str]) -> Authenticated:
    """Check the dmp claims of `claims` and map them to an Actor; the registered claims
    (iss, exp…) are the Verifier's business. Raises TokenRefused naming the claim."""
    role = claims.get("dmp_role")
    if not isinstance(role, str) or role not in TOKEN_ROLES:
        roles = ", ".join(sorted(TOKEN_ROLES))
        raise TokenRefused("TOKEN_CLAIM_INVALID", f"dmp_role must be one of {roles}", "dmp_role")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise TokenRefused(
            "TOKEN_CLAIM_INVALID", "sub must be 1 to 64 visible ASCII characters", "sub"
        )
    exp, iss, jti = claims.get("exp"), claims.get("iss"), claims.get("jti")
    seen = Authenticated(
        Actor(Role(role), subject),
        iss if isinstance(iss, str) else "",
        jti if isinstance(jti, str) else "",
        datetime.fromtimestamp(exp if isinstance(exp, int | float) else 0, UTC),
    )
    if role == Role.PROFESSIONAL:
        return _professional(claims, professions, seen)
    if role == Role.PATIENT:
        return replace(seen, actor=Actor(Role.PATIENT, _identifier(claims, "ins", parse_ins)))
    if role == Role.REPRESENTATIVE:
        return replace(seen, represented_ins=_identifier(claims, "ins", parse_ins))
    return seen


def _professional(
    claims: Mapping[str, Any], professions: frozenset[str], seen: Authenticated
) -> Authenticated:
    rpps = _identifier(claims, "rpps", parse_rpps)
    profession = _text(claims, "profession", required=True)
    if profession not in professions:
        raise TokenRefused("TOKEN_CLAIM_INVALID", "profession is not a known code", "profession")
    specialty = _text(claims, "specialty")
    if specialty is not None and not _SPECIALTY.fullmatch(specialty):
        raise TokenRefused("TOKEN_CLAIM_INVALID", "specialty must be a code like SM54", "specialty")
    finess = _identifier(claims, "finess", parse_finess) if "finess" in claims else None
    actor = Actor(Role.PROFESSIONAL, rpps, profession, finess)
    return replace(seen, actor=actor, specialty=specialty)


@overload
def _text(claims: Mapping[str, Any], name: str, *, required: Literal[True]) -> str: ...
@overload
def _text(claims: Mapping[str, Any], name: str, *, required: bool = False) -> str | None: ...
def _text(claims: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = claims.get(name)
    if value is None and required:
        role = claims.get("dmp_role")
        raise TokenRefused("TOKEN_CLAIM_MISSING", f"claim {name} is required for {role}", name)
    if value is not None and not isinstance(value, str):
        raise TokenRefused("TOKEN_CLAIM_INVALID", f"claim {name} must be text", name)
    return value


def _identifier(claims: Mapping[str, Any], name: str, parse: Callable[[object, str], str]) -> str:
    try:
        return parse(_text(claims, name, required=True), name)
    except InvalidInput as exc:
        raise TokenRefused("TOKEN_CLAIM_INVALID", f"{name}: {exc.message}", name) from None


# ------------------------------------------------------------------------- key sets


class KeySource(Protocol):
    """Where an issuer's public keys come from (a JWKS file, a URL, the dev key)."""

    def find(self, kid: str, now: datetime) -> Mapping[str, Any] | None:
        """The public JWK named `kid`, or None; KeysUnavailable if none can be read."""
        ...


def parse_jwks(data: object) -> dict[str, Mapping[str, Any]]:
    """The signing keys of a JWKS document by kid. A key without kid, a symmetric key or
    private key material is a configuration error (ValueError): better refused loudly."""
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise ValueError("a JWKS is a JSON object with a list of keys")
    found: dict[str, Mapping[str, Any]] = {}
    for n, jwk in enumerate(keys):
        if not isinstance(jwk, dict):
            raise ValueError(f"key {n} is not a JSON object")
        if jwk.get("use", "sig") != "sig":
            continue  # encryption keys are not ours to use
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"key {n} has no kid")
        if jwk.get("kty") not in _KEY_TYPES:
            raise ValueError(f"key {kid}: kty must be one of {sorted(_KEY_TYPES)}")
        if _PRIVATE_MEMBERS & jwk.keys():
            raise ValueError(f"key {kid} holds private key material")
        found[kid] = jwk
    return found


@dataclass(frozen=True, slots=True)
class StaticJwks:
    """Keys read once (a JWKS file, the development key)."""

    keys: Mapping[str, Mapping[str, Any]]

    def find(self, kid: str, now: datetime) -> Mapping[str, Any] | None:
        return self.keys.get(kid)


def load_jwks_file(path: Path) -> StaticJwks:
    """The JWKS in `path` (ValueError or OSError when it cannot be used)."""
    return StaticJwks(parse_jwks(json.loads(path.read_text("utf-8"))))


class RemoteJwks:
    """Keys fetched from the issuer's jwks_uri and kept `ttl`. An unknown kid triggers a
    refetch (key rotation), and a failed fetch is retried, at most once per `retry`, so
    forged kids cannot make us hammer the issuer. A failed refetch keeps the last keys."""

    def __init__(
        self, url: str, ttl: timedelta, retry: timedelta = timedelta(seconds=30), timeout: float = 5
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        loopback = _is_loopback(parts.hostname or "")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("the JWKS URL must be https (http only on the loopback)")
        self.url, self.ttl, self.retry, self.timeout = url, ttl, min(retry, ttl), timeout
        # A loopback address is reached directly, never through a proxy.
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        self._opener = urllib.request.build_opener(*handlers)
        self._lock = threading.Lock()
        self._keys: dict[str, Mapping[str, Any]] | None = None
        self._fetched_at: datetime | None = None
        self._tried_at: datetime | None = None

    def find(self, kid: str, now: datetime) -> Mapping[str, Any] | None:
        with self._lock:
            if self._due(kid, now):
                self._refresh(now)
            if self._keys is None:
                raise KeysUnavailable()
            return self._keys.get(kid)

    def _due(self, kid: str, now: datetime) -> bool:
        if self._tried_at is not None and now < self._tried_at + self.retry:
            return False
        if self._keys is None or self._fetched_at is None:
            return True
        return now >= self._fetched_at + self.ttl or kid not in self._keys

    def _refresh(self, now: datetime) -> None:
        self._tried_at = now
        # The scheme was checked in __init__: https, or http on the loopback.
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(_MAX_JWKS_BYTES + 1)
            if len(body) > _MAX_JWKS_BYTES:
                raise ValueError("JWKS larger than 1 MiB")
            self._keys = parse_jwks(json.loads(body))
            self._fetched_at = now
        except (OSError, ValueError) as exc:
            log.error("JWKS %s unusable: %s", self.url, exc)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------------- verifier


@dataclass(frozen=True, slots=True)
class Verifier:
    """Verifies bearer tokens of the trusted `issuers` (issuer -> its keys) meant for
    `audience`, allowing `leeway` of clock skew and at most `max_lifetime` (exp − iat)."""

    audience: str
    issuers: Mapping[str, KeySource]
    leeway: timedelta = timedelta(seconds=30)
    max_lifetime: timedelta = timedelta(hours=12)
    professions: frozenset[str] = field(default_factory=lambda: frozenset(default_matrix().cells))

    def verify(self, token: str, now: datetime) -> Authenticated:
        """The Authenticated caller of `token` at `now`, or TokenRefused saying why."""
        header, unverified = _peek(token)
        alg, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            accepted = ", ".join(sorted(ALGORITHMS))
            raise TokenRefused("TOKEN_ALGORITHM", f"algorithm not accepted; use {accepted}")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("TOKEN_KEY_UNKNOWN", "the token names no signing key (kid)")
        if not isinstance(issuer, str):
            raise TokenRefused("TOKEN_CLAIM_MISSING", "claim iss is required", "iss")
        source = self.issuers.get(issuer)
        if source is None:
            raise TokenRefused("TOKEN_ISSUER", "the issuer is not trusted here", "iss")
        jwk = source.find(kid, now)
        if jwk is None:
            raise TokenRefused("TOKEN_KEY_UNKNOWN", "the signing key (kid) is not the issuer's")
        claims = self._decode(token, _public_key(jwk, alg), alg, issuer)
        self._check_times(claims, now)
        return actor_from_claims(claims, self.professions)

    def _decode(self, token: str, key: jwt.PyJWK, alg: str, issuer: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=issuer,
                # Times are checked against the caller's `now` below.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(
                "TOKEN_CLAIM_MISSING", f"claim {exc.claim} is required", exc.claim
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("TOKEN_SIGNATURE", "the signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused(
                "TOKEN_AUDIENCE", "the token is not meant for this server", "aud"
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("TOKEN_ISSUER", "the issuer is not trusted here", "iss") from None
        except jwt.InvalidKeyError:
            raise TokenRefused("TOKEN_KEY_UNKNOWN", "the signing key is not usable") from None
        except jwt.PyJWTError:
            raise TokenRefused("TOKEN_MALFORMED", "the token is not a well-formed JWT") from None
        return claims

    def _check_times(self, claims: Mapping[str, Any], now: datetime) -> None:
        at, leeway = now.timestamp(), self.leeway.total_seconds()
        exp, iat = _numeric(claims, "exp"), _numeric(claims, "iat")
        nbf = _numeric(claims, "nbf") if "nbf" in claims else None
        if exp <= iat:
            raise TokenRefused("TOKEN_LIFETIME", "exp must come after iat", "exp")
        if exp - iat > self.max_lifetime.total_seconds():
            hours = self.max_lifetime.total_seconds() / 3600
            raise TokenRefused("TOKEN_LIFETIME", f"lives longer than {hours:g} h", "exp")
        if at >= exp + leeway:
            raise TokenRefused("TOKEN_EXPIRED", "the token expired", "exp")
        if iat > at + leeway:
            raise TokenRefused("TOKEN_NOT_YET_VALID", "the token is issued in the future", "iat")
        if nbf is not None and nbf > at + leeway:
            raise TokenRefused("TOKEN_NOT_YET_VALID", "the token is not valid yet", "nbf")


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, unverified, only to pick the issuer's key (PyJWT parses and
    checks the token itself afterwards; parsing it once more costs ~0.2 ms)."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("a JWT has three parts")
        header, payload = (
            json.loads(urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2]
        )
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        header = payload = None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise TokenRefused("TOKEN_MALFORMED", "the token is not a well-formed JWT")
    return header, payload


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenRefused("TOKEN_CLAIM_INVALID", f"claim {name} must be a NumericDate", name)
    return float(value)


def _public_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """The key bound to `alg`: a key that declares another algorithm, or whose type
    cannot do `alg` (an EC key for RS256…), is refused."""
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise TokenRefused("TOKEN_ALGORITHM", "the algorithm does not match the signing key")
    if jwk.get("kty") != _KEY_TYPE_OF[alg[:2]]:
        raise TokenRefused("TOKEN_ALGORITHM", "the algorithm does not match the signing key")
    try:
        return jwt.PyJWK(dict(jwk), alg)
    except jwt.PyJWTError:
        raise TokenRefused("TOKEN_KEY_UNKNOWN", "the signing key is not usable") from None


# ------------------------------------------------------------------ development issuer


@dataclass(frozen=True, slots=True)
class DevIssuer:
    """The built-in issuer for dev and demo servers: an ES256 key in the data dir."""

    key: ec.EllipticCurvePrivateKey
    kid: str

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def source(self) -> StaticJwks:
        return StaticJwks(parse_jwks(self.jwks()))

    def issue(
        self,
        role: Role,
        claims: Mapping[str, str],
        *,
        audience: str,
        now: datetime,
        ttl: timedelta,
        max_lifetime: timedelta = timedelta(hours=12),
    ) -> str:
        """A token for `role` with the role's `claims` (sub, rpps, ins…), checked as the
        verifier checks them (TokenRefused naming the claim)."""
        if not timedelta(minutes=1) <= ttl <= max_lifetime:
            minutes = max_lifetime.total_seconds() // 60
            raise TokenRefused("TOKEN_LIFETIME", f"ttl must be 1 to {minutes:g} minutes", "exp")
        iat = int(now.timestamp())
        payload: dict[str, Any] = {
            "sub": "dev",  # professionals and patients: their identifier, below
            **claims,
            "iss": DEV_ISSUER,
            "aud": audience,
            "iat": iat,
            "exp": iat + int(ttl.total_seconds()),
            "jti": uuid.uuid4().hex,
            "dmp_role": role.value,
        }
        who = actor_from_claims(payload, frozenset(default_matrix().cells))
        # Identifiers are written in their compact form (spaces and dots removed).
        if role is Role.PROFESSIONAL:
            payload["rpps"] = payload["sub"] = who.actor.id
            if who.actor.organisation:
                payload["finess"] = who.actor.organisation
        elif role is Role.PATIENT:
            payload["ins"] = payload["sub"] = who.actor.id
        elif role is Role.REPRESENTATIVE:
            payload["ins"] = who.represented_ins
        return jwt.encode(payload, self.key, algorithm="ES256", headers={"kid": self.kid})


def open_dev_issuer(data_dir: Path, mode: str) -> DevIssuer:
    """The development issuer of `data_dir`, its key created (mode 0600) on first use.
    Refused (DevIssuerRefused) outside DEV_MODES; ValueError for an unsafe key file."""
    if mode not in DEV_MODES:
        raise DevIssuerRefused(f"the development issuer works in dev or demo mode, not {mode}")
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path} must be readable by its owner only (chmod 600)")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} does not hold a P-256 private key")
    return DevIssuer(key, _thumbprint(key.public_key()))


def _create_key_file(path: Path) -> None:
    """Write a new key next to `path`, then link it in: concurrent first uses agree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(draft, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        draft.unlink()


def _thumbprint(public: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: the key's id, stable across restarts."""
    jwk = json.loads(ECAlgorithm.to_jwk(public))
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
