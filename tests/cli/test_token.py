"""`dmp token …` (RULES R18): the development issuer prints a token alone on stdout
(so `TOKEN=$(dmp token …)` works), in dev and demo modes only; invalid identifiers and
production mode end with a French message and exit code 1."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from click.testing import Result

from dmp.api.auth import build_verifier
from dmp.config import Settings
from dmp.domain.actors import Actor, Role
from dmp.main import create_app
from dmp.services import records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.services.tokens import DEV_KEY_FILE, Authenticated, TokenRefused
from dmp.storage.db import Database
from dmp.storage.schema import audit_event
from tests.api.conftest import TestClient
from tests.cli.runner import run_dmp
from tests.personas import ALICE, ALICE_BENEFICIARY, CLINIC, DR_BOB_RPPS, LEO, PHARMACY


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dev server's environment: its data dir, default audience and lifetime."""
    for name in ("DMP_OIDC_AUDIENCE", "DMP_TOKEN_MAX_LIFETIME_MINUTES", "DMP_OIDC_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_MODE", "dev")
    return tmp_path / "var"


def token_of(result: Result) -> str:
    """The token a successful command printed: one line, nothing else on stdout."""
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+\n", result.stdout, re.ASCII), result.stdout
    return result.stdout.strip()


def verified(token: str) -> Authenticated:
    """The token as a server with the same settings verifies it."""
    return build_verifier(Settings()).verify(token, datetime.now(UTC))


def test_r18_token_professional_prints_a_token_the_dev_server_accepts(data_dir: Path) -> None:
    token = token_of(
        run_dmp(
            ["token", "professional", "--rpps", DR_BOB_RPPS, "--profession", "10",
             "--specialty", "SM54", "--finess", CLINIC]
        )
    )  # fmt: skip
    who = verified(token)
    assert who.actor == Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "10", CLINIC)
    assert who.specialty == "SM54"
    assert (data_dir / DEV_KEY_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("args", "actor", "represented"),
    [
        (["patient", "--ins", ALICE.ins], Actor(Role.PATIENT, ALICE.ins), None),
        (["representative", "--id", "rep-7", "--ins", LEO.ins],
         Actor(Role.REPRESENTATIVE, "rep-7"), LEO.ins),
        (["operator"], Actor(Role.OPERATOR, "ops-1"), None),
        (["operator", "--id", "ops-2"], Actor(Role.OPERATOR, "ops-2"), None),
        (["insurer-agent", "--id", "cpam75-a12"], Actor(Role.INSURER_AGENT, "cpam75-a12"), None),
        (["professional", "--rpps", DR_BOB_RPPS, "--profession", "21"],
         Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "21"), None),
    ],
)  # fmt: skip
def test_r18_each_token_command_makes_its_actor(
    data_dir: Path, args: list[str], actor: Actor, represented: str | None
) -> None:
    who = verified(token_of(run_dmp(["token", *args])))
    assert (who.actor, who.represented_ins) == (actor, represented)


def test_r18_the_ttl_sets_the_expiry(data_dir: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    token = token_of(run_dmp(["token", "operator", "--ttl-minutes", "5"]))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    assert verified(token).expires_at >= before + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["professional", "--rpps", DR_BOB_RPPS[:-1] + "0", "--profession", "10"],
         ["numéro RPPS invalide", "--rpps"]),
        (["professional", "--rpps", DR_BOB_RPPS, "--profession", "11"],
         ["code profession invalide", "--profession"]),
        (["professional", "--rpps", DR_BOB_RPPS, "--profession", "10", "--finess", "750000011"],
         ["numéro FINESS invalide", "--finess"]),
        (["professional", "--rpps", DR_BOB_RPPS, "--profession", "10", "--specialty", "s m"],
         ["code spécialité invalide", "--specialty"]),
        (["patient", "--ins", ALICE.ins[:13] + "00"], ["INS invalide", "--ins"]),
        (["representative", "--id", "rep 7", "--ins", LEO.ins], ["identifiant invalide", "--id"]),
        (["operator", "--ttl-minutes", "721"], ["durée de validité invalide", "--ttl-minutes"]),
        (["professional", "--rpps", "[red]1", "--profession", "10"],
         ["numéro RPPS invalide", "got '[red]1'"]),  # shown as typed, not as markup
    ],
)  # fmt: skip
def test_r18_invalid_values_exit_1_with_a_french_message(
    data_dir: Path, args: list[str], words: list[str]
) -> None:
    result = run_dmp(["token", *args])
    assert result.exit_code == 1
    assert result.stdout == ""
    message = " ".join(result.stderr.split())  # rich may wrap long lines
    assert message.startswith("Refusé")
    for word in words:
        assert word in message


def test_r18_token_commands_are_refused_in_production(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_MODE", "production")
    result = run_dmp(["token", "operator"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "mode dev ou demo" in " ".join(result.stderr.split())
    assert not (data_dir / DEV_KEY_FILE).exists()


def test_r18_the_token_a_dev_server_accepted_is_refused_once_it_runs_in_production(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = token_of(run_dmp(["token", "operator"]))
    monkeypatch.setenv("DMP_MODE", "production")
    with pytest.raises(TokenRefused) as refused:
        verified(token)
    assert refused.value.code == "TOKEN_ISSUER"


def test_r16_r18_a_cli_token_authenticates_api_calls_in_the_audit_trail(
    data_dir: Path, db: Database
) -> None:
    opened = datetime(2025, 11, 6, 10, 0, tzinfo=UTC)
    load_beneficiaries_batch(db, system_ctx(opened), [ALICE_BENEFICIARY], "test")
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(opened), request)
    token = token_of(run_dmp(["token", "patient", "--ins", ALICE.ins]))
    with TestClient(create_app(Settings(), db=db)) as client:
        response = client.get(
            f"/api/records/{ALICE.ins}", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    with db.read() as conn:
        [body] = conn.execute(
            audit_event.select()
            .with_only_columns(audit_event.c.event)
            .where(audit_event.c.action == "record.read")
        ).scalars()
    event = json.loads(body)
    assert (event["actor_role"], event["actor_id"]) == ("patient", ALICE.ins)
