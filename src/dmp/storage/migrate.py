"""Schema migrations (Alembic), run programmatically by `dmp db upgrade`."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from dmp.storage.db import Database


def _config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("dmp.storage") / "migrations"))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Create or migrate the schema to `revision`."""
    command.upgrade(_config(db), revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(db: Database) -> str | None:
    return ScriptDirectory.from_config(_config(db)).get_current_head()
