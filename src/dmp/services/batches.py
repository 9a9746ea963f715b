"""What the bulk imports share about a batch of lines held in Arrow columns."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc


def first_of_each(batch: pa.Table, key: str) -> tuple[pa.Table, pa.Table]:
    """The batch without repeated `key` values (the first line of each kept, by the
    `line` column), and the repeats: a file may give one INS or claim_id twice, and a
    batch is stored as if its lines came one after the other."""
    if batch.num_rows == 0 or pc.count_distinct(batch[key]).as_py() == batch.num_rows:
        return batch, batch.slice(0, 0)
    firsts = batch.group_by(key, use_threads=False).aggregate([("line", "min")])
    first = pc.is_in(batch["line"], value_set=firsts["line_min"])
    return batch.filter(first), batch.filter(pc.invert(first))


class EarlierBatchFailed(Exception):
    """A batch gives up its transaction because the one before it was not stored."""


class Turn:
    """A batch's place in its import's order, when two batches are stored at once on
    two connections (PostgreSQL). Batch k+1 inserts its own rows (the records) once k
    has inserted its, while k updates the rows both batches share (the rollups, the
    audit chain); k+1 updates those only after k's commit, and so commits after it.

    The order of the waits keeps the two transactions free of deadlocks, including one
    the database cannot see (a wait here, in Python):
    - a batch never waits here while holding shared rows: it holds none until its turn
      to update them comes, and after that it waits for nothing here;
    - inserting its rows after k inserted its own, k+1 can only wait on k's (an INS in
      both batches: its insert waits for k's commit), never k on k+1's.

    If batch k was not stored (an error, a rollback), k+1 gives up too, so the committed
    batches stay the file's first ones."""

    def __init__(self, before: Turn | None) -> None:
        self._before = before
        self._inserted = threading.Event()
        self._over = threading.Event()
        self._committed = False

    def may_insert(self) -> None:
        """Until the batch before has inserted its rows (or is over)."""
        if self._before is not None:
            self._before._inserted.wait()

    def inserted(self) -> None:
        self._inserted.set()

    def may_update(self) -> None:
        """Until the batch before has committed; EarlierBatchFailed if it did not."""
        before, self._before = self._before, None  # a long import keeps no chain
        if before is None:
            return
        before._over.wait()
        if not before._committed:
            raise EarlierBatchFailed("an earlier batch of this import was not stored")

    def finish(self, committed: bool) -> None:
        """The batch is over, stored or not; only the first call counts (a runner calls
        it again, failed, whatever became of the batch, so that no turn is left open)."""
        if self._over.is_set():
            return
        self._committed = committed
        self._inserted.set()
        self._over.set()
