"""Tool items → the seven tool-item events, and per-turn tool counts (spec §3.4, §4).

``item/started`` records the start time; ``item/completed`` counts the tool on its turn and, when
the start was seen and the thread context resolves, emits the kind's event with
``duration_ms = completed_at_ms - started_at_ms`` and the item's review summary.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import EventParams, TrackEvent, track
from agentlytics.events.tools import (
    CollabAgentToolCallEvent,
    CommandExecutionEvent,
    DynamicToolCallEvent,
    FileChangeEvent,
    ImageGenerationEvent,
    McpToolCallEvent,
    WebSearchEvent,
)
from agentlytics.facts import Fact, ItemCompleted, ItemStarted
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import (
    TOOL_COUNT_KIND,
    ItemReviewSummary,
    ReducerState,
    ThreadScope,
    TurnState,
)
from agentlytics.vocabulary import (
    FailureKind,
    FinalApprovalOutcome,
    TerminalStatus,
    WebSearchActionName,
)

TRACKED_TOOL_ITEMS = frozenset(
    {
        "commandExecution",
        "fileChange",
        "mcpToolCall",
        "dynamicToolCall",
        "collabAgentToolCall",
        "webSearch",
        "imageGeneration",
    }
)

COMMAND_TOOL_NAME = {
    "agent": "shell",
    "userShell": "user_shell",
    "unifiedExecStartup": "unified_exec",
    "unifiedExecInteraction": "unified_exec",
}

COLLAB_TOOL_NAME = {
    "spawnAgent": "spawn_agent",
    "sendInput": "send_input",
    "resumeAgent": "resume_agent",
    "wait": "wait_agent",
    "closeAgent": "close_agent",
    "sendMessage": "send_message",
    "followupTask": "followup_task",
    "interruptAgent": "interrupt_agent",
    "listAgents": "list_agents",
}

WEB_SEARCH_ACTION: dict[str, WebSearchActionName] = {
    "search": "search",
    "openPage": "open_page",
    "findInPage": "find_in_page",
    "other": "other",
}

_Terminal = dict[str, tuple[TerminalStatus, FailureKind | None]]

#: item status → (terminal_status, failure_kind); a status not listed yields no event.
_APPROVABLE_STATUS: _Terminal = {
    "completed": ("completed", None),
    "failed": ("failed", "tool_error"),
    "declined": ("rejected", "approval_denied"),
}
_PLAIN_STATUS: _Terminal = {"completed": ("completed", None), "failed": ("failed", "tool_error")}
_COLLAB_STATUS: _Terminal = {**_PLAIN_STATUS, "interrupted": ("interrupted", None)}

_NO_REVIEWS = ItemReviewSummary()


def on_item_started(state: ReducerState, fact: ItemStarted) -> list[TrackEvent]:
    if fact.item_type not in TRACKED_TOOL_ITEMS:
        return []
    if fact.started_at_ms is None or fact.started_at_ms < 0:
        return []
    state.item_starts[(fact.thread_id, fact.turn_id, fact.item_id)] = fact.started_at_ms
    turn = state.turns.get(fact.turn_id)
    if turn is not None:
        turn.open_items.add(fact.item_id)
    return []


def _count(turn: TurnState, fact: ItemCompleted) -> None:
    kind = TOOL_COUNT_KIND[fact.item_type]
    if kind == "subagent_tool_call":
        # A subagent finishing is not a tool call, and one call may complete twice.
        if isinstance(fact.item, t.SubAgentActivityItem) and fact.item.kind == "completed":
            return
        if fact.item_id in turn.counted_subagent_items:
            return
        turn.counted_subagent_items.add(fact.item_id)
    counts = turn.tool_counts
    counts.total += 1
    setattr(counts, kind, getattr(counts, kind) + 1)


def on_item_completed(state: ReducerState, fact: ItemCompleted) -> list[TrackEvent]:
    if fact.item_type not in TOOL_COUNT_KIND:
        return []
    turn = state.turns.get(fact.turn_id)
    if turn is None:
        state.drop("tool count update: missing turn state")
        return []
    _count(turn, fact)
    if fact.item_type not in TRACKED_TOOL_ITEMS:
        return []
    key = (fact.thread_id, fact.turn_id, fact.item_id)
    started_at_ms = state.item_starts.pop(key, None)
    turn.open_items.discard(fact.item_id)
    events = _item_event(state, fact, started_at_ms)
    state.item_reviews.pop(key, None)
    if turn.emitted and not turn.open_items:
        state.remove_turn(fact.turn_id)
    return events


def _item_event(
    state: ReducerState, fact: ItemCompleted, started_at_ms: int | None
) -> list[TrackEvent]:
    if started_at_ms is None:
        state.drop("tool item: missing item started notification")
        return []
    completed_at_ms = fact.completed_at_ms
    if completed_at_ms is None or completed_at_ms < 0 or fact.item is None:
        return []
    scope = state.thread_scope(fact.thread_id, "tool item")
    if scope is None:
        return []
    reviews = state.item_reviews.get((fact.thread_id, fact.turn_id, fact.item_id), _NO_REVIEWS)
    built = _build(fact.item, _Base(fact, scope, started_at_ms, completed_at_ms, reviews))
    if built is None:
        state.drop(f"tool item: non-terminal status ({fact.item_type})")
        return []
    return [track(built)]


class ToolBaseFields(NamedTuple):
    """``ToolItemBase``'s fields, typed and in its order (a test pins both): every kind's event
    starts with them, so it takes them positionally (``Kind(*base, own_field=...)``)."""

    thread_id: str
    session_id: str
    turn_id: str
    item_id: str
    cell_id: str | None
    parent_call_id: str | None
    originating_response_id: str | None
    subsequent_response_id: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    tool_name: str
    started_at_ms: int
    completed_at_ms: int
    duration_ms: int | None
    execution_duration_ms: int | None
    review_count: int
    guardian_review_count: int
    user_review_count: int
    final_approval_outcome: FinalApprovalOutcome
    terminal_status: TerminalStatus
    failure_kind: FailureKind | None
    requested_additional_permissions: bool
    requested_network_access: bool


class _Base:
    """What every kind's event starts with (spec §4.0): built as a typed ``ToolItemBase``."""

    __slots__ = ("completed_at_ms", "fact", "reviews", "scope", "started_at_ms")

    def __init__(
        self,
        fact: ItemCompleted,
        scope: ThreadScope,
        started_at_ms: int,
        completed_at_ms: int,
        reviews: ItemReviewSummary,
    ) -> None:
        self.fact = fact
        self.scope = scope
        self.started_at_ms = started_at_ms
        self.completed_at_ms = completed_at_ms
        self.reviews = reviews

    def with_status(
        self,
        statuses: _Terminal,
        status: str,
        tool_name: str,
        execution_duration_ms: int | None,
    ) -> ToolBaseFields | None:
        """The base fields, or None for a status with no event."""
        terminal = statuses.get(status)
        if terminal is None:
            return None
        fact, scope, reviews = self.fact, self.scope, self.reviews
        duration = self.completed_at_ms - self.started_at_ms
        return ToolBaseFields(
            thread_id=scope.thread_id,
            session_id=scope.session_id,
            turn_id=fact.turn_id,
            item_id=fact.item_id,
            cell_id=None,
            parent_call_id=None,
            originating_response_id=None,
            subsequent_response_id=None,
            app_server_client=scope.app_server_client,
            runtime=scope.runtime,
            thread_source=scope.thread_source,
            subagent_source=scope.subagent_source,
            parent_thread_id=scope.parent_thread_id,
            tool_name=tool_name,
            started_at_ms=self.started_at_ms,
            completed_at_ms=self.completed_at_ms,
            duration_ms=duration if duration >= 0 else None,
            execution_duration_ms=(
                execution_duration_ms
                if execution_duration_ms is not None and execution_duration_ms >= 0
                else None
            ),
            review_count=reviews.review_count,
            guardian_review_count=reviews.guardian_review_count,
            user_review_count=reviews.user_review_count,
            final_approval_outcome=reviews.final_approval_outcome,
            terminal_status=terminal[0],
            failure_kind=terminal[1],
            requested_additional_permissions=reviews.requested_additional_permissions,
            requested_network_access=reviews.requested_network_access,
        )


