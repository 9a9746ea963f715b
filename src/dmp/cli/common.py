"""What every command shares: settings, the database, the console, error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

import typer
from rich.console import Console

from dmp.config import Settings
from dmp.domain.errors import DomainError
from dmp.services.context import Ctx, system_ctx
from dmp.storage.db import Database

console = Console()
errors = Console(stderr=True)


def settings() -> Settings:
    s = Settings()
    s.prepare_data_dir()
    return s


# The running command's context, set by the root callback in cli/main.py, so that
# what a command opens is closed when it ends.
_command: ContextVar[typer.Context | None] = ContextVar("dmp_command", default=None)


def remember_command(context: typer.Context) -> None:
    _command.set(context)


def database(s: Settings | None = None) -> Database:
    """The database, disposed of (connections closed) when the command ends."""
    db = Database((s or settings()).resolved_database_url())
    context = _command.get()
    if context is not None:
        context.call_on_close(db.dispose)
    return db


def ctx() -> Ctx:
    return system_ctx(datetime.now(UTC))


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=option) from None


@contextmanager
def domain_errors() -> Iterator[None]:
    """A refused or invalid request ends the command with its message and exit code 1."""
    try:
        yield
    except DomainError as exc:
        errors.print(f"[red]Refusé[/red] ({exc.code}) {exc}")
        raise typer.Exit(1) from None
