"""The HTTP API in-process (TestClient) over the `db` fixture, registry loaded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from dmp.config import Settings
from dmp.main import create_app
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from tests.personas import ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    load_beneficiaries_batch(
        db,
        system_ctx(datetime(2018, 11, 1, tzinfo=UTC)),
        [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY],
        "test",
    )
    with TestClient(create_app(Settings(), db=db)) as c:
        yield c
