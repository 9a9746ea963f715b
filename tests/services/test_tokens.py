"""Bearer tokens (RULES R18): only a trusted issuer's asymmetric signature, meant for
us, within its lifetime and with valid identifiers makes an Actor; everything else is
refused with a stable code naming the claim. The development issuer works in dev and
demo modes only. Keys come from a JWKS file, a JWKS URL (a real HTTP server on the
loopback here) or the development key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from dmp.domain.actors import Actor, Role
from dmp.services.tokens import (
    DEV_ISSUER,
    DEV_KEY_FILE,
    REQUIRED_CLAIMS,
    Authenticated,
    DevIssuerRefused,
    KeysUnavailable,
    RemoteJwks,
    StaticJwks,
    TokenRefused,
    Verifier,
    load_jwks_file,
    open_dev_issuer,
    parse_jwks,
)
from tests.personas import ALICE, CLINIC, DR_BOB_RPPS, LEO

ISSUER = "https://auth.esante.example/realms/psc"  # never contacted: keys are local
AUDIENCE = "dmp-test"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
INTRUDER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# Builders shared with tests/api/test_auth.py and tests/cli/test_token.py.


def public_jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    """The public JWK of a private `key`, named `kid`."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    else:
        jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, **extra}


JWKS = {
    "keys": [
        public_jwk(RSA_KEY, "rsa-1"),
        public_jwk(RSA_KEY, "rsa-rs256", alg="RS256"),
        public_jwk(EC_KEY, "ec-1", alg="ES256", use="sig"),
        public_jwk(ED_KEY, "ed-1"),
    ]
}


def claims_at(now: datetime, **changes: Any) -> dict[str, Any]:
    """Dr Bob's claims (a GP at the clinic), issued a minute before `now`, valid 1 h;
    a change to None removes the claim."""
    iat = int(now.timestamp()) - 60
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": iat,
        "exp": iat + 3600,
        "sub": "f:psc:bob",
        "jti": "jti-1",
        "dmp_role": "professional",
        "rpps": DR_BOB_RPPS,
        "profession": "10",
        "specialty": "SM54",
        "finess": CLINIC,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def claims(**changes: Any) -> dict[str, Any]:
    return claims_at(NOW, **changes)


def sign(
    payload: dict[str, Any], key: Any = RSA_KEY, alg: str = "RS256", kid: str | None = "rsa-1"
) -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token written by hand: unsigned (`alg=none`) or HMAC-signed with `secret`."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{b64(signature)}"


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def tamper_payload(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64(json.dumps({**data, **changes}).encode())}.{signature}"


def tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def refusal_cases(now: datetime = NOW) -> list[Any]:
    """(token, code, claim) for every way a token must be refused, at `now`."""

    def claims(**changes: Any) -> dict[str, Any]:
        return claims_at(now, **changes)

    good = claims()
    n = int(now.timestamp())
    return [
        pytest.param(forge({"alg": "none", "kid": "rsa-1"}, good, None), "TOKEN_ALGORITHM", None,
                     id="alg-none"),
        pytest.param(forge({"alg": "HS256", "kid": "rsa-1"}, good, public_pem(RSA_KEY)),
                     "TOKEN_ALGORITHM", None, id="hs256-key-confusion-public-key-as-secret"),
        pytest.param(forge({"alg": "HS256", "kid": "rsa-1"}, good, b"secret"), "TOKEN_ALGORITHM",
                     None, id="hs256"),
        pytest.param(sign(claims(iss="https://evil.example")), "TOKEN_ISSUER", "iss",
                     id="wrong-issuer"),
        pytest.param(sign(claims(aud="another-service")), "TOKEN_AUDIENCE", "aud",
                     id="wrong-audience"),
        pytest.param(sign(claims(iat=n - 3600, exp=n - 31)), "TOKEN_EXPIRED", "exp",
                     id="expired-beyond-leeway"),
        pytest.param(sign(claims(nbf=n + 60)), "TOKEN_NOT_YET_VALID", "nbf", id="not-yet-valid"),
        pytest.param(sign(claims(iat=n + 120, exp=n + 600)), "TOKEN_NOT_YET_VALID", "iat",
                     id="issued-in-the-future"),
        pytest.param(sign(claims(iat=n - 60, exp=n - 60 + 12 * 3600 + 1)), "TOKEN_LIFETIME", "exp",
                     id="lives-over-12-hours"),
        pytest.param(sign(claims(iat=n, exp=n)), "TOKEN_LIFETIME", "exp", id="exp-not-after-iat"),
        pytest.param(sign(claims(exp="tomorrow")), "TOKEN_CLAIM_INVALID", "exp",
                     id="exp-not-a-number"),
        pytest.param(sign(claims(), kid="rsa-9"), "TOKEN_KEY_UNKNOWN", None, id="unknown-kid"),
        pytest.param(sign(claims(), kid=None), "TOKEN_KEY_UNKNOWN", None, id="no-kid"),
        pytest.param(sign(claims(), key=INTRUDER_KEY), "TOKEN_SIGNATURE", None, id="other-key"),
        pytest.param(tamper_payload(sign(claims()), dmp_role="operator"), "TOKEN_SIGNATURE", None,
                     id="tampered-payload"),
        pytest.param(tamper_signature(sign(claims())), "TOKEN_SIGNATURE", None,
                     id="tampered-signature"),
        pytest.param(sign(claims(), key=EC_KEY, alg="ES256", kid="rsa-1"), "TOKEN_ALGORITHM", None,
                     id="algorithm-of-another-key-type"),
        pytest.param(sign(claims(), alg="PS256", kid="ec-1"), "TOKEN_ALGORITHM", None,
                     id="algorithm-the-key-does-not-declare"),
        pytest.param(sign(claims(), alg="PS256", kid="rsa-rs256"), "TOKEN_ALGORITHM", None,
                     id="rsa-algorithm-the-rsa-key-does-not-declare"),
        pytest.param("not.a.token", "TOKEN_MALFORMED", None, id="garbage"),
        pytest.param(sign(claims(dmp_role="system")), "TOKEN_CLAIM_INVALID", "dmp_role",
                     id="role-system-is-never-asserted"),
        pytest.param(sign(claims(dmp_role="anonymous")), "TOKEN_CLAIM_INVALID", "dmp_role",
                     id="role-anonymous"),
        pytest.param(sign(claims(dmp_role="doctor")), "TOKEN_CLAIM_INVALID", "dmp_role",
                     id="role-unknown"),
        pytest.param(sign(claims(sub="x" * 65)), "TOKEN_CLAIM_INVALID", "sub", id="sub-too-long"),
        pytest.param(sign(claims(rpps=DR_BOB_RPPS[:-1] + "0")), "TOKEN_CLAIM_INVALID", "rpps",
                     id="rpps-bad-luhn-key"),
        pytest.param(sign(claims(rpps=None)), "TOKEN_CLAIM_MISSING", "rpps", id="rpps-missing"),
        pytest.param(sign(claims(rpps=10000000017)), "TOKEN_CLAIM_INVALID", "rpps",
                     id="rpps-not-text"),
        pytest.param(sign(claims(profession="99")), "TOKEN_CLAIM_INVALID", "profession",
                     id="profession-unknown"),
        pytest.param(sign(claims(profession=None)), "TOKEN_CLAIM_MISSING", "profession",
                     id="profession-missing"),
        pytest.param(sign(claims(specialty="médecine générale")), "TOKEN_CLAIM_INVALID",
                     "specialty", id="specialty-not-a-code"),
        pytest.param(sign(claims(finess="750000011")), "TOKEN_CLAIM_INVALID", "finess",
                     id="finess-bad-key"),
        pytest.param(sign(claims(dmp_role="patient", ins=ALICE.ins[:13] + "00")),
                     "TOKEN_CLAIM_INVALID", "ins", id="patient-ins-bad-key"),
        pytest.param(sign(claims(dmp_role="patient")), "TOKEN_CLAIM_MISSING", "ins",
                     id="patient-ins-missing"),
        pytest.param(sign(claims(dmp_role="representative")), "TOKEN_CLAIM_MISSING", "ins",
                     id="representative-without-the-minor"),
        *[
            pytest.param(sign(claims(**{name: None})), "TOKEN_CLAIM_MISSING", name,
                         id=f"missing-{name}")
            for name in REQUIRED_CLAIMS
        ],
    ]  # fmt: skip


def verifier(**changes: Any) -> Verifier:
    return Verifier(AUDIENCE, {ISSUER: StaticJwks(parse_jwks(JWKS))}, **changes)


# --------------------------------------------------------------------- verification


def test_r18_a_professional_token_makes_the_professional_actor() -> None:
    who = verifier().verify(sign(claims()), NOW)
    assert who.actor == Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "10", CLINIC)
    assert (who.specialty, who.issuer, who.token_id) == ("SM54", ISSUER, "jti-1")
    assert who.expires_at == datetime.fromtimestamp(claims()["exp"], UTC)


