"""Hooks, goals, compaction and archives → their events (spec §2.8, §6.3, §6.4, §6.6, §6.10).

Hook runs are stateless (the tracking context carries everything). Goal and compaction events
need the thread's context (connection + metadata, a subagent inherits its parent's connection);
without it they are counted drops named ``goal`` / ``compaction`` like upstream's warnings.
Archive events are the V-main shape: thread id, action and the observation time.
"""

from __future__ import annotations

from typing import Literal

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.lifecycle import CompactionEvent, GoalEvent, HookRun, ThreadArchiveEvent
from agentlytics.facts import CompactionFact, Fact, GoalFact, HookRunFact, ThreadArchived
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import ReducerState
from agentlytics.vocabulary import CompactionReason, CompactionTrigger


def on_hook_run(state: ReducerState, fact: HookRunFact) -> list[TrackEvent]:
    tracking = fact.tracking
    return [
        track(
            HookRun(
                thread_id=tracking.thread_id,
                turn_id=tracking.turn_id,
                product_client_id=tracking.product_client_id,
                model_slug=tracking.model_slug,
                hook_name=fact.hook_name,
                hook_source=fact.hook_source,
                status=fact.status,
            )
        )
    ]


def on_goal(state: ReducerState, fact: GoalFact) -> list[TrackEvent]:
    scope = state.thread_scope(fact.thread_id, "goal")
    if scope is None:
        return []
    return [
        track(
            GoalEvent(
                thread_id=scope.thread_id,
                session_id=scope.session_id,
                turn_id=fact.turn_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                thread_source=scope.thread_source,
                subagent_source=scope.subagent_source,
                parent_thread_id=scope.parent_thread_id,
                goal_id=fact.goal_id,
                event_kind=fact.event_kind,
                goal_status=fact.goal_status,
                has_token_budget=fact.has_token_budget,
                # Counters belong to usage accounting only (spec §6.4), whatever the caller sent.
                cumulative_tokens_accounted=(
                    fact.cumulative_tokens_accounted
                    if fact.event_kind == "usage_accounted"
                    else None
                ),
                cumulative_time_accounted_seconds=(
                    fact.cumulative_time_accounted_seconds
                    if fact.event_kind == "usage_accounted"
                    else None
                ),
            )
        )
    ]


#: Upstream's reason per trigger: ``run_compact_task`` passes ``UserRequested``, the automatic
#: pre-/mid-turn compactions ``ContextLimit`` (``codex-rs/core`` compact.rs, session/turn.rs).
_REASON: dict[CompactionTrigger, CompactionReason] = {
    "manual": "user_requested",
    "auto": "context_limit",
}


def on_compaction(state: ReducerState, fact: CompactionFact) -> list[TrackEvent]:
    scope = state.thread_scope(fact.thread_id, "compaction")
    if scope is None:
        return []
    return [
        track(
            CompactionEvent(
                thread_id=scope.thread_id,
                session_id=scope.session_id,
                turn_id=fact.turn_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                thread_source=scope.thread_source,
                subagent_source=scope.subagent_source,
                parent_thread_id=scope.parent_thread_id,
                trigger=fact.trigger,
                reason=fact.reason or _REASON[fact.trigger],
                implementation=fact.implementation,
                phase=fact.phase,
                strategy=fact.strategy,
                status=fact.status,
                codex_error_kind=fact.codex_error_kind,
                codex_error_http_status_code=fact.codex_error_http_status_code,
                active_context_tokens_before=fact.active_context_tokens_before,
                active_context_tokens_after=fact.active_context_tokens_after,
                retained_image_count=fact.retained_image_count,
                compaction_summary_tokens=fact.compaction_summary_tokens,
                cached_input_tokens=fact.cached_input_tokens,
                cache_write_input_tokens=fact.cache_write_input_tokens,
                started_at=fact.started_at,
                completed_at=fact.completed_at,
                duration_ms=fact.duration_ms,
            )
        )
    ]


def on_thread_archived(state: ReducerState, fact: ThreadArchived) -> list[TrackEvent]:
    """V-main archive event: no thread context needed (an archived thread may be long gone)."""
    action: Literal["archived", "unarchived"]
    if fact.action == "archived":
        action = "archived"
    elif fact.action == "unarchived":
        action = "unarchived"
    else:
        state.drop(f"thread archive: unknown action {fact.action!r}")
        return []
    return [
        track(
            ThreadArchiveEvent(
                thread_id=fact.thread_id,
                action=action,
                occurred_at_ms=max(fact.observed_at_ms, 0),
            )
        )
    ]


HANDLERS: dict[type[Fact], Handler] = {
    HookRunFact: on_hook_run,
    GoalFact: on_goal,
    CompactionFact: on_compaction,
    ThreadArchived: on_thread_archived,
}
