"""The blob store: where documents' encrypted bytes lie (DESIGN: storage and scale).

A port (`BlobStore`) with three implementations: a local folder (the embedded default),
S3-compatible object storage (production) and memory (tests). Every implementation
honours the same contract, checked by one test suite (tests/storage/test_blob_contract.py):

- `put` is atomic: a reader sees the whole object or nothing, never a part; putting an
  existing key replaces it.
- `get` of an absent key raises BlobMissing; `delete` of an absent key does nothing.
- `keys(prefix)` lists the keys that start with `prefix` in ascending byte order (the
  order S3 lists in), so `dmp fsck --full` can merge it with sorted database keys.
- Keys are `/`-separated segments of `[A-Za-z0-9_.-]`: no empty segment, no `..`
  anywhere, no segment starting with a dot (the file store keeps its temporary files
  there), at most 512 characters. Every store refuses other keys (ValueError naming the key), so a
  key that works on one store works on all.

The store only ever sees ciphertext (storage/envelope.py); who may read is decided
elsewhere (domain/access.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MAX_KEY_LENGTH = 512
_KEY = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9_./\-]*")
_TEMP = ".tmp-"  # file store: the prefix of files being written
_MISSING_CODES = frozenset(["NoSuchKey", "404", "NotFound"])


class BlobMissing(Exception):
    """No object is stored under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob under key {key!r}")
        self.key = key


class BlobStore(Protocol):
    """Where encrypted document bytes are kept, by key (see the module docstring)."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically, replacing what was there."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`; BlobMissing if there are none."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens if it is absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix`, in ascending byte order."""
        ...


def check_key(key: str) -> str:
    """`key` if every store accepts it, else ValueError naming it."""
    if (
        not isinstance(key, str)
        or len(key) > MAX_KEY_LENGTH
        or not _KEY.fullmatch(key)
        or ".." in key
        or any(segment.startswith(".") for segment in key.split("/"))
    ):
        raise ValueError(
            f"invalid blob key {key!r}: expected /-separated segments of A-Z a-z 0-9 _ . - "
            f"(no empty segment, no '..', none starting with a dot, at most "
            f"{MAX_KEY_LENGTH} characters)"
        )
    return key


def _check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix) or ".." in prefix or prefix.startswith("/"):
        raise ValueError(f"invalid blob key prefix {prefix!r}")
    return prefix


# ----------------------------------------------------------------------------- file


class FileBlobStore:
    """Blobs as files under `root`: key `d/ab/<uuid>` is the file `root/d/ab/<uuid>`.

    A put writes a temporary file in the target's directory, fsyncs it, renames it over
    the target (atomic on POSIX) and fsyncs the directory, so after a crash the key holds
    the old bytes or the new ones, never a torn file. Temporary files start with a dot
    and are never listed; a crash may leave some behind (harmless, and unlisted).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = os.fspath(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        # Plain strings and os calls: every publish passes here, and pathlib's objects
        # cost more than the write itself (fsyncs aside).
        path = os.path.join(self._root, *check_key(key).split("/"))
        directory, name = os.path.split(path)
        if not os.path.isdir(directory):
            self._make_dirs(Path(directory))
        temp = os.path.join(directory, f"{_TEMP}{name}.{uuid.uuid4().hex}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(directory)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobMissing(key) from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return  # absent, or a directory (a path through a file): no blob either way
        _fsync_dir(path.parent)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str = "") -> Iterator[str]:
        _check_prefix(prefix)
        # Start from the deepest directory the prefix names, not from the root.
        base, _, _ = prefix.rpartition("/")
        start = self.root.joinpath(*base.split("/")) if base else self.root
        yield from (key for key in self._walk(start, base) if key.startswith(prefix))

    def _walk(self, directory: Path, rel: str) -> Iterator[str]:
        """Keys under `directory` in byte order: a directory `a` sorts as `a/`, so the
        depth-first walk yields `a-b` before `a/c`, as a sort of the whole keys would."""
        try:
            with os.scandir(directory) as it:
                entries = [(e.name + "/" if e.is_dir() else e.name, e) for e in it]
        except (FileNotFoundError, NotADirectoryError):
            return
        for name, entry in sorted(entries, key=lambda pair: pair[0]):
            if name.startswith("."):
                continue  # temporary files
            key = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                yield from self._walk(Path(entry.path), key)
            else:
                yield key

    def _make_dirs(self, directory: Path) -> None:
        """Create `directory` and its missing parents, each new entry made durable."""
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for made in reversed(missing):
            try:
                made.mkdir()
            except FileExistsError:
                continue  # a concurrent put made it
            _fsync_dir(made.parent)

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path | str) -> None:
    """Make a rename or an unlink in `directory` durable (its entry lives there)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------- S3


class S3BlobStore:
    """Blobs as objects of an S3-compatible bucket (AWS, MinIO, Ceph, Scaleway, OVH…).

    S3 makes a PUT atomic and a DELETE idempotent by itself. The client is created once
    (boto3 clients are thread-safe); credentials left None come from boto3's usual chain
    (environment, profile, instance role). The bucket must exist.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        self.bucket = bucket
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise BlobMissing(key) from None
            raise
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return False
            raise
        return True

    def keys(self, prefix: str = "") -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=_check_prefix(prefix)
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"]

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r})"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------- memory


class MemoryBlobStore:
    """Blobs in a dict: for tests and throwaway demos (nothing survives the process)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._blobs[check_key(key)] = bytes(data)

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._blobs[check_key(key)]
            except KeyError:
                raise BlobMissing(key) from None

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(check_key(key), None)

    def exists(self, key: str) -> bool:
        with self._lock:
            return check_key(key) in self._blobs

    def keys(self, prefix: str = "") -> Iterator[str]:
        _check_prefix(prefix)
        with self._lock:
            found = sorted(k for k in self._blobs if k.startswith(prefix))
        yield from found


# ---------------------------------------------------------------------------- open


def open_blob_store(
    kind: str,
    *,
    root: Path,
    bucket: str,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> BlobStore:
    """The store of `kind` ("file": a folder at `root`; "s3": `bucket`)."""
    if kind == "file":
        return FileBlobStore(root)
    if kind == "s3":
        return S3BlobStore(
            bucket,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
    raise ValueError(f"unknown blob store {kind!r}: expected 'file' or 's3' (DMP_BLOB_STORE)")
