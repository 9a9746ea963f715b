"""Drawing from a fixed weighted list, fast enough for millions of draws."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """Items with weights; `pick` is one bisect on precomputed cumulative weights
    (random.choices recomputes them on every call unless given, and allocates a list)."""

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        self.items = tuple(items)
        self._cumulative = list(accumulate(float(w) for w in weights))
        if len(self._cumulative) != len(self.items) or not self.items:
            raise ValueError("one weight per item, and at least one item")
        self._total = self._cumulative[-1]
        self._last = len(self.items) - 1
        if self._total <= 0:
            raise ValueError("weights must add up to more than zero")

    @classmethod
    def of(cls, pairs: Iterable[tuple[T, float]]) -> Weighted[T]:
        items, weights = zip(*pairs, strict=True)
        return cls(items, weights)

    def pick(self, rng: random.Random) -> T:
        # Zero-weight items are never picked: bisect_right skips equal cumulative sums.
        # hi: random() * total may round up to total itself.
        return self.items[bisect_right(self._cumulative, rng.random() * self._total, 0, self._last)]

    def share(self, item: T) -> float:
        """The probability of `item` (for pool sizes proportional to the weights)."""
        i = self.items.index(item)
        below = self._cumulative[i - 1] if i else 0.0
        return (self._cumulative[i] - below) / self._total
