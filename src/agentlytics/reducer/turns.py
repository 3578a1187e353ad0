"""Turns → ``codex_turn_event`` and ``codex_turn_steer_event`` (spec §2.2–2.6, §3, §6.2).

A turn event is emitted once, when the turn has completed and its thread id, input-image count
and resolved config are known and its thread context resolves (decision 3: no profile gate).
Facts may arrive in any order: every contributing fact re-runs the check.
"""

from __future__ import annotations

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.lifecycle import TurnSteerEvent
from agentlytics.events.turns import TurnEvent
from agentlytics.facts import (
    ClientRequest,
    ClientResponse,
    ErrorResponse,
    Fact,
    TurnCodexError,
    TurnCompleted,
    TurnDiffUpdated,
    TurnResolvedConfig,
    TurnStarted,
    TurnTokenUsage,
)
from agentlytics.protocol.types import (
    TurnInterruptParams,
    TurnStartParams,
    TurnStartResponse,
    TurnSteerParams,
    TurnSteerResponse,
    count_images,
)
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import (
    PendingRequest,
    ReducerState,
    ThreadScope,
    TurnCompletion,
    TurnState,
)
from agentlytics.reducer.threads import INITIALIZATION_MODE
from agentlytics.vocabulary import SteerRejectionReason, TurnStatus

_TURN_STATUS: dict[str, TurnStatus] = {
    "completed": "completed",
    "failed": "failed",
    "interrupted": "interrupted",
}


def bind_thread(state: ReducerState, turn: TurnState, thread_id: str, authoritative: bool) -> None:
    """Attach a turn to its thread; the server's notifications are authoritative.

    A turn/start request names the thread too, but a client that reuses a pending request id
    (or two streams mixed on one connection) can pair a response with the wrong request: the
    thread named by ``turn/started``/``turn/completed`` then wins, and the mismatch is counted.
    """
    if turn.thread_id is None:
        turn.thread_id = thread_id
    elif turn.thread_id != thread_id:
        state.drop("turn: request and notifications name different threads (notification wins)")
        if authoritative:
            turn.thread_id = thread_id


def turn_state(state: ReducerState, turn_id: str) -> TurnState:
    """Get or lazily create a turn's state."""
    turn = state.turns.get(turn_id)
    if turn is None:
        turn = TurnState()
        state.turns[turn_id] = turn
    return turn


# --- client requests and responses ---------------------------------------------------------------


def on_client_request(state: ReducerState, fact: ClientRequest) -> list[TrackEvent]:
    params = fact.params
    key = (fact.connection_id, fact.request_id)
    if isinstance(params, TurnStartParams):
        state.requests[key] = PendingRequest(
            "turn/start", params.thread_id, num_input_images=count_images(params.input)
        )
    elif isinstance(params, TurnSteerParams):
        state.requests[key] = PendingRequest(
            "turn/steer",
            params.thread_id,
            num_input_images=count_images(params.input),
            expected_turn_id=params.expected_turn_id,
            observed_at_ms=fact.observed_at_ms,
        )
    elif isinstance(params, TurnInterruptParams) and params.turn_id:
        state.requests[key] = PendingRequest(
            "turn/interrupt",
            params.thread_id,
            turn_id=params.turn_id,
            observed_at_ms=fact.observed_at_ms,
        )
    return []


def on_client_response(state: ReducerState, fact: ClientResponse) -> list[TrackEvent]:
    """Every result but thread/start|resume|fork (the threads family's)."""
    if fact.method in INITIALIZATION_MODE:
        return []
    return on_turn_response(state, fact)


def on_turn_response(state: ReducerState, fact: ClientResponse) -> list[TrackEvent]:
    """turn/start, turn/steer and turn/interrupt results, paired with their pending request."""
    pending = state.requests.pop((fact.connection_id, fact.request_id), None)
    if pending is None or pending.method != fact.method:
        return []
    response = fact.response
    if isinstance(response, TurnStartResponse):
        turn = turn_state(state, response.turn.id)
        turn.connection_id = fact.connection_id
        bind_thread(state, turn, pending.thread_id, authoritative=False)
        turn.num_input_images = pending.num_input_images
        return maybe_emit_turn(state, response.turn.id)
    if isinstance(response, TurnSteerResponse):
        existing = state.turns.get(response.turn_id)
        if existing is not None:
            existing.steer_count += 1
        return _steer_event(state, fact.connection_id, pending, response.turn_id, None)
    if pending.turn_id is not None:  # turn/interrupt accepted
        turn = turn_state(state, pending.turn_id)
        previous = turn.explicit_interrupt_requested_at_ms
        at = pending.observed_at_ms
        turn.explicit_interrupt_requested_at_ms = at if previous is None else min(previous, at)
        return maybe_emit_turn(state, pending.turn_id)
    return []


