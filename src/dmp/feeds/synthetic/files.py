"""The synthetic registry and legacy records as CSV files, in the importers' format.

Lines are produced and written one by one (flushed in blocks), so a file of
3 million lines costs no more memory than a file of ten.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from dmp.feeds.beneficiaries.parser import COLUMNS as BENEFICIARY_COLUMNS
from dmp.feeds.records.parser import COLUMNS as RECORD_COLUMNS
from dmp.feeds.synthetic.bad_lines import BadLine, spoil
from dmp.feeds.synthetic.launch import LaunchOpening, launch_openings
from dmp.feeds.synthetic.population import Person, people

Line = list[str] | BadLine
Progress = Callable[[int], None]  # told how many lines were written so far
PROGRESS_EVERY = 10_000
FLUSH_EVERY = 1_000  # lines held in memory before they are written

__all__ = ["BENEFICIARY_COLUMNS", "RECORD_COLUMNS", "write_beneficiaries", "write_records"]


def beneficiary_row(person: Person) -> list[str]:
    p = person
    return [
        p.ins,
        p.family_name,
        p.given_names,
        p.birth_date.isoformat(),
        p.sex,
        p.department,
        p.regime,
    ]


def record_row(person: Person, opening: LaunchOpening) -> list[str]:
    p, o = person, opening
    identity = [p.ins, p.family_name, p.given_names, p.birth_date.isoformat(), p.sex]
    return [*identity, p.department, o.opened_at.isoformat(), o.channel.value, o.opened_by]


def beneficiary_rows(seed: int | str, count: int) -> Iterator[list[str]]:
    """The registry: the first `count` people of `seed`."""
    return (beneficiary_row(p) for p in islice(people(seed), count))


def record_rows(seed: int | str, count: int) -> Iterator[list[str]]:
    """Legacy records of the first `count` people of `seed`, all valid."""
    return (record_row(p, o) for p, o in islice(launch_openings(seed), count))


def record_lines(seed: int | str, count: int, bad: int = 0) -> Iterator[Line]:
    """`count` valid records with `bad` broken lines mixed in at seeded positions.

    Broken lines are made from other people (another stream of the same seed), so the
    valid lines are the same whatever `bad` is.
    """
    positions = set(random.Random(f"dmp-synthetic:{seed}:bad").sample(range(count + bad), bad))
    good = record_rows(seed, count)
    spare = record_rows(f"{seed}:bad", bad)
    spoiled = 0
    for n in range(count + bad):
        if n in positions:
            yield spoil(next(spare), spoiled)
            spoiled += 1
        else:
            yield next(good)


def write_csv(
    path: Path,
    header: Sequence[str],
    lines: Iterable[Line],
    on_progress: Progress | None = None,
) -> int:
    """Write `lines` under `header` (UTF-8, one line each); return how many were written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    written = 0
    with path.open("wb") as out:
        writer.writerow(header)
        for line in lines:
            if isinstance(line, BadLine):
                _flush(buffer, out)
                writer.writerow(line.fields)
                out.write(buffer.getvalue().encode(line.encoding))
                buffer.seek(0)
                buffer.truncate()
            else:
                writer.writerow(line)
            written += 1
            if written % FLUSH_EVERY == 0:
                _flush(buffer, out)
            if on_progress and written % PROGRESS_EVERY == 0:
                on_progress(written)
        _flush(buffer, out)
    if on_progress:
        on_progress(written)
    return written


def _flush(buffer: io.StringIO, out: io.BufferedWriter) -> None:
    out.write(buffer.getvalue().encode("utf-8"))
    buffer.seek(0)
    buffer.truncate()


def write_beneficiaries(
    path: Path, count: int, seed: int | str, on_progress: Progress | None = None
) -> int:
    """The registry file of the first `count` people of `seed`."""
    return write_csv(path, BENEFICIARY_COLUMNS, beneficiary_rows(seed, count), on_progress)


def write_records(
    path: Path, count: int, seed: int | str, bad: int = 0, on_progress: Progress | None = None
) -> int:
    """The legacy records file: `count` valid records and `bad` broken lines."""
    return write_csv(path, RECORD_COLUMNS, record_lines(seed, count, bad), on_progress)
