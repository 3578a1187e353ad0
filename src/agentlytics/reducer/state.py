"""Reducer state: connections, threads, turns, started items — every map bounded.

When entries leave (the rule for each map):

* ``connections`` — on :class:`ConnectionClosed`; cap ``MAX_CONNECTIONS`` (oldest evicted).
* ``threads`` — on ``thread/closed``, or when their connection closes; cap ``MAX_THREADS``.
* ``turns`` — when the turn event has been emitted and no started tool item of the turn is still
  open; an emitted turn with open items leaves when its thread starts another turn, or its
  thread leaves; a turn that never completes leaves with its thread; cap ``MAX_TURNS``.
* ``item_starts`` — when the item completes, or its turn leaves; cap ``MAX_ITEMS``.
* ``emitted_turns`` — ids of the most recently reported turns, so duplicated facts never
  re-emit them; the oldest leave beyond ``MAX_REPORTED_TURNS`` (duplicates arrive close to the
  original; one older than that many turns would be reported again).
* ``item_reviews`` — when the reviewed item's tool event is built, or its turn leaves; cap
  ``MAX_ITEM_REVIEWS``.
* ``requests`` (pending turn/start, steer, interrupt) — on their response or error, or when
  their connection closes; cap ``MAX_REQUESTS``.

Every eviction by cap is counted in ``evictions`` (and shown in the replay report), so memory
after a million facts depends on what is open, not on history.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentlytics.bounded import BoundedMap
from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.facts import TokenUsage, TurnCodexError, TurnResolvedConfig
from agentlytics.protocol.wire import RequestId
from agentlytics.vocabulary import InitializationMode, TurnStatus

MAX_CONNECTIONS = 1_024
MAX_THREADS = 100_000
MAX_TURNS = 50_000
MAX_ITEMS = 200_000
MAX_REQUESTS = 10_000
MAX_ITEM_REVIEWS = 100_000
MAX_REPORTED_TURNS = 4_096

#: Tool kinds counted on the turn event, by item type.
TOOL_COUNT_KIND = {
    "commandExecution": "shell_command",
    "fileChange": "file_change",
    "mcpToolCall": "mcp_tool_call",
    "dynamicToolCall": "dynamic_tool_call",
    "collabAgentToolCall": "subagent_tool_call",
    "subAgentActivity": "subagent_tool_call",
    "webSearch": "web_search",
    "imageGeneration": "image_generation",
}


@dataclass(slots=True)
class ConnectionState:
    app_server_client: AppServerClient
    runtime: Runtime


@dataclass(slots=True)
class ThreadMetadata:
    session_id: str
    thread_source: str | None
    initialization_mode: InitializationMode
    subagent_source: str | None
    parent_thread_id: str | None


@dataclass(slots=True)
class ThreadState:
    connection_id: int | None = None
    metadata: ThreadMetadata | None = None
    #: Emitted turns kept alive for still-open tool items (dropped at the thread's next turn).
    lingering_turns: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TurnCompletion:
    status: TurnStatus | None
    turn_error: Any
    completed_at: int
    duration_ms: int | None
    observed_at_ms: int = 0


@dataclass(slots=True)
class ToolCounts:
    total: int = 0
    shell_command: int = 0
    file_change: int = 0
    mcp_tool_call: int = 0
    dynamic_tool_call: int = 0
    subagent_tool_call: int = 0
    web_search: int = 0
    image_generation: int = 0


@dataclass(slots=True)
class TurnState:
    thread_id: str | None = None
    connection_id: int | None = None
    num_input_images: int | None = None
    resolved_config: TurnResolvedConfig | None = None
    started_at: int | None = None
    token_usage: TokenUsage | None = None
    completed: TurnCompletion | None = None
    codex_error: TurnCodexError | None = None
    latest_diff: str | None = None
    steer_count: int = 0
    explicit_interrupt_requested_at_ms: int | None = None
    tool_counts: ToolCounts = field(default_factory=ToolCounts)
    #: Collab calls and subagent activities are counted once per item id.
    counted_subagent_items: set[str] = field(default_factory=set)
    open_items: set[str] = field(default_factory=set)
    emitted: bool = False


@dataclass(slots=True)
class ItemReviewSummary:
    """Reviews of one tool item, denormalized onto its terminal tool event (spec §5.4)."""

    review_count: int = 0
    guardian_review_count: int = 0
    user_review_count: int = 0
    final_approval_outcome: str = "unknown"
    requested_additional_permissions: bool = False
    requested_network_access: bool = False


@dataclass(slots=True)
class PendingRequest:
    """A turn/start, turn/steer or turn/interrupt waiting for its response."""

    method: str
    thread_id: str
    num_input_images: int = 0
    expected_turn_id: str | None = None
    turn_id: str | None = None
    observed_at_ms: int = 0


class ReducerState:
    """All maps the reducer keeps, with their caps and eviction counts."""

    def __init__(self) -> None:
        self.evictions: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.connections: BoundedMap[int, ConnectionState] = BoundedMap(
            "connections", MAX_CONNECTIONS, self._evicted
        )
        self.threads: BoundedMap[str, ThreadState] = BoundedMap(
            "threads", MAX_THREADS, self._evicted
        )
        self.turns: BoundedMap[str, TurnState] = BoundedMap("turns", MAX_TURNS, self._evicted)
        self.item_starts: BoundedMap[tuple[str, str, str], int] = BoundedMap(
            "item starts", MAX_ITEMS, self._evicted
        )
        self.requests: BoundedMap[tuple[int, RequestId], PendingRequest] = BoundedMap(
            "requests", MAX_REQUESTS, self._evicted
        )
        #: Turns whose event was emitted: a late or duplicated fact never emits them again.
        self.emitted_turns: BoundedMap[str, None] = BoundedMap(
            "emitted turn ids", MAX_REPORTED_TURNS, None
        )
        self.item_reviews: BoundedMap[tuple[str, str, str], ItemReviewSummary] = BoundedMap(
            "item review summaries", MAX_ITEM_REVIEWS, self._evicted
        )

    def _evicted(self, name: str, key: Any, value: Any) -> None:
        self.evictions[name] += 1

    def drop(self, reason: str) -> None:
        """Count an event or update dropped for a missing join (upstream logs a warning)."""
        self.drops[reason] += 1

    # --- joins ----------------------------------------------------------------------------------

    def thread_connection_id(self, thread_id: str) -> int | None:
        """The thread's connection, else the nearest ancestor's (subagents inherit the parent's)."""
        seen: set[str] = set()
        current: str | None = thread_id
        while current is not None and current not in seen:
            seen.add(current)
            thread = self.threads.get(current)
            if thread is None:
                return None
            if thread.connection_id is not None:
                return thread.connection_id
            current = thread.metadata.parent_thread_id if thread.metadata else None
        return None

    def thread_context(
        self, thread_id: str, event_name: str, connection_id: int | None = None
    ) -> tuple[ConnectionState, ThreadMetadata] | None:
        """(connection, metadata) for a thread-scoped event, or a counted drop (spec §2.11)."""
        conn_id = (
            connection_id if connection_id is not None else self.thread_connection_id(thread_id)
        )
        if conn_id is None:
            self.drop(f"{event_name}: missing thread_connection")
            return None
        connection = self.connections.get(conn_id)
        if connection is None:
            self.drop(f"{event_name}: missing connection")
            return None
        thread = self.threads.get(thread_id)
        if thread is None or thread.metadata is None:
            self.drop(f"{event_name}: missing thread_metadata")
            return None
        return connection, thread.metadata

    # --- removal rules -----------------------------------------------------------------------

    def remove_turn(self, turn_id: str) -> None:
        turn = self.turns.pop(turn_id, None)
        if turn is None or turn.thread_id is None:
            return
        for item_id in turn.open_items:
            self.item_starts.pop((turn.thread_id, turn_id, item_id), None)
            self.item_reviews.pop((turn.thread_id, turn_id, item_id), None)

    def remove_thread(self, thread_id: str) -> None:
        self.threads.pop(thread_id, None)
        for turn_id in [k for k, v in self.turns.items() if v.thread_id == thread_id]:
            self.remove_turn(turn_id)

    def remove_connection(self, connection_id: int) -> None:
        self.connections.pop(connection_id, None)
        for key in [k for k in self.requests if k[0] == connection_id]:
            del self.requests[key]
        for thread_id in [k for k, v in self.threads.items() if v.connection_id == connection_id]:
            self.remove_thread(thread_id)
