"""Reducer state: connections, threads, turns, started items — every map bounded.

When entries leave (the rule for each map):

* ``connections`` — on :class:`ConnectionClosed`; cap ``MAX_CONNECTIONS`` (oldest evicted).
* ``threads`` — on ``thread/closed``, or when their connection closes, or when they go quiet:
  real app-servers never send ``thread/closed`` (a thread simply stops), so a thread that has
  neither started a turn nor been started, resumed or forked for ``IDLE_THREAD_SWEEPS`` sweeps
  of ``IDLE_SWEEP_FACTS`` facts (~49k facts, ~150k messages of real traffic) leaves with its
  turns, counted as an ``idle threads`` eviction (the edge applies the same rule to its thread
  views, every ``IDLE_SWEEP_MESSAGES`` messages). A late fact of such a thread is a counted
  drop (missing thread metadata); a ``thread/resume`` brings it back. Cap ``MAX_THREADS``.
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
* ``pending_reviews`` (approval requests, keyed by connection *and* request id, since each
  connection numbers its server requests from 0) — on the answer or abort, when their thread
  closes or their connection closes (counted as unanswered); cap ``MAX_PENDING_REVIEWS``.
* ``finished_reviews`` — keys of the most recently finished approval requests, so a duplicate or
  late answer is counted as such; the oldest leave beyond ``MAX_FINISHED_REVIEWS``.
* ``held_reviews`` — finished command reviews whose item is still running, waiting for the
  item's final source (decision 7): released (emitted, never dropped) when the item completes,
  its turn completes, its thread or connection closes, or — oldest first — beyond
  ``MAX_HELD_REVIEWS``.
* ``turn_items`` — per (thread, turn), the command source and MCP server/tool of its tool items,
  so a review can name its item's source and an MCP approval can find its item; leave when the
  turn completes or its thread leaves; caps ``MAX_REVIEW_TURNS`` turns, ``MAX_ITEMS_PER_TURN``
  items per turn.

Every eviction by cap is counted in ``evictions`` (and shown in the replay report), so memory
after a million facts depends on what is open, not on history.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from agentlytics.bounded import BoundedMap
from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import TrackEvent
from agentlytics.events.reviews import ReviewEvent, ReviewTrigger, SubjectKind
from agentlytics.facts import TokenUsage, TurnCodexError, TurnResolvedConfig
from agentlytics.protocol.wire import RequestId
from agentlytics.vocabulary import FinalApprovalOutcome, InitializationMode, TurnStatus

MAX_CONNECTIONS = 1_024
MAX_THREADS = 100_000
MAX_TURNS = 50_000
MAX_ITEMS = 200_000
MAX_REQUESTS = 10_000
MAX_ITEM_REVIEWS = 100_000
MAX_REPORTED_TURNS = 4_096
MAX_PENDING_REVIEWS = 10_000
MAX_FINISHED_REVIEWS = 4_096
MAX_HELD_REVIEWS = 10_000
MAX_REVIEW_TURNS = 50_000
MAX_ITEMS_PER_TURN = 10_000
#: Idle threads are looked for every this many facts …
IDLE_SWEEP_FACTS = 4_096
#: … and leave after this many sweeps without a turn start or thread start/resume/fork.
IDLE_THREAD_SWEEPS = 12

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


class ThreadScope(msgspec.Struct, frozen=True, gc=False):
    """The thread-scoped fields thread events carry (spec §2.11), resolved once per event.

    The thread and its session, the connection's client and runtime, and where the thread came
    from. Every event of a thread copies these from one value, so they cannot disagree.
    """

    thread_id: str
    session_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    initialization_mode: InitializationMode
    subagent_source: str | None
    parent_thread_id: str | None

    @classmethod
    def of(cls, thread_id: str, connection: ConnectionState, meta: ThreadMetadata) -> ThreadScope:
        return cls(
            thread_id,
            meta.session_id,
            connection.app_server_client,
            connection.runtime,
            meta.thread_source,
            meta.initialization_mode,
            meta.subagent_source,
            meta.parent_thread_id,
        )


@dataclass(slots=True)
class ThreadState:
    connection_id: int | None = None
    metadata: ThreadMetadata | None = None
    #: Emitted turns kept alive for still-open tool items (dropped at the thread's next turn).
    lingering_turns: list[str] = field(default_factory=list)
    #: The idle sweep (``ReducerState.epoch``) at the thread's last start/resume or turn start.
    active_epoch: int = 0


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
    final_approval_outcome: FinalApprovalOutcome = "unknown"
    requested_additional_permissions: bool = False
    requested_network_access: bool = False


@dataclass(slots=True)
class PendingReview:
    """A user review waiting for the client's answer (spec §1.6), keyed (connection, request)."""

    thread_id: str
    turn_id: str
    item_id: str | None
    review_id: str
    subject_kind: SubjectKind
    subject_name: str
    trigger: ReviewTrigger
    started_at_ms: int
    requested_additional_permissions: bool
    requested_network_access: bool
    #: Counted on the item's tool event (command, file change, MCP with an item id).
    denormalize: bool
    #: The review event's ``command_source`` comes from the reviewed command item.
    command_item: bool


