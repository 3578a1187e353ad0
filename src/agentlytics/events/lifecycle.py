"""Thread and session lifecycle events: threads, steering, hooks, goals, compaction, archives.

Field order is the wire order (spec §4.2, §4.3, §4.7–4.9, §4.11, V-main). Deviations from the
spec, all because the wire cannot supply a value, are listed in docs/events.md.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from agentlytics.events.common import U64, AppServerClient, InitializationMode, Runtime
from agentlytics.events.envelope import EventParams
from agentlytics.vocabulary import (
    CompactionImplementation,
    CompactionPhase,
    CompactionReason,
    CompactionStatus,
    CompactionStrategy,
    CompactionTrigger,
    GoalEventKind,
    HookRunStatusName,
    HookSourceName,
    SteerRejectionReason,
)


class ThreadInitialized(EventParams):
    """``codex_thread_initialized`` (§4.2)."""

    EVENT_TYPE: ClassVar[str] = "codex_thread_initialized"

    thread_id: str
    session_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    model: str
    ephemeral: bool
    thread_source: str | None
    initialization_mode: InitializationMode
    subagent_source: str | None
    parent_thread_id: str | None
    forked_from_thread_id: str | None
    created_at: U64


class ThreadArchiveEvent(EventParams):
    """``codex_thread_archive_event`` (§4.3, V-main fields)."""

    EVENT_TYPE: ClassVar[str] = "codex_thread_archive_event"

    thread_id: str
    action: Literal["archived", "unarchived"]
    occurred_at_ms: U64


class TurnSteerEvent(EventParams):
    """``codex_turn_steer_event`` (§4.11)."""

    EVENT_TYPE: ClassVar[str] = "codex_turn_steer_event"

    thread_id: str
    session_id: str
    expected_turn_id: str | None
    accepted_turn_id: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    num_input_images: U64
    result: Literal["accepted", "rejected"]
    rejection_reason: SteerRejectionReason | None
    created_at: U64


class HookRun(EventParams):
    """``codex_hook_run`` (§4.7, V-main): stateless, from the tracking context."""

    EVENT_TYPE: ClassVar[str] = "codex_hook_run"

    thread_id: str | None
    turn_id: str | None
    product_client_id: str | None
    model_slug: str | None
    hook_name: str | None
    hook_source: HookSourceName | None
    status: HookRunStatusName | None


class GoalEvent(EventParams):
    """``codex_goal_event`` (§4.9)."""

    EVENT_TYPE: ClassVar[str] = "codex_goal_event"

    thread_id: str
    session_id: str
    turn_id: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    goal_id: str
    event_kind: GoalEventKind
    goal_status: str
    has_token_budget: bool
    cumulative_tokens_accounted: int | None
    cumulative_time_accounted_seconds: int | None


class CompactionEvent(EventParams):
    """``codex_compaction_event`` (§4.8).

    ``reason``, ``implementation``, ``strategy`` and the two context token counts are
    non-null as upstream declares them: derived from the wire, else upstream's own value
    (docs/facts.md).
    """

    EVENT_TYPE: ClassVar[str] = "codex_compaction_event"

    thread_id: str
    session_id: str
    turn_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    trigger: CompactionTrigger
    reason: CompactionReason
    implementation: CompactionImplementation
    phase: CompactionPhase
    strategy: CompactionStrategy
    status: CompactionStatus
    codex_error_kind: str | None
    codex_error_http_status_code: U64 | None
    active_context_tokens_before: int
    active_context_tokens_after: int
    retained_image_count: U64 | None
    compaction_summary_tokens: int | None
    cached_input_tokens: int | None
    cache_write_input_tokens: int | None
    started_at: U64
    completed_at: U64
    duration_ms: U64 | None
