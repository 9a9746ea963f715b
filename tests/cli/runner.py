"""Running `dmp …` in-process with Typer's CliRunner."""

from __future__ import annotations

from collections.abc import Sequence

from click.testing import Result
from typer.testing import CliRunner

from dmp.cli.main import app


def run_dmp(args: Sequence[str]) -> Result:
    """`dmp ARGS` with the environment as set (DMP_DATABASE_URL, DMP_DATA_DIR…)."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)