@dataclass(slots=True)
class HeldReview:
    """A finished review event waiting for its command item's final source."""

    event: ReviewEvent
    connection_id: int | None


@dataclass(slots=True)
class ToolItemInfo:
    """What a review needs to know about a tool item of a running turn."""

    item_type: str
    source: str | None = None
    server: str | None = None
    tool: str | None = None
    open: bool = True


@dataclass(slots=True)
class PendingRequest:
    """A turn/start, turn/steer or turn/interrupt waiting for its response."""

    method: str
    thread_id: str
    num_input_images: int = 0
    expected_turn_id: str | None = None
    turn_id: str | None = None
    observed_at_ms: int = 0


#: Runs right after a turn event is built (accepted-line fingerprints follow it).
AfterTurnHook = Callable[["ReducerState", str, TurnState], list[TrackEvent]]


class ReducerState:
    """All maps the reducer keeps, with their caps and eviction counts."""

    def __init__(self) -> None:
        #: The families' after-turn hooks, in list order (set by ``Reducer``).
        self.after_turn: tuple[AfterTurnHook, ...] = ()
        #: Idle sweeps so far (see ``sweep_idle``).
        self.epoch = 0
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
        self.pending_reviews: BoundedMap[tuple[int, RequestId], PendingReview] = BoundedMap(
            "pending reviews", MAX_PENDING_REVIEWS, self._evicted
        )
        self.finished_reviews: BoundedMap[tuple[int, RequestId], None] = BoundedMap(
            "finished review ids", MAX_FINISHED_REVIEWS, None
        )
        #: Capped by the reviews family itself: an overflowing entry is emitted, not dropped.
        self.held_reviews: OrderedDict[tuple[str, str, str], list[HeldReview]] = OrderedDict()
        self.turn_items: BoundedMap[tuple[str, str], dict[str, ToolItemInfo]] = BoundedMap(
            "review turn items", MAX_REVIEW_TURNS, self._evicted
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

    def thread_scope(
        self, thread_id: str, event_name: str, connection_id: int | None = None
    ) -> ThreadScope | None:
        """The scope of a thread-scoped event, or a counted drop (spec §2.11)."""
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
        return ThreadScope.of(thread_id, connection, thread.metadata)

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
        for turn_key in [k for k in self.turn_items if k[0] == thread_id]:
            del self.turn_items[turn_key]
        for item_key in [k for k in self.held_reviews if k[0] == thread_id]:
            del self.held_reviews[item_key]
        for turn_id in [k for k, v in self.turns.items() if v.thread_id == thread_id]:
            self.remove_turn(turn_id)

    def sweep_idle(self) -> None:
        """Threads quiet for ``IDLE_THREAD_SWEEPS`` sweeps leave (counted as evictions)."""
        self.epoch += 1
        cutoff = self.epoch - IDLE_THREAD_SWEEPS
        idle = [k for k, v in self.threads.items() if v.active_epoch <= cutoff]
        if not idle:
            return
        for thread_id in idle:
            self.threads.pop(thread_id, None)
        self.evictions["idle threads"] += len(idle)
        gone = set(idle)
        for turn_key in [k for k in self.turn_items if k[0] in gone]:
            del self.turn_items[turn_key]
        for item_key in [k for k in self.held_reviews if k[0] in gone]:
            del self.held_reviews[item_key]
        for turn_id in [k for k, v in self.turns.items() if v.thread_id in gone]:
            self.remove_turn(turn_id)

    def remove_connection(self, connection_id: int) -> None:
        self.connections.pop(connection_id, None)
        for key in [k for k in self.requests if k[0] == connection_id]:
            del self.requests[key]
        for review_key in [k for k in self.pending_reviews if k[0] == connection_id]:
            del self.pending_reviews[review_key]
        for thread_id in [k for k, v in self.threads.items() if v.connection_id == connection_id]:
            self.remove_thread(thread_id)
