"""`dmp notify` with Typer's CliRunner, delivering to a real SMTP server on the
loopback, on SQLite and PostgreSQL (RULES R17; issue 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from dmp.domain.actors import Actor, Role
from dmp.domain.notifications import NoticeKind, NoticeStatus
from dmp.services import contacts, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.contacts import ContactRequest
from dmp.services.context import Ctx, system_ctx
from dmp.storage import outbox
from dmp.storage.db import Database
from tests.cli.runner import run_dmp
from tests.personas import ALICE, ALICE_BENEFICIARY, PHARMACY
from tests.services.test_notifications import SmtpSink, free_port

Dmp = Callable[..., Result]
ALICE_EMAIL = "alice.martin@example.org"


@pytest.fixture
def dmp(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dmp:
    """`dmp …` against the test database (schema upgraded), SMTP settings unset."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    for name in ("HOST", "PORT", "STARTTLS", "SSL", "USER", "PASSWORD", "FROM", "CA_FILE"):
        monkeypatch.delenv(f"DMP_SMTP_{name}", raising=False)

    def invoke(*args: str) -> Result:
        return run_dmp(args)

    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    return invoke


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    monkeypatch.setenv("DMP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DMP_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("DMP_SMTP_FROM", "DMP <ne-pas-repondre@dmp.example.org>")
    yield sink
    sink.stop()


@pytest.fixture
def alice_reachable(db: Database) -> Database:
    now = datetime.now(UTC)
    load_beneficiaries_batch(db, system_ctx(now), [ALICE_BENEFICIARY], "test")
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(now), request)
    alice = Ctx(Actor(Role.PATIENT, ALICE.ins), now, "test")
    contacts.set_contact(db, alice, ALICE.ins, ContactRequest(ALICE_EMAIL))
    return db


def test_notify_once_delivers_the_queued_notice_to_the_smtp_server(
    dmp: Dmp, smtp: SmtpSink, alice_reachable: Database
) -> None:
    closed = dmp("close", ALICE.ins, "--reason", "je déménage")
    assert closed.exit_code == 0, closed.output

    result = dmp("notify", "--once")
    assert result.exit_code == 0, result.output
    assert "1 envoyé(s), 0 à réessayer, 0 en échec" in result.stdout
    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert got.recipients == [ALICE_EMAIL]
    assert got.sender == "ne-pas-repondre@dmp.example.org"
    assert got.message["Subject"] == "DMP : votre dossier a été fermé"
    with alice_reachable.read() as conn:
        [notice] = outbox.find_notices(conn, ALICE.ins)
    assert (notice.kind, notice.status) == (NoticeKind.RECORD_CLOSED, NoticeStatus.SENT)
    assert got.message["Message-ID"] == notice.message_id

    again = dmp("notify", "--once")
    assert again.exit_code == 0, again.output
    assert "0 envoyé(s)" in again.stdout
    assert len(smtp.received) == 1


def test_notify_once_with_the_server_down_keeps_the_notice_for_later(
    dmp: Dmp, alice_reachable: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DMP_SMTP_PORT", str(free_port()))
    assert dmp("close", ALICE.ins, "--reason", "fin").exit_code == 0
    result = dmp("notify", "--once")
    assert result.exit_code == 0, result.output
    assert "0 envoyé(s), 1 à réessayer, 0 en échec" in result.stdout
    with alice_reachable.read() as conn:
        [notice] = outbox.find_notices(conn, ALICE.ins)
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)


def test_notify_without_an_smtp_host_is_refused(dmp: Dmp) -> None:
    result = dmp("notify", "--once")
    assert result.exit_code == 1
    assert "DMP_SMTP_HOST" in result.stderr


def test_notify_refuses_starttls_and_implicit_tls_together(
    dmp: Dmp, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_SMTP_STARTTLS", "true")
    monkeypatch.setenv("DMP_SMTP_SSL", "true")
    result = dmp("notify", "--once")
    assert result.exit_code == 1
    assert "not both" in result.stderr


def test_notify_runs_until_sigterm_delivering_as_notices_come(
    dmp: Dmp, smtp: SmtpSink, alice_reachable: Database
) -> None:
    """The foreground worker, as an operator runs it: a real process, stopped by SIGTERM."""
    env = {**os.environ, "DMP_NOTIFY_INTERVAL": "0.1"}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from dmp.cli.main import app; app()", "notify"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert dmp("close", ALICE.ins, "--reason", "fin").exit_code == 0
        deadline = time.monotonic() + 20
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(smtp.received) == 1
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, err
    assert "Envoi des avis" in out
    assert len(smtp.received) == 1
