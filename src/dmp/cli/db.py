"""`dmp db`: the database schema."""

from __future__ import annotations

import typer

from dmp.cli.common import console, database, settings
from dmp.storage.migrate import current_revision, upgrade

app = typer.Typer(help="Schéma de la base de données.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Create or migrate the schema to the latest revision (SQLite or PostgreSQL)."""
    s = settings()
    db = database(s)
    upgrade(db)
    where = db.url.render_as_string(hide_password=True)
    console.print(f"Schéma à jour (révision {current_revision(db)}) : {where}")
