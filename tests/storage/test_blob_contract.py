"""One contract for every blob store (storage/blobs.py): the folder, S3 (moto's server
over HTTP) and memory stores must behave alike, since documents' bytes (RULES R6) move
between them with the deployment."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmp.storage.blobs import (
    BlobMissing,
    BlobStore,
    FileBlobStore,
    MemoryBlobStore,
    S3BlobStore,
    open_blob_store,
)
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoServer

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="session")
def s3_store(moto_server: MotoServer) -> S3BlobStore:
    """One bucket and one client for the session (a boto3 client costs ~0.4 s to make)."""
    return S3BlobStore(
        moto_server.new_bucket(),
        endpoint_url=moto_server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


@pytest.fixture(params=["file", "s3", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
    elif request.param == "s3":
        s3: S3BlobStore = request.getfixturevalue("s3_store")
        yield s3
        for key in list(s3.keys()):  # an empty bucket for the next test
            s3.delete(key)
    else:
        yield MemoryBlobStore()


# ------------------------------------------------------------------------ the contract


def test_put_then_get_returns_the_bytes(store: BlobStore) -> None:
    store.put("d/ab/0001", b"%PDF-1.7 compte rendu")
    assert store.get("d/ab/0001") == b"%PDF-1.7 compte rendu"
    assert store.exists("d/ab/0001")


def test_put_over_an_existing_key_replaces_it(store: BlobStore) -> None:
    store.put("d/ab/0001", b"first version, longer than the second")
    store.put("d/ab/0001", b"second")
    assert store.get("d/ab/0001") == b"second"
    assert list(store.keys()) == ["d/ab/0001"]


def test_get_of_a_missing_key_raises_blob_missing(store: BlobStore) -> None:
    with pytest.raises(BlobMissing) as err:
        store.get("d/ab/absent")
    assert err.value.key == "d/ab/absent"
    assert not store.exists("d/ab/absent")


def test_a_key_prefix_of_other_keys_is_no_blob(store: BlobStore) -> None:
    store.put("d/ab/0001", b"x")
    assert not store.exists("d/ab")
    with pytest.raises(BlobMissing):
        store.get("d/ab")
    store.delete("d/ab")
    assert store.get("d/ab/0001") == b"x"


def test_delete_is_idempotent(store: BlobStore) -> None:
    store.delete("d/ab/never-written")
    store.put("d/ab/0001", b"x")
    store.delete("d/ab/0001")
    store.delete("d/ab/0001")
    assert not store.exists("d/ab/0001")
    with pytest.raises(BlobMissing):
        store.get("d/ab/0001")
    assert list(store.keys()) == []


def test_keys_lists_those_with_the_prefix_in_byte_order(store: BlobStore) -> None:
    written = ["d/ab/2", "d/ab/1", "d/a-b/1", "d/ac/1", "d-x", "e/1", "d/ab/1.v2"]
    for key in written:
        store.put(key, key.encode())
    assert list(store.keys()) == sorted(written)
    assert list(store.keys("d/")) == ["d/a-b/1", "d/ab/1", "d/ab/1.v2", "d/ab/2", "d/ac/1"]
    assert list(store.keys("d/ab/")) == ["d/ab/1", "d/ab/1.v2", "d/ab/2"]
    assert list(store.keys("d/ab/1")) == ["d/ab/1", "d/ab/1.v2"]
    assert list(store.keys("d")) == ["d-x", "d/a-b/1", "d/ab/1", "d/ab/1.v2", "d/ab/2", "d/ac/1"]
    assert list(store.keys("z")) == []


@pytest.mark.parametrize(
    "data",
    [b"", bytes(range(256)), os.urandom(FIVE_MB)],
    ids=["empty", "every-byte", "5MB"],
)
def test_binary_data_round_trips_unchanged(store: BlobStore, data: bytes) -> None:
    store.put("d/ab/blob", data)
    assert store.get("d/ab/blob") == data


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../escape",
        "d/../../etc/passwd",
        "d/ab/..",
        "d/a..b",
        "/etc/passwd",
        "d//ab",
        "d/ab/",
        ".hidden",
        "d/.tmp-x",
        "d/ab cd",
        "d\\ab",
        "d/é",
        "d/ab\x00",
        "x" * 513,
    ],
)
def test_a_bad_key_is_refused_by_name(store: BlobStore, key: str) -> None:
    for attempt in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.delete(key),
        lambda: store.exists(key),
    ):
        with pytest.raises(ValueError, match="invalid blob key") as err:
            attempt()
        assert repr(key) in str(err.value)
    assert list(store.keys()) == []


def test_a_reader_sees_a_whole_object_while_it_is_replaced(store: BlobStore) -> None:
    """put is atomic: concurrent gets see the old bytes or the new, never a mix."""
    versions = [b"a" * 300_000, b"b" * 200_000]
    store.put("d/ab/hot", versions[0])
    seen: list[bytes] = []

    def read() -> None:
        for _ in range(20):
            seen.append(store.get("d/ab/hot"))

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(20):
        store.put("d/ab/hot", versions[n % 2])
    reader.join()
    assert seen
    assert all(data in versions for data in seen)


# --------------------------------------------------------------------- the folder store


def test_file_store_maps_keys_to_files_under_its_root_readable_by_owner_only(
    tmp_path: Path,
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    store.put("d/ab/0001", b"sealed")
    path = tmp_path / "blobs" / "d" / "ab" / "0001"
    assert path.read_bytes() == b"sealed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["0001"]  # no temporary file left


def test_file_store_never_lists_a_temporary_file_a_crash_left(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    store.put("d/ab/0001", b"sealed")
    (tmp_path / "blobs" / "d" / "ab" / ".tmp-0002.5f3a").write_bytes(b"half")
    assert list(store.keys()) == ["d/ab/0001"]


def test_file_store_writes_nothing_outside_its_root(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put("../outside", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_file_store_lists_nothing_before_its_first_put(tmp_path: Path) -> None:
    assert list(FileBlobStore(tmp_path / "not-yet").keys()) == []


# ---------------------------------------------------------------------------- opening


def test_open_blob_store_opens_the_kind_named(tmp_path: Path) -> None:
    def opened(kind: str) -> BlobStore:
        return open_blob_store(
            kind,
            root=tmp_path,
            bucket="dmp-documents",
            endpoint_url=None,
            region="eu-west-3",
            access_key_id=None,
            secret_access_key=None,
        )

    assert isinstance(opened("file"), FileBlobStore)
    assert isinstance(opened("s3"), S3BlobStore)
    with pytest.raises(ValueError, match=r"unknown blob store 'gcs'.*'file' or 's3'"):
        opened("gcs")
