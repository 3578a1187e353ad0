"""The lifecycle family's per-connection edge state: goals seen and compactions under way.

One :class:`LifecycleEdge` per observer (the observer owns it), bounded; read by
:mod:`agentlytics.observe.goals` and :mod:`agentlytics.observe.compaction`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentlytics.bounded import BoundedMap
from agentlytics.observe.edge import WireObserver
from agentlytics.vocabulary import CompactionPhase, CompactionTrigger

MAX_THREADS = 50_000
MAX_OPEN_COMPACTIONS = 1_024


@dataclass(slots=True)
class GoalView:
    """The last persisted state of a thread's goal, as the wire showed it."""

    goal_id: str
    created_at: int
    objective: str
    status: str
    has_token_budget: bool
    tokens_used: int
    time_used_seconds: int


@dataclass(slots=True)
class CompactionRun:
    """A compaction item that started and has not completed yet."""

    thread_id: str
    turn_id: str
    trigger: CompactionTrigger
    phase: CompactionPhase
    started_at_ms: int
    #: The thread's context size when the compaction began (upstream's ``begin``).
    context_tokens_before: int = 0


class LifecycleEdge:
    """What the lifecycle families remember about one connection."""

    def __init__(self, observer: WireObserver | None = None) -> None:
        self.goals: BoundedMap[str, GoalView] = BoundedMap("edge goals", MAX_THREADS)
        #: (thread, goal createdAt) → goals already given an id there (a clear then a new goal
        #: in the same second must not reuse the id).
        self.goal_generations: BoundedMap[tuple[str, int], int] = BoundedMap(
            "edge goal generations", MAX_THREADS
        )
        #: Threads whose ``thread/compact/start`` succeeded and whose compact turn has not begun.
        self.compact_requested: BoundedMap[str, None] = BoundedMap(
            "edge compact requests", MAX_THREADS
        )
        #: Standalone compact turns → whether a compaction item was seen in them.
        self.compact_turns: BoundedMap[str, bool] = BoundedMap(
            "edge compact turns", MAX_OPEN_COMPACTIONS
        )
        self.open_compactions: BoundedMap[tuple[str, str, str], CompactionRun] = BoundedMap(
            "edge open compactions", MAX_OPEN_COMPACTIONS
        )


def lifecycle_state(observer: WireObserver) -> LifecycleEdge:
    """The lifecycle edge state of one connection (the observer owns it)."""
    return observer.edge(LifecycleEdge)
