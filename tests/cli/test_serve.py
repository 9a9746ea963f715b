"""`dmp serve`: the access log (one line per request on stdout) is on unless the
operator turns it off; the audit trail records every access either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.cli.runner import run_dmp


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """What `dmp serve` would start uvicorn with (nothing listens)."""
    monkeypatch.setenv("DMP_MODE", "dev")
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DMP_DATABASE_URL", f"sqlite:///{tmp_path / 'dmp.sqlite3'}")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def test_the_access_log_is_on_by_default(started: list[dict[str, Any]]) -> None:
    assert run_dmp(["serve"]).exit_code == 0
    assert started[0]["access_log"] is True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_access_log_can_be_turned_off(started: list[dict[str, Any]], workers: str) -> None:
    assert run_dmp(["serve", "--no-access-log", "--workers", workers]).exit_code == 0
    assert started[0]["access_log"] is False
