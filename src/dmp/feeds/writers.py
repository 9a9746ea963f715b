"""The writer threads of a bulk import: its batches stored in the background, in order.

On PostgreSQL two batches are stored at once, each on its own connection, so that the
server's two cores both work; SQLite gets one writer (its write transactions are
exclusive: a second would only queue). Each batch gets its `Turn`
(services/batches.py), chained to the batch before, which its storing function uses to
keep the commits in file order. Results are taken back in the order the batches were
given, so rejects and counts follow the file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from dmp.services.batches import Turn
from dmp.storage.db import Database

T = TypeVar("T")


class BatchWriters(Generic[T]):
    """At most `count` batches being stored; `submit` waits for room first, handing back
    the results of the batches it waited for."""

    def __init__(self, db: Database, name: str) -> None:
        self.count = 1 if db.is_sqlite else 2
        self._pool = ThreadPoolExecutor(max_workers=self.count, thread_name_prefix=name)
        self._pending: deque[Future[T]] = deque()
        self._turn: Turn | None = None

    def submit(self, store: Callable[[Turn], T]) -> list[T]:
        """Store a batch with `store(turn)` once a writer is free; return the results of
        the earlier batches awaited meanwhile (a batch's failure is raised here)."""
        awaited = []
        while len(self._pending) >= self.count:
            awaited.append(self._pending.popleft().result())
        turn = self._turn = Turn(self._turn)
        self._pending.append(self._pool.submit(_in_turn, store, turn))
        return awaited

    def drain(self) -> Iterator[T]:
        """The results of the batches still being stored, in order."""
        while self._pending:
            yield self._pending.popleft().result()

    def close(self) -> None:
        """After the last batch, a failure or Ctrl-C: the batches being stored commit (or
        roll back) whole; those not started are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _in_turn(store: Callable[[Turn], T], turn: Turn) -> T:
    try:
        return store(turn)
    finally:
        # Whatever became of the batch, its turn ends (no effect if it already did), so
        # the batch after it never waits for ever.
        turn.finish(committed=False)