@pytest.mark.parametrize(
    ("changes", "actor", "represented"),
    [
        ({"specialty": None, "finess": None}, Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "10"), None),
        ({"dmp_role": "patient", "ins": ALICE.ins}, Actor(Role.PATIENT, ALICE.ins), None),
        ({"dmp_role": "representative", "sub": "rep-7", "ins": LEO.ins},
         Actor(Role.REPRESENTATIVE, "rep-7"), LEO.ins),
        ({"dmp_role": "operator", "sub": "ops-1"}, Actor(Role.OPERATOR, "ops-1"), None),
        ({"dmp_role": "insurer_agent", "sub": "cpam75-a12"},
         Actor(Role.INSURER_AGENT, "cpam75-a12"), None),
        ({"dmp_role": "complementary_insurer", "sub": "mutuelle-1"},
         Actor(Role.COMPLEMENTARY_INSURER, "mutuelle-1"), None),
    ],
)  # fmt: skip
def test_r18_each_role_maps_to_its_actor(
    changes: dict[str, Any], actor: Actor, represented: str | None
) -> None:
    who = verifier().verify(sign(claims(**changes)), NOW)
    assert (who.actor, who.represented_ins) == (actor, represented)


@pytest.mark.parametrize(
    ("key", "alg", "kid"),
    [(RSA_KEY, "RS256", "rsa-1"), (RSA_KEY, "PS256", "rsa-1"), (RSA_KEY, "RS512", "rsa-1"),
     (EC_KEY, "ES256", "ec-1"), (ED_KEY, "EdDSA", "ed-1")],
)  # fmt: skip
def test_r18_asymmetric_algorithms_of_the_allow_list_verify(key: Any, alg: str, kid: str) -> None:
    assert verifier().verify(sign(claims(), key, alg, kid), NOW).actor.id == DR_BOB_RPPS


@pytest.mark.parametrize(("token", "code", "claim"), refusal_cases())
def test_r18_tokens_are_refused_with_the_reason(token: str, code: str, claim: str | None) -> None:
    with pytest.raises(TokenRefused) as refused:
        verifier().verify(token, NOW)
    assert (refused.value.code, refused.value.claim) == (code, claim)
    assert refused.value.reason


def test_r18_clock_skew_within_the_leeway_is_tolerated() -> None:
    n = int(NOW.timestamp())
    assert verifier().verify(sign(claims(iat=n - 3600, exp=n - 29)), NOW)
    assert verifier().verify(sign(claims(nbf=n + 20, iat=n + 20, exp=n + 600)), NOW)
    with pytest.raises(TokenRefused, match="expired"):
        verifier(leeway=timedelta(0)).verify(sign(claims(iat=n - 3600, exp=n - 1)), NOW)


def test_r18_the_maximum_lifetime_is_configurable() -> None:
    n = int(NOW.timestamp())
    twelve_hours = sign(claims(iat=n - 60, exp=n - 60 + 12 * 3600))
    assert verifier().verify(twelve_hours, NOW)
    with pytest.raises(TokenRefused, match="1 h") as refused:
        verifier(max_lifetime=timedelta(hours=1)).verify(twelve_hours, NOW)
    assert refused.value.code == "TOKEN_LIFETIME"


def test_r18_an_audience_list_naming_us_is_accepted() -> None:
    assert verifier().verify(sign(claims(aud=["other", AUDIENCE])), NOW)


def test_r18_keys_named_in_the_token_headers_are_never_fetched() -> None:
    token = jwt.encode(
        claims(),
        INTRUDER_KEY,
        algorithm="RS256",
        headers={"kid": "intruder", "jku": "https://evil.example/jwks", "jwk": JWKS["keys"][0]},
    )
    with pytest.raises(TokenRefused) as refused:
        verifier().verify(token, NOW)
    assert refused.value.code == "TOKEN_KEY_UNKNOWN"


def test_r18_rsa_keys_shorter_than_2048_bits_are_refused() -> None:
    # Deliberately weak: the verifier must refuse it.
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        token = sign(claims(), short, kid="short")
    keys = StaticJwks(parse_jwks({"keys": [public_jwk(short, "short")]}))
    with pytest.raises(TokenRefused) as refused:
        Verifier(AUDIENCE, {ISSUER: keys}).verify(token, NOW)
    assert refused.value.code == "TOKEN_KEY_UNKNOWN"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(token=st.text(max_size=200))
def test_r18_any_text_is_refused_never_crashes(token: str) -> None:
    with pytest.raises(TokenRefused):
        verifier().verify(token, NOW)


