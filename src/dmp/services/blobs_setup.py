"""The blob store and the master key the settings describe (DMP_BLOB_*, DMP_S3_*,
DMP_MASTER_KEY*), for the composition root and the commands."""

from __future__ import annotations

from dmp.config import Settings
from dmp.storage.blobs import BlobStore, open_blob_store
from dmp.storage.envelope import MasterKey, load_master_key


def blob_store_from(settings: Settings) -> BlobStore:
    """The configured store; nothing is created or contacted before its first use."""
    return open_blob_store(
        settings.blob_store,
        root=settings.resolved_blob_dir(),
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=settings.s3_secret_access_key or None,
    )


def master_key_from(settings: Settings) -> MasterKey:
    """The master key (MasterKeyMissing in production when none is configured)."""
    return load_master_key(
        key_b64=settings.master_key,
        key_file=settings.master_key_file,
        mode=settings.mode,
        data_dir=settings.data_dir,
    )
