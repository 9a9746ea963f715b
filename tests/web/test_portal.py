"""The portal over HTTP (TestClient), on SQLite and PostgreSQL (RULES R19, R16): the pages
in French, forms refused without their CSRF token or from another origin, the cookie's
flags, sessions ending, "Mon dossier" showing who accessed the record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from dmp.config import Settings
from dmp.domain.actors import Actor, Role
from dmp.domain.notifications import NoticeKind
from dmp.main import create_app
from dmp.services import care_team, records
from dmp.services.context import Ctx, system_ctx
from dmp.services.credentials import Portal
from dmp.storage.db import Database
from dmp.web.portal import deps
from tests.personas import ALICE, DR_BOB_RPPS, PHARMACY, ZOE
from tests.portal import (
    ALICE_EMAIL,
    ALICE_PASSWORD,
    KEYS,
    NOW,
    activate,
    cheap_passwords,
    last_code,
    letter_code,
    messages,
    register,
    trail,
)

ORIGIN = "http://testserver"


@dataclass
class Clock:
    now: datetime = NOW

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def portal_app(db: Database, tmp_path: Path, clock: Clock, *, secure: bool = False) -> FastAPI:
    settings = Settings(mode="dev", data_dir=tmp_path, session_cookie_secure=secure)
    app = create_app(settings, db)
    app.state.portal = Portal(KEYS, cheap_passwords())
    app.dependency_overrides[deps.now] = lambda: clock.now
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alice(db: Database) -> Database:
    """Alice is registered, her record was opened at a pharmacy; no account yet."""
    register(db)
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(NOW - timedelta(days=1), "test"), request)
    return db


@pytest.fixture
def client(alice: Database, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    app = portal_app(alice, tmp_path, clock)
    with TestClient(app, headers={"Origin": ORIGIN}, follow_redirects=False) as test_client:
        yield test_client


def csrf(response: Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text
    return found.group(1)


def text(response: Response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.text))


def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> Response:
    """Open `page`, then send its form to `action` with the page's token."""
    token = csrf(client.get(page))
    return client.post(action, data={"csrf": token, **data})


def log_in(client: TestClient, db: Database) -> Response:
    started = post_form(
        client,
        "/portail/connexion",
        "/portail/connexion",
        {"identifier": ALICE.ins, "password": ALICE_PASSWORD},
    )
    assert (started.status_code, started.headers["location"]) == (303, "/portail/code?par=email")
    return post_form(client, "/portail/code", "/portail/code", {"code": last_code(db)})


@pytest.fixture
def signed_in(client: TestClient, alice: Database) -> TestClient:
    activate(alice, Portal(KEYS, cheap_passwords()))
    done = log_in(client, alice)
    assert done.headers["location"] == "/portail/mon-dossier"
    return client


# --- the journey ---


def test_r19_activation_then_login_with_the_emailed_code_opens_mon_dossier(
    client: TestClient, alice: Database
) -> None:
    code = letter_code(alice)
    activated = post_form(
        client,
        "/portail/activation",
        "/portail/activation",
        {
            "identifier": ALICE.ins,
            "code": code.lower(),
            "email": ALICE_EMAIL,
            "password": ALICE_PASSWORD,
            "confirmation": ALICE_PASSWORD,
        },
    )
    assert activated.headers["location"] == "/portail/connexion?etat=active"
    assert "Votre compte est activé" in text(client.get(activated.headers["location"]))
    pending = client.cookies.get("dmp_session")
    done = log_in(client, alice)
    assert done.headers["location"] == "/portail/mon-dossier"
    assert client.cookies.get("dmp_session") not in (None, pending)  # rotated at login
    page = client.get("/portail/mon-dossier")
    assert page.status_code == 200
    shown = text(page)
    assert "Ouvert" in shown
    assert "Pharmacie" in shown
    assert "Connexion à votre espace : code vérifié" in shown
    assert "Ouverture du dossier" in shown


