"""`dmp professional-contact`: a professional's address for the notices meant for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from dmp.cli.common import console, database, errors, settings
from dmp.domain.errors import DomainError
from dmp.services.contacts import set_professional_contact
from dmp.services.context import system_ctx


def professional_contact_cmd(
    rpps: Annotated[str, typer.Argument(help="RPPS du professionnel")],
    email: Annotated[str, typer.Argument(help="adresse de messagerie (MSSanté en production)")],
) -> None:
    """Record where a professional is told what concerns them (R14: emergencies)."""
    db = database(settings())
    try:
        address = set_professional_contact(db, system_ctx(datetime.now(UTC)), rpps, email)
    except DomainError as exc:
        errors.print(f"[red]Refusé[/red] {exc.field or ''} : {exc.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(f"Adresse enregistrée pour le RPPS {rpps} : {address}")
