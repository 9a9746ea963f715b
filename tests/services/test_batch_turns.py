"""services.batches.Turn: two batches of an import stored at once keep the file's order
of commits, and a batch whose predecessor was not stored gives up (issue 2)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from dmp.services.batches import EarlierBatchFailed, Turn

SHORT = 0.2  # seconds a call is given to show that it waits


def started(call: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """`call` running in a thread, and the exception it raised (if any) once joined."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def test_the_first_batch_of_an_import_waits_for_nothing() -> None:
    first = Turn(None)
    first.may_insert()
    first.may_update()  # returns at once: no batch before it


def test_a_batch_inserts_only_once_the_one_before_has_inserted() -> None:
    first = Turn(None)
    second = Turn(first)
    thread, _ = started(second.may_insert)
    thread.join(SHORT)
    assert thread.is_alive()
    first.inserted()
    thread.join(SHORT)
    assert not thread.is_alive()


def test_a_batch_updates_the_shared_rows_only_after_the_one_before_committed() -> None:
    first = Turn(None)
    second = Turn(first)
    first.inserted()  # inserting is not enough: the rollups wait for the commit
    thread, errors = started(second.may_update)
    thread.join(SHORT)
    assert thread.is_alive()
    first.finish(committed=True)
    thread.join(SHORT)
    assert not thread.is_alive()
    assert errors == []


def test_a_batch_gives_up_when_the_one_before_was_not_stored() -> None:
    first = Turn(None)
    second = Turn(first)
    first.finish(committed=False)
    second.may_insert()  # a batch that failed has inserted nothing to wait for
    with pytest.raises(EarlierBatchFailed):
        second.may_update()


def test_giving_up_passes_down_the_chain() -> None:
    """Batch 3 waits on batch 2, which gave up because batch 1 failed."""
    first = Turn(None)
    second = Turn(first)
    third = Turn(second)
    first.finish(committed=False)
    with pytest.raises(EarlierBatchFailed):
        second.may_update()
    second.finish(committed=False)
    with pytest.raises(EarlierBatchFailed):
        third.may_update()
