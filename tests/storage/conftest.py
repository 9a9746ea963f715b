"""Fixtures of the storage tests: a throwaway S3 endpoint (tests/s3.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3 import MotoServer


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()
