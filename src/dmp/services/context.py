"""What every use case receives first: who acts, when, from where."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from dmp.domain.actors import SYSTEM, Actor
from dmp.domain.matrix import Matrix, default_matrix
from dmp.domain.time import as_utc


@dataclass(frozen=True, slots=True)
class Ctx:
    actor: Actor
    now: datetime
    client: str = "unknown"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    matrix: Matrix = field(default_factory=default_matrix)  # the authorisation matrix in force

    def __post_init__(self) -> None:
        object.__setattr__(self, "now", as_utc(self.now))


def system_ctx(now: datetime, client: str = "cli") -> Ctx:
    """The context of a command run by an operator on the server itself."""
    return Ctx(SYSTEM, now, client)
