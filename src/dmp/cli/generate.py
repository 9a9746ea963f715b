"""`dmp generate beneficiaries|records`: synthetic files in the importers' formats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dmp.cli.common import console
from dmp.feeds.synthetic.files import write_beneficiaries, write_records

DEFAULT_SEED = 2018

app = typer.Typer(
    help="Données synthétiques façon lancement national de novembre 2018.",
    no_args_is_help=True,
)

Count = Annotated[int, typer.Option("--count", min=1, help="nombre de lignes valides")]
Out = Annotated[Path, typer.Option("--out", help="fichier CSV à écrire")]
Seed = Annotated[int, typer.Option("--seed", help="graine : même graine, mêmes données")]


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over `total` steps; yields a function told how many are done."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


def _lines(n: int) -> str:
    return f"{n:,}".replace(",", " ")


@app.command("beneficiaries")
def beneficiaries_cmd(count: Count, out: Out, seed: Seed = DEFAULT_SEED) -> None:
    """Write a registry of beneficiaries (ins,family_name,…,department,regime)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress_bar(f"Bénéficiaires → {out.name}", count) as advance:
        written = write_beneficiaries(out, count, seed, advance)
    console.print(f"{_lines(written)} bénéficiaires écrits dans {out} (graine {seed})")


@app.command("records")
def records_cmd(
    count: Count,
    out: Out,
    seed: Seed = DEFAULT_SEED,
    bad_lines: Annotated[
        int, typer.Option("--bad-lines", min=0, help="lignes volontairement fausses en plus")
    ] = 0,
) -> None:
    """Write legacy records opened from 6 November 2018, with bad lines if asked."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress_bar(f"Dossiers existants → {out.name}", count + bad_lines) as advance:
        written = write_records(out, count, seed, bad_lines, advance)
    console.print(
        f"{_lines(written)} lignes écrites dans {out} (graine {seed}), "
        f"dont {_lines(bad_lines)} volontairement fausses"
    )