def _count_actions(actions: list[t.CommandAction], kind: str) -> int:
    return sum(1 for action in actions if action.type == kind)


def _build(item: Any, base: _Base) -> EventParams | None:
    """The kind-specific event for a completed tool item, or None for a non-terminal status."""
    if isinstance(item, t.CommandExecutionItem):
        f = base.with_status(
            _APPROVABLE_STATUS,
            item.status,
            COMMAND_TOOL_NAME.get(item.source, item.source),
            item.duration_ms,
        )
        if f is None:
            return None
        actions = item.command_actions
        script = item.script_path if item.plugin_id and _safe_relative(item.script_path) else None
        return CommandExecutionEvent(
            *f,
            plugin_id=item.plugin_id,
            script_path=script,
            command_execution_source=item.source,
            exit_code=item.exit_code,
            command_total_action_count=len(actions),
            command_read_action_count=_count_actions(actions, "read"),
            command_list_files_action_count=_count_actions(actions, "listFiles"),
            command_search_action_count=_count_actions(actions, "search"),
            command_unknown_action_count=_count_actions(actions, "unknown"),
        )
    if isinstance(item, t.FileChangeItem):
        f = base.with_status(_APPROVABLE_STATUS, item.status, "apply_patch", None)
        if f is None:
            return None
        kinds = [change.kind for change in item.changes]
        return FileChangeEvent(
            *f,
            file_change_count=len(kinds),
            file_add_count=sum(1 for k in kinds if k.type == "add"),
            file_update_count=sum(1 for k in kinds if k.type == "update" and not k.move_path),
            file_delete_count=sum(1 for k in kinds if k.type == "delete"),
            file_move_count=sum(1 for k in kinds if k.type == "update" and k.move_path),
        )
    if isinstance(item, t.McpToolCallItem):
        f = base.with_status(_PLAIN_STATUS, item.status, item.tool, item.duration_ms)
        if f is None:
            return None
        return McpToolCallEvent(
            *f,
            mcp_server_name=item.server,
            mcp_tool_name=item.tool,
            mcp_error_present=item.error is not None,
            plugin_id=item.plugin_id,
            connector_id=item.app_context.connector_id if item.app_context else None,
        )
    if isinstance(item, t.DynamicToolCallItem):
        f = base.with_status(_PLAIN_STATUS, item.status, item.tool, item.duration_ms)
        if f is None:
            return None
        content = item.content_items
        return DynamicToolCallEvent(
            *f,
            dynamic_tool_name=item.tool,
            success=item.success,
            output_content_item_count=len(content) if content is not None else None,
            output_text_item_count=_content_count(content, "inputText"),
            output_image_item_count=_content_count(content, "inputImage"),
            output_audio_item_count=_content_count(content, "inputAudio"),
        )
    if isinstance(item, t.CollabAgentToolCallItem):
        f = base.with_status(
            _COLLAB_STATUS, item.status, COLLAB_TOOL_NAME.get(item.tool, item.tool), None
        )
        if f is None:
            return None
        states = [s.status for s in item.agents_states.values()]
        return CollabAgentToolCallEvent(
            *f,
            sender_thread_id=item.sender_thread_id,
            receiver_thread_count=len(item.receiver_thread_ids),
            receiver_thread_ids=list(item.receiver_thread_ids),
            requested_model=item.model,
            requested_reasoning_effort=item.reasoning_effort,
            agent_state_count=len(states),
            completed_agent_count=sum(1 for s in states if s == "completed"),
            failed_agent_count=sum(1 for s in states if s in ("errored", "shutdown", "notFound")),
        )
    if isinstance(item, t.WebSearchItem):
        f = base.with_status(_PLAIN_STATUS, "completed", "web_search", None)
        assert f is not None
        action = item.action
        return WebSearchEvent(
            *f,
            web_search_action=WEB_SEARCH_ACTION.get(action.type, "other") if action else None,
            query_present=bool(item.query.strip()),
            query_count=_query_count(item),
        )
    if isinstance(item, t.ImageGenerationItem):
        status = "failed" if item.status in ("failed", "error") else "completed"
        f = base.with_status(_PLAIN_STATUS, status, "image_generation", None)
        assert f is not None
        return ImageGenerationEvent(
            *f,
            revised_prompt_present=item.revised_prompt is not None,
            saved_path_present=item.saved_path is not None,
        )
    return None


def _content_count(content: list[t.DynamicToolCallContentItem] | None, kind: str) -> int | None:
    if content is None:
        return None
    return sum(1 for c in content if c.type == kind)


def _query_count(item: t.WebSearchItem) -> int | None:
    action = item.action
    if action is None:
        return 1 if item.query.strip() else None
    if action.type != "search":
        return None
    if action.queries is not None:
        return len(action.queries)
    return 1 if action.query is not None else None


def _safe_relative(path: str | None) -> bool:
    """A plugin script path is reported only when relative and inside the plugin."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return False
    return ".." not in path.replace("\\", "/").split("/")


HANDLERS: dict[type[Fact], Handler] = {
    ItemStarted: on_item_started,
    ItemCompleted: on_item_completed,
}
