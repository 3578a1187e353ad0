"""Every event family, declared once, in the order their handlers run.

A family is what one kind of analytics needs end to end: the wire methods it reads at the edge
(and its per-connection edge state), the facts its reducer handlers take, the after-turn hooks it
adds, and the event types it emits. :data:`FAMILIES` is the one list the edge
(``WireObserver``) and the ``Reducer`` are built from — nothing registers at import time.

Order is list order, and it matters in two places, both kept as they were:

* reducer: a fact several families handle runs their handlers in list order. ``reviews`` comes
  before ``threads``, ``turns`` and ``tools``, so a command review held for its item goes out
  before the item's tool event and the turn event, and before a closing thread or connection
  takes the state it reads;
* edge: turn-completed hooks run in list order (``lifecycle``'s compactions, then ``reviews``'
  aborted approvals), all before the core's ``TurnCompleted``.

This module composes ``observe`` and ``reducer``; neither imports it (``WireObserver`` and
``Reducer`` take the list as an argument; ``tests/test_import_graph.py`` fails on a cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agentlytics.events import fingerprints as fingerprint_events
from agentlytics.events import library as library_events
from agentlytics.events import lifecycle as lifecycle_events
from agentlytics.events import reviews as review_events
from agentlytics.events import tools as tool_events
from agentlytics.events import turns as turn_events
from agentlytics.events.envelope import EventParams
from agentlytics.facts import Fact
from agentlytics.observe import lifecycle as lifecycle_edge
from agentlytics.observe import reviews as review_edge
from agentlytics.observe.edge import EdgeHandlers
from agentlytics.reducer import fingerprints, library, lifecycle, reviews, threads, tools, turns
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import AfterTurnHook


@dataclass(frozen=True, slots=True)
class Family:
    """One event family: its edge handlers, its reducer handlers and the events it emits.

    ``edge`` is empty for the families whose wire the observer's core reads (connections,
    threads, turns, items): their facts come from ``WireObserver`` itself.
    """

    name: str
    #: Fact type → handler; the family handles exactly these fact types.
    reducers: Mapping[type[Fact], Handler]
    #: The ``event_params`` types it emits (each catalog type belongs to exactly one family).
    events: tuple[type[EventParams], ...]
    edge: EdgeHandlers = field(default_factory=EdgeHandlers)
    #: Run after a turn event is built, in list order.
    after_turn: tuple[AfterTurnHook, ...] = ()

    @property
    def facts(self) -> tuple[type[Fact], ...]:
        """The fact types this family handles."""
        return tuple(self.reducers)


LIFECYCLE = Family(
    "lifecycle",
    edge=lifecycle_edge.EDGE,
    reducers=lifecycle.HANDLERS,
    events=(
        lifecycle_events.HookRun,
        lifecycle_events.GoalEvent,
        lifecycle_events.CompactionEvent,
        lifecycle_events.ThreadArchiveEvent,
    ),
)
REVIEWS = Family(
    "reviews",
    edge=review_edge.EDGE,
    reducers=reviews.HANDLERS,
    events=(review_events.ReviewEvent, review_events.GuardianReviewEvent),
)
THREADS = Family(
    "threads",
    reducers=threads.HANDLERS,
    events=(lifecycle_events.ThreadInitialized,),
)
TURNS = Family(
    "turns",
    reducers=turns.HANDLERS,
    events=(turn_events.TurnEvent, lifecycle_events.TurnSteerEvent),
)
TOOLS = Family(
    "tools",
    reducers=tools.HANDLERS,
    events=(
        tool_events.CommandExecutionEvent,
        tool_events.FileChangeEvent,
        tool_events.McpToolCallEvent,
        tool_events.DynamicToolCallEvent,
        tool_events.CollabAgentToolCallEvent,
        tool_events.WebSearchEvent,
        tool_events.ImageGenerationEvent,
    ),
)
FINGERPRINTS = Family(
    "fingerprints",
    reducers={},
    after_turn=fingerprints.AFTER_TURN,
    events=(fingerprint_events.AcceptedLineFingerprints,),
)
LIBRARY = Family(
    "library",
    reducers=library.HANDLERS,
    events=(
        library_events.SkillInvocationParams,
        library_events.AppMentioned,
        library_events.AppUsed,
        library_events.PluginUsed,
        library_events.PluginInstalled,
        library_events.PluginUninstalled,
        library_events.PluginEnabled,
        library_events.PluginDisabled,
        # In the catalog for receivers (the collector accepts them); nothing here builds them.
        library_events.ArtifactOperation,
        library_events.PluginMeasurement,
        library_events.PluginInstallRequested,
        library_events.PluginInstallFailed,
        library_events.ExternalAgentImportComplete,
        library_events.ExternalAgentImportFailure,
    ),
)

#: The project's families, in run order (see the module docstring).
FAMILIES: tuple[Family, ...] = (LIFECYCLE, REVIEWS, THREADS, TURNS, TOOLS, FINGERPRINTS, LIBRARY)
