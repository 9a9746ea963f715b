"""FHIR fixtures: Alice's record opened by her doctor (so he is authorised, RULES R8),
and a live server on a loopback port for real FHIR clients (fhirpy, fhirclient)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from dmp.config import Settings
from dmp.main import create_app
from dmp.storage.db import Database
from tests.api.conftest import Bearer, opening
from tests.personas import ALICE, DR_BOB_RPPS

INS_QUERY = f"urn:oid:1.2.250.1.213.1.4.8|{ALICE.ins}"


@pytest.fixture
def doctor_record(client: TestClient, bearer: Bearer) -> TestClient:
    """Alice's record, opened by Dr Bob during care: he is authorised (R8)."""
    body = opening(channel="professional", opened_by=DR_BOB_RPPS)
    response = client.post("/api/records", json=body, headers=bearer.professional())
    assert response.status_code == 201, response.text
    return client


@dataclass
class LiveServer:
    base: str  # the FHIR base URL
    bearer: Bearer


@pytest.fixture
def live_server(client: TestClient, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    """The same app as `client` (same database and data dir, so the same dev issuer
    and master key) served by uvicorn on 127.0.0.1 for clients that speak HTTP."""
    app = create_app(Settings(mode="dev", data_dir=tmp_path), db=db)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}/fhir", Bearer(tmp_path, "dmp"))
    server.should_exit = True
    thread.join(timeout=10)
