"""Two batches of a claims import stored at once (PostgreSQL's two writers): a batch that
gives a claim_id of the batch before it waits for that one's commit before it probes,
so the line is judged (duplicate or conflict) instead of failing on the key, and the
two never wait on each other (issue 5; RULES R5)."""

from __future__ import annotations

import threading
from pathlib import Path

from dmp.feeds.claims.runner import _batch
from dmp.feeds.claims.source import ClaimsFile
from dmp.services.batches import Turn
from dmp.services.claims_import import (
    BatchResult,
    ClaimBatch,
    LineIssue,
    begin_import,
    prepare_batch,
    store_batch,
)
from dmp.services.context import system_ctx
from dmp.storage.claims import ImportProgress
from dmp.storage.db import Database
from tests.feeds.claims_files import NOW, TODAY, registry, write
from tests.feeds.claims_files import claim as line
from tests.personas import ALICE, BOB

PATIENCE = 10.0  # seconds: far more than storing a few lines takes


def batch_of(tmp_path: Path, name: str, lines: list[str]) -> ClaimBatch:
    """The one batch of a small file, read and checked as the runner does."""
    chunks = list(ClaimsFile(write(tmp_path, lines, name), 1 << 20).chunks(0, 2))
    assert len(chunks) == 1
    return _batch(chunks[0], TODAY)


def test_a_batch_sharing_a_claim_id_with_the_one_before_waits_for_its_commit(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    ctx = system_ctx(NOW, "test")
    first = prepare_batch(
        db, batch_of(tmp_path, "a.csv", [line("A1", ALICE.ins), line("A2", ALICE.ins)])
    )
    second = prepare_batch(
        db,
        batch_of(
            tmp_path,
            "b.csv",
            [line("A1", ALICE.ins), line("A2", ALICE.ins, quantity="5"), line("B1", BOB.ins)],
        ),
        previous=first,
    )
    assert second.after_previous
    unrelated = batch_of(tmp_path, "c.csv", [line("C1", BOB.ins)])
    assert not prepare_batch(db, unrelated, previous=second).after_previous
    progress = begin_import(db, ctx, ImportProgress("f" * 64, "claims.csv", 1000))
    reported: list[LineIssue] = []
    results: dict[int, BatchResult] = {}
    turn_one = Turn(None)
    turn_two = Turn(turn_one)

    def store(n: int, prepared: object, turn: Turn) -> None:
        results[n] = store_batch(db, ctx, progress, prepared, reported.extend, turn)  # type: ignore[arg-type]

    # The later batch is under way first: had it probed and copied its lines at once,
    # the earlier batch's insert of A1 would wait on it, and it on the earlier one's turn.
    later = threading.Thread(target=store, args=(2, second, turn_two), daemon=True)
    later.start()
    later.join(0.2)
    earlier = threading.Thread(target=store, args=(1, first, turn_one), daemon=True)
    earlier.start()
    earlier.join(PATIENCE)
    later.join(PATIENCE)
    assert not earlier.is_alive()
    assert not later.is_alive()
    assert results[1].counts["inserted"] == 2
    counts = results[2].counts
    assert (counts["inserted"], counts["duplicates"], counts["conflicts"]) == (1, 1, 1)
    assert [(i.field, i.code) for i in reported] == [("quantity", "CLAIM_CONFLICT")]
