"""Reviews → ``codex_review_event`` and ``codex_guardian_review`` (spec §5, §6.5).

A user review starts with an approval request (pending, keyed by connection and request id) and
ends with the first terminal fact: the client's answer or an abort; anything after that is
counted, never emitted again. A guardian review is one completed notification. Every finished
review first updates its item's summary (denormalized onto the tool event, §5.4), then emits
its event. Times are the request's ``startedAtMs`` and the answer's observation time — the
reducer reads no clock.

``command_source`` (decision 7, our extension) names the path the reviewed command took, as its
tool event's ``tool_name`` does: the guardian action's ``source``, or the command item's final
``source``. Codex answers approvals before the command runs and first announces the item with
the placeholder source ``agent`` (``item/started``, no process id); the real source
(``unifiedExecStartup``, …) only arrives on ``item/completed``. So a user review of a command that
is still running is *held* and emitted when the item completes (just before its tool event), or
when its turn, thread or connection ends (with the last source seen).
"""

from __future__ import annotations

import msgspec

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.reviews import (
    CommandSource,
    GuardianReviewEvent,
    Reviewer,
    ReviewEvent,
    ReviewResolution,
    ReviewStatus,
    ReviewTrigger,
    SubjectKind,
)
from agentlytics.facts import (
    ConnectionClosed,
    Fact,
    GuardianReview,
    GuardianReviewCompleted,
    ItemCompleted,
    ItemStarted,
    ServerRequest,
    ServerRequestAborted,
    ServerResponse,
    ThreadClosed,
    TurnCompleted,
)
from agentlytics.protocol import types as t
from agentlytics.protocol.wire import RequestId
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import (
    MAX_HELD_REVIEWS,
    MAX_ITEMS_PER_TURN,
    HeldReview,
    ItemReviewSummary,
    PendingReview,
    ReducerState,
    ToolItemInfo,
)
from agentlytics.vocabulary import FinalApprovalOutcome

#: Subjects counted on their item's tool event (§5.4); permissions and network access never are.
DENORMALIZED_SUBJECTS = frozenset({"command_execution", "file_change", "mcp_tool_call"})

#: A command item's ``source`` → the review's ``command_source`` (same table as ``tool_name``).
COMMAND_SOURCE: dict[str, CommandSource] = {
    "agent": "shell",
    "userShell": "user_shell",
    "unifiedExecStartup": "unified_exec",
    "unifiedExecInteraction": "unified_exec",
}
#: A guardian action's ``source`` → ``command_source``.
GUARDIAN_COMMAND_SOURCE: dict[str, CommandSource] = {
    "shell": "shell",
    "unifiedExec": "unified_exec",
}

_COMMAND_DECISIONS: dict[str, tuple[ReviewStatus, ReviewResolution]] = {
    "accept": ("approved", "none"),
    "acceptForSession": ("approved", "session_approval"),
    "decline": ("denied", "none"),
    "cancel": ("aborted", "none"),
}
_MCP_ACTIONS: dict[str, tuple[ReviewStatus, ReviewResolution]] = {
    "accept": ("approved", "none"),
    "decline": ("denied", "none"),
    "cancel": ("aborted", "none"),
}
_GUARDIAN_STATUS: dict[str, ReviewStatus] = {
    "approved": "approved",
    "denied": "denied",
    "timedOut": "timed_out",
    "aborted": "aborted",
}


def review_id(request_id: RequestId) -> str:
    """``"user:" + request id`` (an integer id in decimal, a string id as is)."""
    return f"user:{request_id}"


# --- requests ------------------------------------------------------------------------------------


def on_server_request(state: ReducerState, fact: ServerRequest) -> list[TrackEvent]:
    pending = _pending_review(state, fact)
    if pending is None:
        return []
    key = (fact.connection_id, fact.request_id)
    if key in state.pending_reviews:
        state.drop("review: request id reused while pending")
    state.pending_reviews[key] = pending
    return []


