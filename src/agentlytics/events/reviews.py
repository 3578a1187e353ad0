"""Review events: ``codex_review_event`` (§4.23) and ``codex_guardian_review`` (§4.4), V-main.

``codex_review_event`` carries our one extension (decision 7): ``command_source``, appended as
the last field so consumers reading the upstream shape are unaffected.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from agentlytics.events.common import U64, AppServerClient, Runtime
from agentlytics.events.envelope import EventParams
from agentlytics.reviewed_actions import (
    ApplyPatchAction,
    ExecveAction,
    McpToolCallAction,
    NetworkAccessAction,
    RequestPermissionsAction,
    ReviewedAction,
    ShellAction,
    UnifiedExecAction,
)

__all__ = [
    "ApplyPatchAction",
    "CommandSource",
    "ExecveAction",
    "GuardianReviewEvent",
    "McpToolCallAction",
    "NetworkAccessAction",
    "RequestPermissionsAction",
    "ReviewEvent",
    "ReviewedAction",
    "ShellAction",
    "UnifiedExecAction",
]

SubjectKind = Literal[
    "command_execution", "file_change", "mcp_tool_call", "permissions", "network_access"
]
Reviewer = Literal["guardian", "user"]
ReviewTrigger = Literal["initial", "sandbox_denial", "network_policy_denial", "execve_intercept"]
ReviewStatus = Literal["approved", "denied", "aborted", "timed_out"]
ReviewResolution = Literal[
    "none", "session_approval", "exec_policy_amendment", "network_policy_amendment"
]
CommandSource = Literal["shell", "unified_exec", "user_shell"]


class ReviewEvent(EventParams):
    """``codex_review_event``: one per completed review, by the user or the guardian."""

    EVENT_TYPE: ClassVar[str] = "codex_review_event"

    thread_id: str
    turn_id: str
    item_id: str | None
    review_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    subject_kind: SubjectKind
    subject_name: str
    reviewer: Reviewer
    trigger: ReviewTrigger
    status: ReviewStatus
    resolution: ReviewResolution
    started_at_ms: U64
    completed_at_ms: U64
    duration_ms: U64 | None
    #: Extension (decision 7): which command path the reviewed command took.
    command_source: CommandSource | None


class GuardianReviewEvent(EventParams):
    """``codex_guardian_review``: session, client and runtime, then the review's own fields.

    Every field upstream declares non-null is non-null here; where the auto-review
    notifications are silent the value is upstream's own default (docs/facts.md).
    """

    EVENT_TYPE: ClassVar[str] = "codex_guardian_review"

    session_id: str
    app_server_client: AppServerClient
    runtime: Runtime
    thread_id: str
    turn_id: str
    review_id: str
    target_item_id: str | None
    approval_request_source: Literal["main_turn", "delegated_subagent"]
    reviewed_action: ReviewedAction
    reviewed_action_truncated: bool
    decision: Literal["approved", "denied", "aborted"]
    terminal_status: Literal["approved", "denied", "aborted", "timed_out", "failed_closed"]
    failure_reason: (
        Literal["timeout", "cancelled", "prompt_build_error", "session_error", "parse_error"] | None
    )
    attempt_count: int
    risk_level: str | None
    user_authorization: str | None
    outcome: str | None
    guardian_thread_id: str | None
    guardian_session_kind: Literal["trunk_new", "trunk_reused", "ephemeral_forked"] | None
    guardian_model: str | None
    guardian_reasoning_effort: str | None
    guardian_default_review_model_id: str | None
    guardian_catalog_contains_auto_review: bool | None
    guardian_review_model_overridden: bool | None
    guardian_review_model_override: str | None
    guardian_model_provider_id: str | None
    had_prior_review_context: bool | None
    review_timeout_ms: U64
    tool_call_count: U64 | None
    time_to_first_token_ms: U64 | None
    completion_latency_ms: U64 | None
    started_at: U64
    completed_at: U64 | None
    input_tokens: int | None
    cached_input_tokens: int | None
    cache_write_input_tokens: int | None
    output_tokens: int | None
    reasoning_output_tokens: int | None
    total_tokens: int | None
