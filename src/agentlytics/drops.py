"""Counted drops: everything the pipeline could not use, with the reason, never an exception."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Drop:
    """One sample of a drop, kept for the report (the first few per reason)."""

    reason: str
    detail: str
    where: str


@dataclass(slots=True)
class Drops:
    """Counts of dropped input by reason, plus a few samples of each for the report."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: list[Drop] = field(default_factory=list)
    samples_per_reason: int = 3

    def count(self, reason: str, detail: str = "", where: str = "") -> None:
        n = self.counts[reason]
        self.counts[reason] = n + 1
        if n < self.samples_per_reason:
            self.samples.append(Drop(reason, detail[:300], where))

    def merge(self, other: Drops) -> None:
        for drop in other.samples:
            if self.counts[drop.reason] < self.samples_per_reason:
                self.samples.append(drop)
        self.counts.update(other.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