def _pending_review(state: ReducerState, fact: ServerRequest) -> PendingReview | None:
    """Subject, trigger and flags of a user review, from its request (§5.1)."""
    params = fact.params
    rid = review_id(fact.request_id)
    if params.started_at_ms < 0:
        state.drop("review: negative startedAtMs")
        return None
    if isinstance(params, t.CommandExecutionRequestApprovalParams):
        network_review = params.network_approval_context is not None
        extra = params.additional_permissions
        network = (
            network_review
            or bool(params.proposed_network_policy_amendments)
            or (extra is not None and extra.network_enabled)
        )
        additional = extra is not None
        kind: SubjectKind
        trigger: ReviewTrigger
        if params.kind == "writeStdin":
            # V-main has no write_stdin subject: a command review named write_stdin, never
            # counted on the parent command item (as newer Codex does).
            kind, name, trigger = "command_execution", "write_stdin", "initial"
        else:
            kind, name = (
                ("network_access", "network_access")
                if network_review
                else ("command_execution", "command_execution")
            )
            trigger = (
                "execve_intercept"
                if params.approval_id is not None
                else "network_policy_denial"
                if network
                else "sandbox_denial"
                if additional
                else "initial"
            )
        return PendingReview(
            params.thread_id,
            params.turn_id,
            params.item_id,
            rid,
            kind,
            name,
            trigger,
            params.started_at_ms,
            additional,
            network,
            denormalize=kind == "command_execution" and name == "command_execution",
            command_item=True,
        )
    if isinstance(params, t.FileChangeRequestApprovalParams):
        additional = params.grant_root is not None
        return PendingReview(
            params.thread_id,
            params.turn_id,
            params.item_id,
            rid,
            "file_change",
            "apply_patch",
            "sandbox_denial" if additional else "initial",
            params.started_at_ms,
            additional,
            False,
            denormalize=True,
            command_item=False,
        )
    if isinstance(params, t.PermissionsRequestApprovalParams):
        permissions = params.permissions
        network = permissions.network_enabled
        file_system = permissions.has_file_system
        return PendingReview(
            params.thread_id,
            params.turn_id,
            params.item_id,
            rid,
            "permissions",
            "permissions",
            "network_policy_denial" if network else "sandbox_denial" if file_system else "initial",
            params.started_at_ms,
            network or file_system,
            network,
            denormalize=False,
            command_item=False,
        )
    return _mcp_pending(state, params, rid)


def _mcp_pending(
    state: ReducerState, params: t.McpToolCallApprovalParams, rid: str
) -> PendingReview | None:
    """An MCP tool-call approval names no item: find the turn's open call of that tool."""
    found = _open_mcp_item(state, params)
    turn_id = params.turn_id if params.turn_id is not None else (found[0] if found else None)
    tool_name = params.tool_name or (found[2] if found else None)
    if turn_id is None:
        state.drop("review: MCP approval outside any turn")
        return None
    if not tool_name:
        state.drop("review: MCP approval without a tool name")
        return None
    return PendingReview(
        params.thread_id,
        turn_id,
        found[1] if found else None,
        rid,
        "mcp_tool_call",
        tool_name,
        "initial",
        params.started_at_ms,
        False,
        False,
        denormalize=True,
        command_item=False,
    )


def _open_mcp_item(
    state: ReducerState, params: t.McpToolCallApprovalParams
) -> tuple[str, str, str] | None:
    """(turn, item, tool) of the most recently started open call of the approval's server and
    tool in its turn (or, without a turn, in its thread)."""
    for (thread_id, turn_id), items in reversed(state.turn_items.items()):
        if thread_id != params.thread_id:
            continue
        if params.turn_id is not None and turn_id != params.turn_id:
            continue
        for item_id, info in reversed(items.items()):
            if (
                info.open
                and info.item_type == "mcpToolCall"
                and info.server == params.server_name
                and (params.tool_name is None or info.tool == params.tool_name)
            ):
                return turn_id, item_id, info.tool or ""
        if params.turn_id is not None:
            break
    return None


# --- answers and aborts --------------------------------------------------------------------------


def on_server_response(state: ReducerState, fact: ServerResponse) -> list[TrackEvent]:
    pending = _finish(state, fact.connection_id, fact.request_id)
    if pending is None:
        return []
    outcome = user_decision(fact.response)
    if outcome is None:
        state.drop("review: unknown approval decision")
        return []
    status, resolution = outcome
    return _complete(
        state, pending, "user", status, resolution, fact.completed_at_ms, fact.connection_id, None
    )


def on_server_request_aborted(state: ReducerState, fact: ServerRequestAborted) -> list[TrackEvent]:
    pending = _finish(state, fact.connection_id, fact.request_id)
    if pending is None:
        return []
    return _complete(
        state, pending, "user", "aborted", "none", fact.completed_at_ms, fact.connection_id, None
    )


def _finish(state: ReducerState, connection_id: int, request_id: RequestId) -> PendingReview | None:
    """Pop a pending review: the first terminal fact wins, later ones are counted."""
    key = (connection_id, request_id)
    pending = state.pending_reviews.pop(key, None)
    if pending is None:
        if key in state.finished_reviews:
            state.drop("review: answer or abort after the review finished")
        else:
            state.drop("review: answer or abort without a pending request")
        return None
    state.finished_reviews[key] = None
    return pending


