"""The reducer: ``ingest(fact) -> list[event]``, pure and deterministic.

No clock, no I/O, no randomness: the same facts always give the same events in the same order.
Each event family lives in its own module; this one only routes facts to them. Families added
later register their handlers in :data:`HANDLERS` (one fact type may have several handlers,
run in registration order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentlytics.events.envelope import TrackEvent
from agentlytics.facts import (
    ClientRequest,
    ClientResponse,
    ConnectionClosed,
    ErrorResponse,
    Fact,
    Initialize,
    ItemCompleted,
    ItemStarted,
    SubAgentThreadStarted,
    ThreadClosed,
    TurnCodexError,
    TurnCompleted,
    TurnDiffUpdated,
    TurnResolvedConfig,
    TurnStarted,
    TurnTokenUsage,
)
from agentlytics.reducer import threads, tools, turns
from agentlytics.reducer.state import IDLE_SWEEP_FACTS, ReducerState

Handler = Callable[[ReducerState, Any], list[TrackEvent]]


def _client_response(state: ReducerState, fact: ClientResponse) -> list[TrackEvent]:
    if fact.method in threads.INITIALIZATION_MODE:
        return threads.on_thread_response(state, fact)
    return turns.on_turn_response(state, fact)


HANDLERS: dict[type[Fact], list[Handler]] = {
    Initialize: [threads.on_initialize],
    ConnectionClosed: [threads.on_connection_closed],
    ClientRequest: [turns.on_client_request],
    ClientResponse: [_client_response],
    ErrorResponse: [turns.on_error_response],
    SubAgentThreadStarted: [threads.on_subagent_thread_started],
    ThreadClosed: [threads.on_thread_closed],
    TurnStarted: [turns.on_turn_started],
    TurnCompleted: [turns.on_turn_completed],
    TurnDiffUpdated: [turns.on_turn_diff],
    TurnResolvedConfig: [turns.on_resolved_config],
    TurnTokenUsage: [turns.on_token_usage],
    TurnCodexError: [turns.on_codex_error],
    ItemStarted: [tools.on_item_started],
    ItemCompleted: [tools.on_item_completed],
}


def register(fact_type: type[Fact], handler: Handler, *, first: bool = False) -> None:
    """Add a family's handler for a fact type (``first`` runs it before existing ones)."""
    handlers = HANDLERS.setdefault(fact_type, [])
    if handler not in handlers:
        handlers.insert(0, handler) if first else handlers.append(handler)


class Reducer:
    """Folds facts into analytics events, keeping only bounded per-connection/thread/turn state."""

    def __init__(self) -> None:
        self.state = ReducerState()
        self.facts = 0
        self._sweep_at = IDLE_SWEEP_FACTS

    def ingest(self, fact: Fact) -> list[TrackEvent]:
        self.facts += 1
        if self.facts >= self._sweep_at:
            self._sweep_at += IDLE_SWEEP_FACTS
            self.state.sweep_idle()
        handlers = HANDLERS.get(type(fact))
        if not handlers:
            self.state.drop(f"unhandled fact {type(fact).__name__}")
            return []
        if len(handlers) == 1:
            return handlers[0](self.state, fact)
        events: list[TrackEvent] = []
        for handler in handlers:
            events += handler(self.state, fact)
        return events
