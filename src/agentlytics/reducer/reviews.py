"""Reviews → ``codex_review_event`` and ``codex_guardian_review`` (spec §5, §6.5).

A user review starts with an approval request (pending, keyed by connection and request id) and
ends with the first terminal fact: the client's answer or an abort; anything after that is
counted, never emitted again. A guardian review is one completed notification. Every finished
review first updates its item's summary (denormalized onto the tool event, §5.4), then emits
its event. Times are the request's ``startedAtMs`` and the answer's observation time — the
reducer reads no clock.

A review finishes in :mod:`agentlytics.reducer.review_completion` (summary, event, or held until
its command item completes); guardian reviews are :mod:`agentlytics.reducer.guardian`.
"""

from __future__ import annotations

from agentlytics.events.envelope import TrackEvent
from agentlytics.events.reviews import ReviewResolution, ReviewStatus, ReviewTrigger, SubjectKind
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
from agentlytics.reducer import guardian
from agentlytics.reducer import review_completion as completion
from agentlytics.reducer.core import Handler
from agentlytics.reducer.review_completion import complete
from agentlytics.reducer.state import PendingReview, ReducerState

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
    return complete(
        state, pending, "user", status, resolution, fact.completed_at_ms, fact.connection_id, None
    )


def on_server_request_aborted(state: ReducerState, fact: ServerRequestAborted) -> list[TrackEvent]:
    pending = _finish(state, fact.connection_id, fact.request_id)
    if pending is None:
        return []
    return complete(
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


HANDLERS: dict[type[Fact], Handler] = {
    ServerRequest: on_server_request,
    ServerResponse: on_server_response,
    ServerRequestAborted: on_server_request_aborted,
    GuardianReviewCompleted: guardian.on_guardian_review_completed,
    GuardianReview: guardian.on_guardian_review,
    # Listed before threads, turns and tools, so these run before theirs: held reviews go out
    # before the item's tool event and the turn event, and before the thread or connection
    # state they read leaves.
    ItemStarted: completion.on_item_started,
    ItemCompleted: completion.on_item_completed,
    TurnCompleted: completion.on_turn_completed,
    ThreadClosed: completion.on_thread_closed,
    ConnectionClosed: completion.on_connection_closed,
}