def user_decision(
    response: t.ApprovalResponse | None,
) -> tuple[ReviewStatus, ReviewResolution] | None:
    """The client's answer → (status, resolution) per §5.2; None for an unknown decision.

    A JSON-RPC error answer (``response`` None) ends the review unanswered: aborted.
    """
    if response is None:
        return "aborted", "none"
    if isinstance(response, t.CommandExecutionRequestApprovalResponse):
        decision = response.decision
        if isinstance(decision, str):
            return _COMMAND_DECISIONS.get(decision)
        if decision.accept_with_execpolicy_amendment is not None:
            return "approved", "exec_policy_amendment"
        if decision.apply_network_policy_amendment is not None:
            action = decision.apply_network_policy_amendment.network_policy_amendment.action
            if action == "allow":
                return "approved", "network_policy_amendment"
            if action == "deny":
                return "denied", "network_policy_amendment"
        return None
    if isinstance(response, t.FileChangeRequestApprovalResponse):
        return _COMMAND_DECISIONS.get(response.decision)
    if isinstance(response, t.PermissionsRequestApprovalResponse):
        if response.permissions.is_empty():
            return "denied", "none"
        if response.scope == "session":
            return "approved", "session_approval"
        if response.scope == "turn":
            return "approved", "none"
        return None
    outcome = _MCP_ACTIONS.get(response.action)
    persist = response.meta.persist if response.meta is not None else None
    if outcome == ("approved", "none") and persist in ("session", "always"):
        return "approved", "session_approval"
    return outcome


# --- guardian ------------------------------------------------------------------------------------


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
    return _complete(state, pending, "guardian", status, "none", completed, None, source)


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


# --- completion: summary, event, hold ------------------------------------------------------------


_GUARDIAN_OUTCOME: dict[str, FinalApprovalOutcome] = {
    "approved": "guardian_approved",
    "denied": "guardian_denied",
}


def final_approval_outcome(reviewer: str, status: str, resolution: str) -> FinalApprovalOutcome:
    """§5.4: the outcome a finished review leaves on its item."""
    if reviewer == "guardian":
        return _GUARDIAN_OUTCOME.get(status, "guardian_aborted")
    if status == "approved":
        return "user_approved_for_session" if resolution == "session_approval" else "user_approved"
    return "user_denied" if status == "denied" else "user_aborted"


def _complete(
    state: ReducerState,
    review: PendingReview,
    reviewer: Reviewer,
    status: ReviewStatus,
    resolution: ReviewResolution,
    completed_at_ms: int,
    connection_id: int | None,
    command_source: CommandSource | None,
) -> list[TrackEvent]:
    """Summary first (even when the event is dropped, §1.7), then the event — or hold it."""
    if review.denormalize and review.item_id is not None:
        key = (review.thread_id, review.turn_id, review.item_id)
        summary = state.item_reviews.get(key)
        if summary is None:
            summary = state.item_reviews[key] = ItemReviewSummary()
        summary.review_count += 1
        if reviewer == "guardian":
            summary.guardian_review_count += 1
        else:
            summary.user_review_count += 1
        summary.final_approval_outcome = final_approval_outcome(reviewer, status, resolution)
        summary.requested_additional_permissions |= review.requested_additional_permissions
        summary.requested_network_access |= review.requested_network_access
    scope = state.thread_scope(review.thread_id, "review")
    if scope is None:
        return []
    duration = completed_at_ms - review.started_at_ms
    event = ReviewEvent(
        thread_id=scope.thread_id,
        turn_id=review.turn_id,
        item_id=review.item_id,
        review_id=review.review_id,
        app_server_client=scope.app_server_client,
        runtime=scope.runtime,
        thread_source=scope.thread_source,
        subagent_source=scope.subagent_source,
        parent_thread_id=scope.parent_thread_id,
        subject_kind=review.subject_kind,
        subject_name=review.subject_name,
        reviewer=reviewer,
        trigger=review.trigger,
        status=status,
        resolution=resolution,
        started_at_ms=review.started_at_ms,
        completed_at_ms=completed_at_ms,
        duration_ms=duration if duration >= 0 else None,
        command_source=command_source,
    )
    if not review.command_item or review.item_id is None:
        return [track(event)]
    item = _item_info(state, review.thread_id, review.turn_id, review.item_id)
    if item is None or not item.open:
        return [_review_event(event, item.source if item else None)]
    key = (review.thread_id, review.turn_id, review.item_id)
    state.held_reviews.setdefault(key, []).append(HeldReview(event, connection_id))
    if len(state.held_reviews) > MAX_HELD_REVIEWS:
        state.evictions["held reviews (emitted early)"] += 1
        oldest = next(iter(state.held_reviews))
        return _release(state, oldest, None)
    return []