@settings(max_examples=150, deadline=None)
@given(
    header=st.fixed_dictionaries(
        {}, optional={"alg": JSON | st.just("RS256"), "kid": JSON | st.just("rsa-1")}
    ),
    payload=st.fixed_dictionaries(
        {"iss": JSON | st.just(ISSUER)},
        optional={n: JSON for n in [*REQUIRED_CLAIMS[1:], "nbf", "rpps", "ins"]},
    ),
)
def test_r18_any_json_in_a_token_is_refused_never_crashes(
    header: dict[str, Any], payload: dict[str, Any]
) -> None:
    unsigned = forge(header, payload, None)
    signing_input = unsigned.rsplit(".", 1)[0]
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), RSA_KEY)
    for token in (unsigned, unsigned + "c2ln", f"{signing_input}.{b64(signature)}"):
        with pytest.raises(TokenRefused):
            verifier().verify(token, NOW)


# ------------------------------------------------------------------------- key sets


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "list of keys"),
        ({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}, "no kid"),
        ({"keys": [{"kid": "s", "kty": "oct", "k": "c2VjcmV0"}]}, "kty"),
        ({"keys": [{**public_jwk(RSA_KEY, "p"), "d": "AQAB"}]}, "private key material"),
    ],
)
def test_r18_an_unsafe_jwks_is_refused_loudly(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_jwks(document)


def test_r18_encryption_keys_of_a_jwks_are_skipped() -> None:
    keys = parse_jwks({"keys": [public_jwk(RSA_KEY, "enc", use="enc"), public_jwk(EC_KEY, "s")]})
    assert set(keys) == {"s"}


def test_r18_a_jwks_file_gives_the_issuer_keys(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    keys = load_jwks_file(path)
    assert Verifier(AUDIENCE, {ISSUER: keys}).verify(sign(claims()), NOW).actor.id == DR_BOB_RPPS


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS, counting its requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = JWKS
        self.status = 200
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()
    server.thread.join()


def test_r18_jwks_url_is_fetched_once_and_kept_for_its_ttl(jwks_server: JwksServer) -> None:
    keys = RemoteJwks(jwks_server.url, ttl=timedelta(minutes=5))
    verify = Verifier(AUDIENCE, {ISSUER: keys}).verify
    assert verify(sign(claims()), NOW).actor.id == DR_BOB_RPPS
    assert verify(sign(claims(), EC_KEY, "ES256", "ec-1"), NOW + timedelta(minutes=4))
    assert jwks_server.hits == 1
    jwks_server.document = {"keys": [public_jwk(EC_KEY, "ec-1")]}  # the issuer dropped rsa-1
    with pytest.raises(TokenRefused, match="kid"):
        verify(sign(claims_at(NOW + timedelta(minutes=5))), NOW + timedelta(minutes=5))
    assert jwks_server.hits == 2


def test_r18_an_unknown_kid_refetches_at_most_once_per_retry(jwks_server: JwksServer) -> None:
    keys = RemoteJwks(jwks_server.url, ttl=timedelta(hours=1), retry=timedelta(seconds=30))
    assert keys.find("rsa-1", NOW) is not None
    jwks_server.document = {"keys": [*JWKS["keys"], public_jwk(INTRUDER_KEY, "rsa-2")]}
    assert keys.find("forged", NOW + timedelta(seconds=10)) is None
    assert keys.find("rsa-2", NOW + timedelta(seconds=20)) is None  # too soon to refetch
    assert jwks_server.hits == 1
    assert keys.find("rsa-2", NOW + timedelta(seconds=31)) is not None  # rotation picked up
    assert jwks_server.hits == 2


def test_r18_an_unreachable_jwks_url_makes_keys_unavailable(jwks_server: JwksServer) -> None:
    jwks_server.status = 500
    keys = RemoteJwks(jwks_server.url, ttl=timedelta(minutes=5), retry=timedelta(seconds=30))
    with pytest.raises(KeysUnavailable):
        keys.find("rsa-1", NOW)
    jwks_server.status = 200
    with pytest.raises(KeysUnavailable):
        keys.find("rsa-1", NOW + timedelta(seconds=5))  # not retried yet
    assert jwks_server.hits == 1
    assert keys.find("rsa-1", NOW + timedelta(seconds=30)) is not None
    jwks_server.status = 500
    assert keys.find("rsa-1", NOW + timedelta(minutes=6)) is not None  # the last keys are kept
    assert jwks_server.hits == 3


@pytest.mark.parametrize("url", ["http://auth.esante.example/jwks", "file:///etc/passwd"])
def test_r18_a_jwks_url_must_be_https_off_the_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        RemoteJwks(url, ttl=timedelta(minutes=5))


# ----------------------------------------------------------------- development issuer


def test_r18_the_dev_issuer_keeps_its_key_private_in_the_data_dir(tmp_path: Path) -> None:
    first = open_dev_issuer(tmp_path / "var", "dev")
    path = tmp_path / "var" / DEV_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert open_dev_issuer(tmp_path / "var", "demo").kid == first.kid
    assert [p.name for p in path.parent.iterdir()] == [DEV_KEY_FILE]  # no draft left


def test_r18_concurrent_first_uses_share_one_dev_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        kids = set(pool.map(lambda _: open_dev_issuer(tmp_path, "dev").kid, range(8)))
    assert len(kids) == 1


def test_r18_the_dev_issuer_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(DevIssuerRefused, match="dev or demo"):
        open_dev_issuer(tmp_path, "production")
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_r18_a_dev_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    open_dev_issuer(tmp_path, "dev")
    os.chmod(tmp_path / DEV_KEY_FILE, 0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        open_dev_issuer(tmp_path, "dev")


def dev_verify(issuer_dir: Path, token: str) -> Authenticated:
    keys = open_dev_issuer(issuer_dir, "dev").source()
    return Verifier(AUDIENCE, {DEV_ISSUER: keys}).verify(token, NOW)


def test_r18_dev_tokens_verify_with_the_dev_key(tmp_path: Path) -> None:
    issuer = open_dev_issuer(tmp_path, "dev")
    token = issuer.issue(
        Role.PROFESSIONAL,
        {"rpps": DR_BOB_RPPS[:4] + " " + DR_BOB_RPPS[4:], "profession": "21", "finess": CLINIC},
        audience=AUDIENCE,
        now=NOW,
        ttl=timedelta(minutes=60),
    )
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    who = dev_verify(tmp_path, token)
    assert who.actor == Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "21", CLINIC)
    assert who.expires_at == NOW + timedelta(minutes=60)
    token = issuer.issue(
        Role.REPRESENTATIVE, {"sub": "rep-7", "ins": LEO.ins}, audience=AUDIENCE, now=NOW,
        ttl=timedelta(minutes=5),
    )  # fmt: skip
    assert dev_verify(tmp_path, token).represented_ins == LEO.ins


@pytest.mark.parametrize(
    ("role", "values", "claim"),
    [
        (Role.PROFESSIONAL, {"rpps": "123", "profession": "10"}, "rpps"),
        (Role.PROFESSIONAL, {"rpps": DR_BOB_RPPS, "profession": "11"}, "profession"),
        (Role.PATIENT, {"ins": "1" * 15}, "ins"),
        (Role.OPERATOR, {"sub": "two words"}, "sub"),
    ],
)
def test_r18_the_dev_issuer_checks_claims_as_the_verifier_does(
    tmp_path: Path, role: Role, values: dict[str, str], claim: str
) -> None:
    issuer = open_dev_issuer(tmp_path, "dev")
    with pytest.raises(TokenRefused) as refused:
        issuer.issue(role, values, audience=AUDIENCE, now=NOW, ttl=timedelta(minutes=5))
    assert refused.value.claim == claim


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(hours=12, minutes=1)])
def test_r18_the_dev_issuer_keeps_the_lifetime_bounded(tmp_path: Path, ttl: timedelta) -> None:
    issuer = open_dev_issuer(tmp_path, "dev")
    with pytest.raises(TokenRefused, match="ttl"):
        issuer.issue(Role.OPERATOR, {"sub": "ops-1"}, audience=AUDIENCE, now=NOW, ttl=ttl)


def test_r18_a_verifier_without_the_dev_issuer_refuses_dev_tokens(tmp_path: Path) -> None:
    issuer = open_dev_issuer(tmp_path, "dev")
    token = issuer.issue(
        Role.OPERATOR, {"sub": "ops-1"}, audience=AUDIENCE, now=NOW, ttl=timedelta(minutes=5)
    )
    with pytest.raises(TokenRefused) as refused:
        verifier().verify(token, NOW)
    assert (refused.value.code, refused.value.claim) == ("TOKEN_ISSUER", "iss")
    # Nor can the dev key speak for the configured issuer.
    forged = sign(claims(), issuer.key, "ES256", issuer.kid)
    with pytest.raises(TokenRefused) as refused:
        verifier().verify(forged, NOW)
    assert refused.value.code == "TOKEN_KEY_UNKNOWN"
