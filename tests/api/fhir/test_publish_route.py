"""POST /fhir is a plain Starlette route (no FastAPI dependency solving, for speed):
it must still ask and answer exactly what the other routes do — the caller proven
before the body is read, the body's size limit, every error an OperationOutcome
(issue 4; RULES R18)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dmp.config import Settings
from dmp.main import create_app
from dmp.services import documents as service
from dmp.storage.db import Database
from tests.api.conftest import Bearer, error_code, outcome
from tests.api.fhir.builders import PDF, bundle, document_reference
from tests.api.fhir.test_publish import doc_id, stored_count


def test_r18_without_a_token_the_answer_is_401_before_the_body_is_read(
    doctor_record: TestClient, db: Database
) -> None:
    response = doctor_record.post("/fhir", content=b"{not json")
    issue = outcome(response, 401)
    assert error_code(issue) == "AUTH_REQUIRED"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert stored_count(db) == 0


def test_r18_a_forged_token_is_refused_with_its_challenge(
    doctor_record: TestClient, db: Database
) -> None:
    response = doctor_record.post(
        "/fhir",
        json=bundle(document_reference()),
        headers={"Authorization": "Bearer not.a.token"},
    )
    outcome(response, 401)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert stored_count(db) == 0


def test_the_base_url_with_a_trailing_slash_publishes_too(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    response = doctor_record.post(
        "/fhir/", json=bundle(document_reference()), headers=bearer.professional()
    )
    assert doc_id(response)
    assert stored_count(db) == 1


def test_other_methods_on_the_base_url_are_refused_as_operation_outcomes(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    response = doctor_record.get("/fhir", headers=bearer.professional())
    assert response.status_code in (404, 405)
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.fixture
def small_limit(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """The app with the smallest document size it accepts (1 KB): a bundle is refused
    past 2 KB of base64 plus 1 MB of everything else."""
    settings = Settings(mode="dev", data_dir=tmp_path, document_max_bytes=1024)
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def test_a_body_past_the_limit_is_refused_naming_the_bundle(
    small_limit: TestClient, tmp_path: Path, db: Database
) -> None:
    bearer = Bearer(tmp_path, "dmp")
    body = bundle(document_reference())
    body["entry"][0]["resource"]["note"] = "x" * (1024 * 1024 + 4096)
    issue = outcome(small_limit.post("/fhir", json=body, headers=bearer.professional()), 422)
    assert (error_code(issue), issue["expression"]) == ("BODY_TOO_LARGE", ["Bundle"])
    assert stored_count(db) == 0


@pytest.fixture
def crashing(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    def broken(*_: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "publish", broken)
    app = create_app(Settings(mode="dev", data_dir=tmp_path), db=db)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_an_unexpected_failure_is_a_500_that_tells_nothing_of_the_internals(
    crashing: TestClient, tmp_path: Path
) -> None:
    bearer = Bearer(tmp_path, "dmp")
    response = crashing.post(
        "/fhir", json=bundle(document_reference()), headers=bearer.professional()
    )
    issue = outcome(response, 500)
    assert error_code(issue) == "INTERNAL"
    assert "fire" not in response.text


def test_the_bytes_published_are_the_bytes_retrieved(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    response = doctor_record.post(
        "/fhir", json=bundle(document_reference()), headers=bearer.professional()
    )
    got = doctor_record.get(
        f"/fhir/Binary/{doc_id(response)}",
        headers={**bearer.professional(), "Accept": "application/fhir+json"},
    )
    assert got.status_code == 200, got.text
    assert base64.b64decode(got.json()["data"]) == PDF