def on_error_response(state: ReducerState, fact: ErrorResponse) -> list[TrackEvent]:
    pending = state.requests.pop((fact.connection_id, fact.request_id), None)
    if pending is None or pending.method != "turn/steer":
        return []
    return _steer_event(state, fact.connection_id, pending, None, fact.error_type)


def _steer_event(
    state: ReducerState,
    connection_id: int,
    pending: PendingRequest,
    accepted_turn_id: str | None,
    rejection_reason: SteerRejectionReason | None,
) -> list[TrackEvent]:
    connection = state.connections.get(connection_id)
    if connection is None:
        return []  # silent drop upstream: the request's connection never initialized
    thread = state.threads.get(pending.thread_id)
    if thread is None or thread.metadata is None:
        state.drop("turn steer: missing thread_metadata")
        return []
    scope = ThreadScope.of(pending.thread_id, connection, thread.metadata)
    return [
        track(
            TurnSteerEvent(
                thread_id=scope.thread_id,
                session_id=scope.session_id,
                expected_turn_id=pending.expected_turn_id,
                accepted_turn_id=accepted_turn_id,
                app_server_client=scope.app_server_client,
                runtime=scope.runtime,
                thread_source=scope.thread_source,
                subagent_source=scope.subagent_source,
                parent_thread_id=scope.parent_thread_id,
                num_input_images=pending.num_input_images,
                result="accepted" if accepted_turn_id is not None else "rejected",
                rejection_reason=rejection_reason,
                created_at=pending.observed_at_ms // 1000,
            )
        )
    ]


# --- notifications and custom facts --------------------------------------------------------------


def on_turn_started(state: ReducerState, fact: TurnStarted) -> list[TrackEvent]:
    thread = state.threads.get(fact.thread_id)
    if thread is not None:
        thread.active_epoch = state.epoch
        if thread.lingering_turns:
            for old in thread.lingering_turns:
                state.remove_turn(old)
            thread.lingering_turns.clear()
    turn = turn_state(state, fact.turn.id)
    bind_thread(state, turn, fact.thread_id, authoritative=True)
    started = fact.turn.started_at
    turn.started_at = started if started is not None and started >= 0 else None
    return []


def on_turn_completed(state: ReducerState, fact: TurnCompleted) -> list[TrackEvent]:
    t = fact.turn
    turn = turn_state(state, t.id)
    duration = t.duration_ms if t.duration_ms is not None and t.duration_ms >= 0 else None
    turn.completed = TurnCompletion(
        status=_TURN_STATUS.get(t.status or ""),
        turn_error=t.error.codex_error_info if t.error is not None else None,
        completed_at=t.completed_at if t.completed_at is not None and t.completed_at >= 0 else 0,
        duration_ms=duration,
        observed_at_ms=fact.observed_at_ms,
    )
    bind_thread(state, turn, fact.thread_id, authoritative=True)
    return maybe_emit_turn(state, t.id)


def on_turn_diff(state: ReducerState, fact: TurnDiffUpdated) -> list[TrackEvent]:
    turn = turn_state(state, fact.turn_id)
    turn.thread_id = fact.thread_id
    turn.latest_diff = fact.diff
    return []


def on_resolved_config(state: ReducerState, fact: TurnResolvedConfig) -> list[TrackEvent]:
    turn = turn_state(state, fact.turn_id)
    turn.thread_id = fact.thread_id
    turn.num_input_images = fact.num_input_images
    turn.resolved_config = fact
    return maybe_emit_turn(state, fact.turn_id)


def on_token_usage(state: ReducerState, fact: TurnTokenUsage) -> list[TrackEvent]:
    turn = turn_state(state, fact.turn_id)
    turn.thread_id = fact.thread_id
    turn.token_usage = fact.usage
    return maybe_emit_turn(state, fact.turn_id)


def on_codex_error(state: ReducerState, fact: TurnCodexError) -> list[TrackEvent]:
    turn = turn_state(state, fact.turn_id)
    if turn.thread_id is None:
        turn.thread_id = fact.thread_id
    turn.codex_error = fact
    return []


