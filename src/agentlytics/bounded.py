"""A dict with a size cap: the one rule that keeps every stateful map in the pipeline bounded."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(OrderedDict[K, V]):
    """Insertion-ordered map that evicts its oldest entry beyond ``cap`` and counts it.

    Entries normally leave by an explicit rule (turn completed, thread closed, ...); the cap is
    the backstop for entries whose terminal fact never arrives. ``on_evict`` lets the owner
    count the eviction (with the map's name) and clean up related state. Assign with
    ``m[key] = value``; that is the only path that enforces the cap. (An ``OrderedDict``, not a
    plain dict: popping the oldest entry of a dict under steady churn costs O(n) per pop.)
    """

    def __init__(
        self, name: str, cap: int, on_evict: Callable[[str, K, V], None] | None = None
    ) -> None:
        super().__init__()
        self.name = name
        self.cap = cap
        self.evicted = 0
        self._on_evict = on_evict

    def __setitem__(self, key: K, value: V) -> None:
        if len(self) >= self.cap and key not in self:
            oldest, old_value = self.popitem(last=False)
            self.evicted += 1
            if self._on_evict is not None:
                self._on_evict(self.name, oldest, old_value)
        OrderedDict.__setitem__(self, key, value)
