"""The HTTP API in-process (TestClient) over the `db` fixture, registry loaded, in dev
mode: tests call it as real callers do, with bearer tokens signed by the development
issuer (RULES R18), one persona each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from dmp.config import Settings
from dmp.domain.actors import Role
from dmp.domain.identity import make_rpps
from dmp.main import create_app
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.services.tokens import open_dev_issuer
from dmp.storage.db import Database
from dmp.storage.schema import representative
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB,
    BOB_BENEFICIARY,
    DR_BOB_RPPS,
    LEO,
    LEO_BENEFICIARY,
    PHARMACY,
)

__all__ = ["TestClient"]

Headers = dict[str, str]

PHARMACIST = make_rpps("1000000021")  # works at PHARMACY
DR_MT = make_rpps("1000000031")  # Alice's médecin traitant, once she names her
DR_STRANGER = make_rpps("1000000041")  # never authorised by anyone
INSURER_AGENT = "agent-751A01"
LEO_PARENT = "parent-leo"  # Léo's legal representative, as they authenticate
RECORD = f"/api/records/{ALICE.ins}"


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    load_beneficiaries_batch(
        db,
        system_ctx(datetime(2018, 11, 1, tzinfo=UTC)),
        [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY],
        "test",
    )
    with TestClient(create_app(Settings(mode="dev", data_dir=tmp_path), db=db)) as c:
        yield c


class Bearer:
    """Authorization headers for the personas, signed by the development issuer the
    app trusts (the key in its data dir), valid for a few minutes from now."""

    def __init__(self, data_dir: Path, audience: str) -> None:
        self._issuer = open_dev_issuer(data_dir, "dev")
        self._audience = audience

    def token(self, role: Role, **claims: str) -> Headers:
        token = self._issuer.issue(
            role,
            claims,
            audience=self._audience,
            now=datetime.now(UTC),
            ttl=timedelta(minutes=10),
        )
        return {"Authorization": f"Bearer {token}"}

    def holder(self, ins: str = ALICE.ins) -> Headers:
        """The patient logged in for their own INS (Alice unless said otherwise)."""
        return self.token(Role.PATIENT, ins=ins)

    def professional(
        self, rpps: str = DR_BOB_RPPS, profession: str = "10", finess: str | None = None
    ) -> Headers:
        claims = {"rpps": rpps, "profession": profession}
        return self.token(Role.PROFESSIONAL, **claims, **({"finess": finess} if finess else {}))

    def pharmacist(self) -> Headers:
        """A pharmacist (profession 21) of PHARMACY: opens records for it."""
        return self.professional(PHARMACIST, "21", PHARMACY)

    def insurer_agent(self) -> Headers:
        return self.token(Role.INSURER_AGENT, sub=INSURER_AGENT)

    def representative(self, ins: str = LEO.ins, who: str = LEO_PARENT) -> Headers:
        return self.token(Role.REPRESENTATIVE, sub=who, ins=ins)


@pytest.fixture
def bearer(client: TestClient, tmp_path: Path) -> Bearer:
    return Bearer(tmp_path, client.app.state.settings.oidc_audience)  # type: ignore[attr-defined]


# Callers who may not know whether Alice has a record (RULES R8, R15): whatever they
# ask about it, they get what they would get if it did not exist.
INTRUDERS: dict[str, Callable[[Bearer], Headers]] = {
    "anonymous": lambda b: {},
    "another patient": lambda b: b.holder(BOB.ins),
    "unauthorised professional": lambda b: b.professional(DR_STRANGER),
    "insurer agent": Bearer.insurer_agent,
}


def same_as_missing(response: Any, missing: Any) -> None:
    """`response` is the 404 `missing` was — the answer for a record that does not
    exist — byte for byte: no field, header or count tells them apart."""
    issue = outcome(response, 404)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "not-found",
        "RECORD_NOT_FOUND",
        ["ins"],
    )
    assert missing.status_code == 404, missing.text
    assert response.content == missing.content
    assert sorted(response.headers.items()) == sorted(missing.headers.items())


def opening(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    """The body of a pharmacy opening at PHARMACY with the holder's informed consent."""
    request: dict[str, Any] = {
        "ins": ins,
        "channel": "pharmacy",
        "opened_by": PHARMACY,
        "consent": {"given_by": "holder", "informed": True},
    }
    request.update(changes)
    return request


def open_record(client: TestClient, bearer: Bearer, ins: str = ALICE.ins) -> None:
    """Open the record of `ins` at the pharmacy, as its pharmacist."""
    response = client.post("/api/records", json=opening(ins), headers=bearer.pharmacist())
    assert response.status_code == 201, response.text


@pytest.fixture
def alice(client: TestClient, bearer: Bearer) -> TestClient:
    """Alice's record, opened at the pharmacy."""
    open_record(client, bearer)
    return client


@pytest.fixture
def leo(client: TestClient, bearer: Bearer, db: Database) -> TestClient:
    """Léo's record (a minor), opened at the pharmacy with his parent's consent; the
    parent is his legal representative (RULES R3)."""
    consent = {"given_by": "legal_representative", "informed": True}
    body = opening(LEO.ins, consent=consent)
    response = client.post("/api/records", json=body, headers=bearer.pharmacist())
    assert response.status_code == 201, response.text
    with db.write() as conn:
        conn.execute(
            insert(representative).values(
                ins=LEO.ins,
                representative=LEO_PARENT,
                name="Durand Claire",
                since=datetime.now(UTC),
            )
        )
    return client


def outcome(response: Any, status: int) -> dict[str, Any]:
    """The response is an OperationOutcome with `status`; return its first issue."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    payload = response.json()
    assert payload["resourceType"] == "OperationOutcome"
    assert payload["issue"]
    issue: dict[str, Any] = payload["issue"][0]
    assert issue["severity"] == "error"
    assert issue["details"]["text"]
    return issue


def error_code(issue: dict[str, Any]) -> str:
    code: str = issue["details"]["coding"][0]["code"]
    return code
