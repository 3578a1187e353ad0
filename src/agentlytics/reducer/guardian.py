"""Guardian reviews → ``codex_review_event`` (reviewer ``guardian``, §5) and
``codex_guardian_review`` (§6.5).

A guardian review is one completed notification: it finishes like a user review (its item's
summary, then its event); core's guardian analytics is its own event, with thread context.
"""

from __future__ import annotations

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.reviews import (
    CommandSource,
    GuardianReviewEvent,
    ReviewStatus,
    ReviewTrigger,
    SubjectKind,
)
from agentlytics.facts import GuardianReview, GuardianReviewCompleted
from agentlytics.protocol import types as t
from agentlytics.reducer.review_completion import DENORMALIZED_SUBJECTS, complete
from agentlytics.reducer.state import PendingReview, ReducerState

#: A guardian action's ``source`` → ``command_source``.
GUARDIAN_COMMAND_SOURCE: dict[str, CommandSource] = {
    "shell": "shell",
    "unifiedExec": "unified_exec",
}

_GUARDIAN_STATUS: dict[str, ReviewStatus] = {
    "approved": "approved",
    "denied": "denied",
    "timedOut": "timed_out",
    "aborted": "aborted",
}


def on_guardian_review_completed(
    state: ReducerState, fact: GuardianReviewCompleted
) -> list[TrackEvent]:
    n = fact.notification
    if n.review.status == "inProgress":
        return []
    status = _GUARDIAN_STATUS.get(n.review.status)
    if status is None:
        state.drop("review: unknown guardian status")
        return []
    started, completed = n.started_at_ms, n.completed_at_ms
    if started is None or completed is None or started < 0 or completed < 0:
        state.drop("review: guardian review without valid timestamps")
        return []
    subject = guardian_subject(n.action)
    kind, name, trigger, additional, network, source = subject
    pending = PendingReview(
        n.thread_id,
        n.turn_id,
        n.target_item_id,
        n.review_id,
        kind,
        name,
        trigger,
        started,
        additional,
        network,
        denormalize=kind in DENORMALIZED_SUBJECTS and name != "write_stdin",
        command_item=False,
    )
    return complete(state, pending, "guardian", status, "none", completed, None, source)


def guardian_subject(
    action: t.GuardianAction,
) -> tuple[SubjectKind, str, ReviewTrigger, bool, bool, CommandSource | None]:
    """(subject_kind, subject_name, trigger, additional permissions, network, command_source)."""
    if isinstance(action, t.GuardianCommandAction):
        source = GUARDIAN_COMMAND_SOURCE.get(action.source)
        return "command_execution", "command_execution", "initial", False, False, source
    if isinstance(action, t.GuardianExecveAction):
        source = GUARDIAN_COMMAND_SOURCE.get(action.source)
        return "command_execution", "command_execution", "execve_intercept", False, False, source
    if isinstance(action, t.GuardianWriteStdinAction):
        # Input to a running unified-exec process; V-main has no write_stdin subject.
        return "command_execution", "write_stdin", "initial", False, False, "unified_exec"
    if isinstance(action, t.GuardianApplyPatchAction):
        return "file_change", "apply_patch", "sandbox_denial", True, False, None
    if isinstance(action, t.GuardianNetworkAccessAction):
        return "network_access", "network_access", "network_policy_denial", True, True, None
    if isinstance(action, t.GuardianMcpToolCallAction):
        return "mcp_tool_call", action.tool_name, "initial", False, False, None
    permissions = action.permissions
    network, file_system = permissions.network_enabled, permissions.has_file_system
    trigger: ReviewTrigger = (
        "network_policy_denial" if network else "sandbox_denial" if file_system else "initial"
    )
    return "permissions", "permissions", trigger, network or file_system, network, None


def on_guardian_review(state: ReducerState, fact: GuardianReview) -> list[TrackEvent]:
    """Core's guardian analytics → ``codex_guardian_review`` (§6.5), with thread context."""
    scope = state.thread_scope(fact.thread_id, "guardian")
    if scope is None:
        return []
    source = fact.approval_request_source or (
        "delegated_subagent" if scope.parent_thread_id is not None else "main_turn"
    )
    return [
        track(
            GuardianReviewEvent(
                session_id=scope.session_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                thread_id=scope.thread_id,
                turn_id=fact.turn_id,
                review_id=fact.review_id,
                target_item_id=fact.target_item_id,
                approval_request_source=source,  # type: ignore[arg-type]
                reviewed_action=fact.reviewed_action,
                reviewed_action_truncated=fact.reviewed_action_truncated,
                decision=fact.decision,  # type: ignore[arg-type]
                terminal_status=fact.terminal_status,  # type: ignore[arg-type]
                failure_reason=fact.failure_reason,  # type: ignore[arg-type]
                attempt_count=fact.attempt_count,
                risk_level=fact.risk_level,
                user_authorization=fact.user_authorization,
                outcome=fact.outcome,
                guardian_thread_id=fact.guardian_thread_id,
                guardian_session_kind=fact.guardian_session_kind,  # type: ignore[arg-type]
                guardian_model=fact.guardian_model,
                guardian_reasoning_effort=fact.guardian_reasoning_effort,
                guardian_default_review_model_id=fact.guardian_default_review_model_id,
                guardian_catalog_contains_auto_review=fact.guardian_catalog_contains_auto_review,
                guardian_review_model_overridden=fact.guardian_review_model_overridden,
                guardian_review_model_override=fact.guardian_review_model_override,
                guardian_model_provider_id=fact.guardian_model_provider_id,
                had_prior_review_context=fact.had_prior_review_context,
                review_timeout_ms=fact.review_timeout_ms,
                tool_call_count=fact.tool_call_count,
                time_to_first_token_ms=fact.time_to_first_token_ms,
                completion_latency_ms=fact.completion_latency_ms,
                started_at=fact.started_at,
                completed_at=fact.completed_at,
                input_tokens=fact.input_tokens,
                cached_input_tokens=fact.cached_input_tokens,
                cache_write_input_tokens=fact.cache_write_input_tokens,
                output_tokens=fact.output_tokens,
                reasoning_output_tokens=fact.reasoning_output_tokens,
                total_tokens=fact.total_tokens,
            )
        )
    ]
