"""Settings: one class, read from DMP_* environment variables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of dmp. `DMP_DATABASE_URL` defaults to a SQLite file in the data dir."""

    model_config = SettingsConfigDict(env_prefix="DMP_", extra="ignore")

    mode: Literal["dev", "demo", "production"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    pharmacy_fee_eur: Decimal = Field(default=Decimal("1.00"), ge=0)
    # Notices to the holder by e-mail (RULES R17; docs/decisions/0006-notifications.md).
    # No host: nothing is sent and notices wait in the outbox until one is configured.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)  # 587 with STARTTLS, 465 with SSL
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # implicit TLS
    smtp_user: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_from: str = "DMP <ne-pas-repondre@localhost>"
    smtp_timeout: float = Field(default=10.0, gt=0)
    smtp_ca_file: Path | None = None  # a private CA to trust instead of the system's
    notify_in_process: bool = True  # `dmp serve` delivers too, when a host is set
    notify_interval: float = Field(default=5.0, gt=0)
    notify_batch: int = Field(default=20, ge=1, le=1000)
    notify_max_attempts: int = Field(default=12, ge=1)
    # Bearer tokens (RULES R18; docs/decisions/0005-tokens.md). The identity provider
    # (Pro Santé Connect or the like) is trusted only when its issuer is set; its keys
    # come from a JWKS file or URL. The development issuer is trusted in dev/demo only.
    oidc_issuer: str = ""
    oidc_audience: str = "dmp"
    oidc_jwks_file: Path | None = None
    oidc_jwks_url: str = ""
    oidc_jwks_ttl_seconds: int = Field(default=300, ge=10, le=86_400)
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    token_max_lifetime_minutes: int = Field(default=720, ge=1, le=1440)
    # Emergency accesses (RULES R14): how long a "bris de glace" or SAMU access lasts.
    # The rules leave it unconfirmed (Australia: 5 days); 24 h by default (issue 3).
    emergency_hours: int = Field(default=24, ge=1, le=120)
    # The patient portal (RULES R19; docs/decisions/0007-portal-accounts.md). Its public
    # origin (https://dmp.example.fr), the only one a form may be posted from; empty:
    # the request's own origin (behind a proxy, set it).
    portal_base_url: str = ""
    # The session cookie is `__Host-dmp_session` (Secure, HttpOnly, SameSite=Strict,
    # Path=/). False only to try the portal over plain http: the cookie is then
    # `dmp_session`, without Secure. Refused in production.
    session_cookie_secure: bool = True
    # The key of the login-code digests, CSRF tokens and sealed TOTP seeds; empty: a
    # random key kept in data_dir/portal.key (servers sharing accounts share that key).
    portal_secret: str = Field(default="", repr=False)

    # RULES R10: an operator's own authorisation matrix (CSV, same columns as
    # src/dmp/domain/data/authorisation_matrix.csv); the reviewed defaults otherwise.
    authorisation_matrix: Path | None = None

    # Documents' bytes (issue 4): a folder (default data_dir/blobs) or an S3 bucket,
    # always sealed with the record's data key, itself wrapped by the master key
    # (storage/envelope.py). Production refuses to start without a master key.
    blob_store: Literal["file", "s3"] = "file"
    blob_dir: Path | None = None
    s3_bucket: str = "dmp-documents"
    s3_endpoint_url: str = ""  # MinIO, Ceph, Scaleway…; empty: AWS
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""  # empty: boto3's chain (environment, profile, role)
    s3_secret_access_key: str = Field(default="", repr=False)
    master_key: str = Field(default="", repr=False)  # 32 bytes, base64
    master_key_file: Path | None = None  # 32 raw bytes or their base64

    # Documents (issue 4): the largest document accepted, in bytes (20 MB by default).
    document_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)

    @field_validator("session_cookie_secure")
    @classmethod
    def _secure_cookie_in_production(cls, secure: bool, info: ValidationInfo) -> bool:
        if not secure and info.data.get("mode") == "production":
            raise ValueError("the session cookie must be Secure in production")
        return secure

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dmp.sqlite3').resolve()}"

    def resolved_blob_dir(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"

    def prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
