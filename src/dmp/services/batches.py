"""What the bulk imports share about a batch of lines held in Arrow columns."""

from __future__ import annotations

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