def test_r16_mon_dossier_shows_who_which_profession_what_and_the_emergency(
    signed_in: TestClient, alice: Database, clock: Clock
) -> None:
    doctor = Ctx(Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "10"), NOW + timedelta(minutes=1), "test")
    care_team.declare_emergency(alice, doctor, ALICE.ins, "bris_de_glace", "inconsciente")
    page = signed_in.get("/portail/mon-dossier")
    row = next(r for r in re.findall(r"<tr class=\"emergency\">(.*?)</tr>", page.text, re.S))
    cells = [
        unescape(re.sub(r"<[^>]+>", " ", c)).split()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert " ".join(cells[1]) == f"Professionnel de santé (RPPS {DR_BOB_RPPS})"
    assert " ".join(cells[2]) == "Médecin"
    assert " ".join(cells[3]) == "Accès en urgence"
    assert " ".join(cells[5]) == "Oui"
    assert "inconsciente" not in page.text  # the declared reason is not shown in a table row


def test_r19_logout_ends_the_session_for_good(signed_in: TestClient, alice: Database) -> None:
    old = signed_in.cookies.get("dmp_session")
    out = post_form(signed_in, "/portail/mon-dossier", "/portail/deconnexion", {})
    assert out.headers["location"] == "/portail/connexion?etat=deconnecte"
    assert "dmp_session=" in out.headers["set-cookie"]  # dropped
    assert old is not None
    signed_in.cookies.set("dmp_session", old)  # a copy kept by an attacker
    again = signed_in.get("/portail/mon-dossier")
    assert again.headers["location"].startswith("/portail/connexion")
    assert ("account.logout", "success") in [
        (a, o) for a, o, _ in trail(alice, f"record:{ALICE.ins}")
    ]


def test_r19_mon_dossier_needs_a_login(client: TestClient) -> None:
    response = client.get("/portail/mon-dossier")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portail/connexion")
    assert client.get("/portail").headers["location"] == "/portail/connexion"


def test_r19_an_idle_session_sends_back_to_the_login_page(
    signed_in: TestClient, clock: Clock
) -> None:
    clock.advance(timedelta(minutes=29))
    assert signed_in.get("/portail/mon-dossier").status_code == 200
    clock.advance(timedelta(minutes=30))
    response = signed_in.get("/portail/mon-dossier")
    assert response.headers["location"] == "/portail/connexion?etat=expire"
    assert "Votre session a pris fin" in text(signed_in.get(response.headers["location"]))


# --- refusals in French ---


def test_a_malformed_ins_is_named_in_french_next_to_its_field(client: TestClient) -> None:
    response = post_form(
        client, "/portail/connexion", "/portail/connexion", {"identifier": "123", "password": "x"}
    )
    assert response.status_code == 400
    assert "Identifiant invalide" in text(response)
    assert re.search(r'id="identifier"[^>]*aria-invalid="true"', response.text)


def test_r19_wrong_password_and_unknown_identifier_read_the_same(
    client: TestClient, alice: Database
) -> None:
    activate(alice, Portal(KEYS, cheap_passwords()))
    wrong = post_form(
        client,
        "/portail/connexion",
        "/portail/connexion",
        {"identifier": ALICE.ins, "password": "pas-le-bon-mot-de-passe"},
    )
    unknown = post_form(
        client,
        "/portail/connexion",
        "/portail/connexion",
        {"identifier": ZOE.ins, "password": "pas-le-bon-mot-de-passe"},
    )
    assert wrong.status_code == unknown.status_code == 400
    strip = re.compile(r'(name="csrf" value=")[^"]+|(name="identifier"[^>]*value=")[^"]*')
    assert strip.sub("", wrong.text) == strip.sub("", unknown.text)
    assert "Identifiant ou mot de passe incorrect" in text(wrong)


def test_the_code_page_refuses_a_wrong_code_and_keeps_the_session(
    client: TestClient, alice: Database
) -> None:
    activate(alice, Portal(KEYS, cheap_passwords()))
    post_form(
        client,
        "/portail/connexion",
        "/portail/connexion",
        {"identifier": ALICE.ins, "password": ALICE_PASSWORD},
    )
    wrong = "000000" if last_code(alice) != "000000" else "111111"
    refused = post_form(client, "/portail/code", "/portail/code", {"code": wrong})
    assert refused.status_code == 400
    assert "Code incorrect ou expiré" in text(refused)
    done = post_form(client, "/portail/code", "/portail/code", {"code": last_code(alice)})
    assert done.headers["location"] == "/portail/mon-dossier"


# --- CSRF and origin ---


def test_r19_a_post_without_the_csrf_token_is_refused_and_does_nothing(
    client: TestClient, alice: Database
) -> None:
    activate(alice, Portal(KEYS, cheap_passwords()))
    client.get("/portail/connexion")  # the visitor cookie is there; the token is not sent
    events_before = trail(alice, f"record:{ALICE.ins}")
    response = client.post(
        "/portail/connexion", data={"identifier": ALICE.ins, "password": ALICE_PASSWORD}
    )
    assert response.status_code == 403
    assert "Demande refusée" in text(response)
    assert trail(alice, f"record:{ALICE.ins}") == events_before
    assert messages(alice, kind=NoticeKind.LOGIN_CODE) == []


def test_r19_a_token_from_another_visitor_or_another_origin_is_refused(
    client: TestClient, alice: Database, tmp_path: Path, clock: Clock
) -> None:
    with TestClient(portal_app(alice, tmp_path, clock), headers={"Origin": ORIGIN}) as other:
        stolen = csrf(other.get("/portail/connexion"))
    client.get("/portail/connexion")
    assert client.post("/portail/connexion", data={"csrf": stolen}).status_code == 403
    mine = csrf(client.get("/portail/connexion"))
    forged = client.post(
        "/portail/connexion", data={"csrf": mine}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    no_origin = client.post("/portail/connexion", data={"csrf": mine}, headers={"Origin": ""})
    assert no_origin.status_code == 403
    fine = client.post("/portail/connexion", data={"csrf": mine, "identifier": "1"})
    assert fine.status_code == 400  # through the checks, refused by the form itself


def test_r19_logged_in_forms_carry_a_token_bound_to_the_session(
    signed_in: TestClient, alice: Database
) -> None:
    before = csrf(signed_in.get("/portail/connexion"))
    token = csrf(signed_in.get("/portail/mon-dossier"))
    assert token == before  # bound to the session cookie, the same on every page
    refused = signed_in.post("/portail/deconnexion", data={})
    assert refused.status_code == 403
    assert signed_in.get("/portail/mon-dossier").status_code == 200  # still logged in


# --- cookies and headers ---


def test_r19_cookies_are_host_only_secure_httponly_and_strict(
    alice: Database, tmp_path: Path, clock: Clock
) -> None:
    activate(alice, Portal(KEYS, cheap_passwords()))
    app = portal_app(alice, tmp_path, clock, secure=True)
    origin = "https://testserver"
    with TestClient(
        app, base_url=origin, headers={"Origin": origin}, follow_redirects=False
    ) as secure:
        first = secure.get("/portail/connexion")
        visitor = first.headers["set-cookie"]
        assert visitor.startswith("__Host-dmp_csrf=")
        started = secure.post(
            "/portail/connexion",
            data={"csrf": csrf(first), "identifier": ALICE.ins, "password": ALICE_PASSWORD},
        )
        cookie = started.headers["set-cookie"]
        assert cookie.startswith("__Host-dmp_session=")
        for flag in ("Secure", "HttpOnly", "Path=/", "SameSite=strict"):
            assert flag in cookie
            assert flag in visitor
        assert "Domain" not in cookie
        assert "Max-Age" not in cookie  # gone with the browser; the server ends it anyway
        assert first.headers["strict-transport-security"].startswith("max-age=")


def test_portal_pages_are_never_cached_nor_framed(client: TestClient) -> None:
    response = client.get("/portail/connexion")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "same-origin"
    assert "<script" not in response.text  # works without JavaScript


# --- reset and TOTP through the pages ---


def test_r19_password_reset_through_the_pages(signed_in: TestClient, alice: Database) -> None:
    asked = post_form(
        signed_in,
        "/portail/mot-de-passe-oublie",
        "/portail/mot-de-passe-oublie",
        {"identifier": ALICE.ins},
    )
    assert "Si un compte correspond" in text(asked)
    code = last_code(alice, kind=NoticeKind.PASSWORD_RESET)
    new = "une-toute-nouvelle-phrase"
    done = signed_in.post(
        "/portail/reinitialisation",
        data={
            "csrf": csrf(asked),
            "identifier": ALICE.ins,
            "reset_code": code,
            "totp_code": "",
            "password": new,
            "confirmation": new,
        },
    )
    assert done.headers["location"] == "/portail/connexion?etat=reinitialise"
    # Every session ended with the change, this one too.
    assert (
        signed_in.get("/portail/mon-dossier").headers["location"].startswith("/portail/connexion")
    )


def test_r19_totp_enrolment_through_the_pages(
    signed_in: TestClient, alice: Database, clock: Clock
) -> None:
    shown = post_form(signed_in, "/portail/securite", "/portail/securite/totp", {})
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', shown.text)
    assert secret
    uri = re.search(r'id="totp-uri"[^>]*>([^<]+)<', shown.text)
    assert uri
    assert unescape(uri.group(1)).startswith("otpauth://totp/DMP:")
    app = pyotp.TOTP(secret.group(1).replace(" ", ""))
    wrong = signed_in.post(
        "/portail/securite/totp/confirmer", data={"csrf": csrf(shown), "code": "12"}
    )
    assert wrong.status_code == 400
    assert secret.group(1) in wrong.text  # the same key, shown again
    done = signed_in.post(
        "/portail/securite/totp/confirmer",
        data={"csrf": csrf(shown), "code": app.at(clock.now)},
    )
    assert "Votre application d'authentification est activée" in text(done)
    assert "Application d'authentification" in text(signed_in.get("/portail/mon-dossier"))