# --- the turn event ------------------------------------------------------------------------------


def maybe_emit_turn(state: ReducerState, turn_id: str) -> list[TrackEvent]:
    """Emit the turn event if every prerequisite is in (spec §3.1), then release the turn."""
    turn = state.turns.get(turn_id)
    if turn is not None and not turn.emitted and turn_id in state.emitted_turns:
        state.drop("turn: duplicate facts for an already reported turn")
        state.remove_turn(turn_id)
        return []
    if (
        turn is None
        or turn.emitted
        or turn.thread_id is None
        or turn.num_input_images is None
        or turn.resolved_config is None
        or turn.completed is None
    ):
        return []
    connection_id = (
        turn.connection_id
        if turn.connection_id is not None
        else state.thread_connection_id(turn.thread_id)
    )
    if connection_id is None:
        state.drop("turn: missing thread_connection")
        return []
    scope = state.thread_scope(turn.thread_id, "turn", connection_id)
    if scope is None:
        return []
    config = turn.resolved_config
    usage = turn.token_usage
    counts = turn.tool_counts
    done = turn.completed
    error = turn.codex_error
    event = TurnEvent(
        thread_id=scope.thread_id,
        session_id=scope.session_id,
        turn_id=turn_id,
        submission_type=config.submission_type,
        app_server_client=scope.app_server_client,
        runtime=scope.runtime,
        ephemeral=config.ephemeral,
        thread_source=scope.thread_source,
        initialization_mode=scope.initialization_mode,
        subagent_source=scope.subagent_source,
        parent_thread_id=scope.parent_thread_id,
        model=config.model,
        model_provider=config.model_provider,
        sandbox_policy=config.sandbox_policy,
        reasoning_effort=config.reasoning_effort,
        reasoning_summary=config.reasoning_summary,
        service_tier=config.service_tier or "default",
        approval_policy=config.approval_policy,
        approvals_reviewer=config.approvals_reviewer,
        sandbox_network_access=config.sandbox_network_access,
        collaboration_mode=config.collaboration_mode,
        personality=config.personality,
        workspace_kind=config.workspace_kind,
        num_input_images=turn.num_input_images,
        image_preparations=[],
        is_first_turn=config.is_first_turn,
        status=done.status,
        explicit_client_interrupt_requested_at_ms=turn.explicit_interrupt_requested_at_ms,
        turn_error=done.turn_error,
        codex_error_kind=error.kind if error is not None else None,
        codex_error_http_status_code=error.http_status_code if error is not None else None,
        steer_count=turn.steer_count,
        total_tool_call_count=counts.total,
        shell_command_count=counts.shell_command,
        file_change_count=counts.file_change,
        mcp_tool_call_count=counts.mcp_tool_call,
        dynamic_tool_call_count=counts.dynamic_tool_call,
        subagent_tool_call_count=counts.subagent_tool_call,
        web_search_count=counts.web_search,
        image_generation_count=counts.image_generation,
        input_tokens=usage.input_tokens if usage else None,
        cached_input_tokens=usage.cached_input_tokens if usage else None,
        cache_write_input_tokens=usage.cache_write_input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        reasoning_output_tokens=usage.reasoning_output_tokens if usage else None,
        total_tokens=usage.total_tokens if usage else None,
        before_first_sampling_ms=None,
        sampling_ms=None,
        compaction_ms=None,
        between_sampling_overhead_ms=None,
        tool_blocking_ms=None,
        after_last_sampling_ms=None,
        sampling_request_count=None,
        sampling_retry_count=None,
        duration_ms=done.duration_ms,
        started_at=turn.started_at,
        completed_at=done.completed_at,
    )
    events = [track(event)]
    for hook in state.after_turn:
        events += hook(state, turn_id, turn)
    turn.emitted = True
    state.emitted_turns[turn_id] = None
    if turn.open_items:
        thread = state.threads.get(turn.thread_id)
        if thread is not None:
            thread.lingering_turns.append(turn_id)
    else:
        state.remove_turn(turn_id)
    return events


HANDLERS: dict[type[Fact], Handler] = {
    ClientRequest: on_client_request,
    ClientResponse: on_client_response,
    ErrorResponse: on_error_response,
    TurnStarted: on_turn_started,
    TurnCompleted: on_turn_completed,
    TurnDiffUpdated: on_turn_diff,
    TurnResolvedConfig: on_resolved_config,
    TurnTokenUsage: on_token_usage,
    TurnCodexError: on_codex_error,
}
