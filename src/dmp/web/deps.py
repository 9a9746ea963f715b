"""What page handlers take from the request: the database and today's date.

The web adapter may not import the API adapter, so this mirrors `api/deps.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request

from dmp.domain.time import local_date
from dmp.storage.db import Database


def db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def today() -> date:
    """Today in Europe/Paris: the default end of a period. A dependency, so that
    tests (and a demo frozen in 2018) can override the clock."""
    return local_date(datetime.now(UTC))


DbDep = Annotated[Database, Depends(db)]
TodayDep = Annotated[date, Depends(today)]