def _review_event(event: ReviewEvent, item_source: str | None) -> TrackEvent:
    """A command review with its item's ``command_source`` (decision 7)."""
    source = COMMAND_SOURCE.get(item_source) if item_source is not None else None
    return track(msgspec.structs.replace(event, command_source=source))


def _item_info(
    state: ReducerState, thread_id: str, turn_id: str, item_id: str
) -> ToolItemInfo | None:
    items = state.turn_items.get((thread_id, turn_id))
    return items.get(item_id) if items is not None else None


def _release(
    state: ReducerState, key: tuple[str, str, str], item_source: str | None
) -> list[TrackEvent]:
    """Emit the reviews held for an item, with its final source (else the last one seen)."""
    held = state.held_reviews.pop(key, None)
    if not held:
        return []
    if item_source is None:
        item = _item_info(state, *key)
        item_source = item.source if item is not None else None
    return [_review_event(h.event, item_source) for h in held]


# --- item and lifecycle tracking -----------------------------------------------------------------


def on_item_started(state: ReducerState, fact: ItemStarted) -> list[TrackEvent]:
    item = fact.item
    if isinstance(item, t.CommandExecutionItem):
        info = ToolItemInfo("commandExecution", source=item.source)
    elif isinstance(item, t.McpToolCallItem):
        info = ToolItemInfo("mcpToolCall", server=item.server, tool=item.tool)
    else:
        return []
    turn_key = (fact.thread_id, fact.turn_id)
    items = state.turn_items.get(turn_key)
    if items is None:
        items = state.turn_items[turn_key] = {}
    if fact.item_id not in items and len(items) >= MAX_ITEMS_PER_TURN:
        del items[next(iter(items))]
        state.evictions["review turn items (per turn)"] += 1
    items[fact.item_id] = info
    return []


def on_item_completed(state: ReducerState, fact: ItemCompleted) -> list[TrackEvent]:
    """Runs before the tool event is built: held reviews of the item go out first."""
    item = fact.item
    info = _item_info(state, fact.thread_id, fact.turn_id, fact.item_id)
    source = item.source if isinstance(item, t.CommandExecutionItem) else None
    if info is not None:
        info.open = False
        if source is not None:
            info.source = source
    if not state.held_reviews:
        return []
    return _release(state, (fact.thread_id, fact.turn_id, fact.item_id), source)


def on_turn_completed(state: ReducerState, fact: TurnCompleted) -> list[TrackEvent]:
    """The turn's still-held reviews go out (before its turn event); its item records leave."""
    thread_id, turn_id = fact.thread_id, fact.turn.id
    events: list[TrackEvent] = []
    for key in [k for k in state.held_reviews if k[0] == thread_id and k[1] == turn_id]:
        events += _release(state, key, None)
    state.turn_items.pop((thread_id, turn_id), None)
    return events


def on_thread_closed(state: ReducerState, fact: ThreadClosed) -> list[TrackEvent]:
    events: list[TrackEvent] = []
    for key in [k for k in state.held_reviews if k[0] == fact.thread_id]:
        events += _release(state, key, None)
    for review_key in [
        k for k, v in state.pending_reviews.items() if v.thread_id == fact.thread_id
    ]:
        del state.pending_reviews[review_key]
        state.drop("review: request unanswered when its thread closed")
    return events


def on_connection_closed(state: ReducerState, fact: ConnectionClosed) -> list[TrackEvent]:
    events: list[TrackEvent] = []
    for key in [
        k
        for k, held in state.held_reviews.items()
        if any(h.connection_id == fact.connection_id for h in held)
    ]:
        events += _release(state, key, None)
    for review_key in [k for k in state.pending_reviews if k[0] == fact.connection_id]:
        del state.pending_reviews[review_key]
        state.drop("review: request unanswered when its connection closed")
    return events


HANDLERS: dict[type[Fact], Handler] = {
    ServerRequest: on_server_request,
    ServerResponse: on_server_response,
    ServerRequestAborted: on_server_request_aborted,
    GuardianReviewCompleted: on_guardian_review_completed,
    GuardianReview: on_guardian_review,
    # Listed before threads, turns and tools, so these run before theirs: held reviews go out
    # before the item's tool event and the turn event, and before the thread or connection
    # state they read leaves.
    ItemStarted: on_item_started,
    ItemCompleted: on_item_completed,
    TurnCompleted: on_turn_completed,
    ThreadClosed: on_thread_closed,
    ConnectionClosed: on_connection_closed,
}
