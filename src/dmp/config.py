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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dmp.sqlite3').resolve()}"

    def prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
