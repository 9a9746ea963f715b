"""The portal in a real headless Chromium (Debian's) against a live uvicorn server with
its in-process mail worker and a real SMTP server (RULES R19, R16): activation, login
with the code read from the received e-mail, "Mon dossier" and its history, logout; a
form posted without its token, or from elsewhere, is refused; the cookie's flags."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dmp.config import Settings
from dmp.main import create_app
from dmp.services import records
from dmp.services.context import system_ctx
from dmp.services.credentials import Portal
from dmp.storage.db import Database
from tests.personas import ALICE, PHARMACY
from tests.portal import ALICE_EMAIL, ALICE_PASSWORD, KEYS, cheap_passwords, letter_code, register
from tests.smtp_sink import SmtpSink
from tests.web.test_stats_browser import CHROMIUM, CHROMIUM_ARGS

PHONE = {"width": 390, "height": 844}


@dataclass
class Server:
    url: str
    smtp: SmtpSink
    db: Database


@pytest.fixture
def server(sqlite_db: Database, tmp_path: Path) -> Iterator[Server]:
    """The app served by uvicorn on a free loopback port, its mail worker sending every
    100 ms to an SMTP sink; Alice has a record and an activation letter."""
    now = datetime.now(UTC)
    register(sqlite_db, now - timedelta(days=2))
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(sqlite_db, system_ctx(now - timedelta(days=1), "test"), request)
    smtp = SmtpSink().start()
    settings = Settings(
        mode="dev",
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        notify_interval=0.1,
        session_cookie_secure=True,  # Chromium keeps Secure cookies on http://127.0.0.1
    )
    app = create_app(settings, sqlite_db)
    app.state.portal = Portal(KEYS, cheap_passwords())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.02)
    yield Server(f"http://127.0.0.1:{port}", smtp, sqlite_db)
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()
    smtp.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def activate_and_log_in(page: Page, server: Server) -> None:
    code = letter_code(server.db, now=datetime.now(UTC))
    page.goto(f"{server.url}/portail/activation")
    page.get_by_label("Numéro de sécurité sociale (INS)").fill(ALICE.ins)
    page.get_by_label("Code d'activation").fill(code)
    page.get_by_label("Adresse électronique").fill(ALICE_EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(ALICE_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(ALICE_PASSWORD)
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("status")).to_contain_text("Votre compte est activé")

    page.get_by_label("Numéro de sécurité sociale (INS)").fill(ALICE.ins)
    page.get_by_label("Mot de passe").fill(ALICE_PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Code de connexion")).to_be_visible()

    [mail] = server.smtp.wait_for(1)
    assert mail.recipients == [ALICE_EMAIL]
    found = re.search(r"^ {4}([0-9]{6})\r?$", mail.message.get_content(), re.M)
    assert found, mail.message.get_content()
    page.get_by_label("Code à 6 chiffres").fill(found.group(1))
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Mon dossier", exact=True)).to_be_visible()


def test_r19_the_whole_journey_on_a_phone(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    activate_and_log_in(page, server)
    expect(page.locator("#record-status")).to_have_text("Ouvert")
    history = page.get_by_role("table", name="Historique des accès à mon dossier")
    expect(history).to_contain_text("Connexion à votre espace : code vérifié")
    expect(history).to_contain_text("Ouverture du dossier")
    expect(history.locator("tbody tr").first).to_contain_text("Vous")
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the page scrolls sideways on a phone"
    page.screenshot(path="/tmp/portal-mon-dossier.png", full_page=True)

    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["__Host-dmp_session"]
    assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "Strict")
    assert (session["path"], session["domain"]) == ("/", "127.0.0.1")
    assert session["expires"] == -1  # a browser-session cookie

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_contain_text("Vous êtes déconnecté")
    assert "__Host-dmp_session" not in {c["name"] for c in context.cookies()}
    page.goto(f"{server.url}/portail/mon-dossier")
    expect(page.get_by_role("heading", name="Connexion à mon espace DMP")).to_be_visible()

    time.sleep(0.5)  # a late second delivery would show by now
    assert len(server.smtp.received) == 1  # the login code, exactly once
    assert errors == []
    assert all(url.startswith(server.url + "/") for url in requests), requests
    context.close()


def test_r19_a_form_without_its_token_is_refused(browser: Browser, server: Server) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/portail/connexion")
    page.evaluate("document.querySelector('input[name=csrf]').remove()")
    page.get_by_label("Numéro de sécurité sociale (INS)").fill(ALICE.ins)
    page.get_by_label("Mot de passe").fill(ALICE_PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Demande refusée")).to_be_visible()
    page.close()


def test_r19_a_form_posted_from_another_site_is_refused(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    activate_and_log_in(page, server)
    attacker = context.new_page()  # same browser, the holder still logged in
    attacker.set_content(
        f'<form method="post" action="{server.url}/portail/deconnexion">'
        '<input name="csrf" value="guess"><button>Gagner un iPhone</button></form>'
    )
    attacker.get_by_role("button").click()
    expect(attacker.get_by_role("heading", name="Demande refusée")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Mon dossier", exact=True)).to_be_visible()
    context.close()
