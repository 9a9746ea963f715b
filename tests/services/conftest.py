"""Fixtures of the service tests: a blob store of each kind (folder, S3 over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmp.storage.blobs import BlobStore, FileBlobStore, S3BlobStore
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoServer


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    server: MotoServer = request.getfixturevalue("moto_server")
    return S3BlobStore(
        server.new_bucket(),
        endpoint_url=server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
