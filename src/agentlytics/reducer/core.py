"""The reducer: ``ingest(fact) -> list[event]``, pure and deterministic.

No clock, no I/O, no randomness: the same facts always give the same events in the same order.
Each event family lives in its own module and declares its handlers as data; the reducer is
built from the ordered family list (``agentlytics.families``): a fact type handled by several
families runs their handlers in list order. Nothing registers at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from agentlytics.events.envelope import TrackEvent
from agentlytics.facts import Fact
from agentlytics.reducer.state import IDLE_SWEEP_FACTS, AfterTurnHook, ReducerState

Handler = Callable[[ReducerState, Any], list[TrackEvent]]


class ReducerFamily(Protocol):
    """What the reducer reads of a family (``agentlytics.families.Family`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def reducers(self) -> Mapping[type[Fact], Handler]: ...

    @property
    def after_turn(self) -> tuple[AfterTurnHook, ...]: ...


def dispatch_table(families: Sequence[ReducerFamily]) -> dict[type[Fact], tuple[Handler, ...]]:
    """Fact type → its handlers, in family-list order."""
    table: dict[type[Fact], list[Handler]] = {}
    for family in families:
        for fact_type, handler in family.reducers.items():
            table.setdefault(fact_type, []).append(handler)
    return {fact_type: tuple(handlers) for fact_type, handlers in table.items()}


class Reducer:
    """Folds facts into analytics events, keeping only bounded per-connection/thread/turn state."""

    def __init__(self, families: Sequence[ReducerFamily]) -> None:
        self._handlers = dispatch_table(families)
        self.state = ReducerState()
        self.state.after_turn = tuple(hook for family in families for hook in family.after_turn)
        self.facts = 0
        self._sweep_at = IDLE_SWEEP_FACTS

    def ingest(self, fact: Fact) -> list[TrackEvent]:
        self.facts += 1
        if self.facts >= self._sweep_at:
            self._sweep_at += IDLE_SWEEP_FACTS
            self.state.sweep_idle()
        handlers = self._handlers.get(type(fact))
        if not handlers:
            self.state.drop(f"unhandled fact {type(fact).__name__}")
            return []
        if len(handlers) == 1:
            return handlers[0](self.state, fact)
        events: list[TrackEvent] = []
        for handler in handlers:
            events += handler(self.state, fact)
        return events
