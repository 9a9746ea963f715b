"""Settings: one class, read from DMP_* environment variables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field
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

    # RULES R10: an operator's own authorisation matrix (CSV, same columns as
    # src/dmp/domain/data/authorisation_matrix.csv); the reviewed defaults otherwise.
    authorisation_matrix: Path | None = None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dmp.sqlite3').resolve()}"

    def prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
