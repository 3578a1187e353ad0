"""Approval traffic → review facts: typed server requests, their answers, aborts, guardian reviews.

* An approval request (command, file change, permissions, or an MCP elicitation that Codex marks
  ``_meta.codex_approval_kind == "mcp_tool_call"``) becomes a :class:`ServerRequest` with typed
  params, and is *tracked* per connection with its thread and turn. Every other server request
  (``item/tool/call``, plain MCP form elicitations, …) has no handler in :data:`EDGE`: no fact,
  no copy.
* The client's answer is decoded with the type of the tracked request into a
  :class:`ServerResponse` stamped with the answer's observation time; a JSON-RPC error answer is a
  ``ServerResponse`` with ``response=None`` (the reducer reports it as an aborted review).
* A tracked request that is resolved (``serverRequest/resolved``) or whose turn completes before
  any answer becomes :class:`ServerRequestAborted` at the observation time of that signal.
* ``item/autoApprovalReview/started`` remembers the review's start; ``/completed`` becomes a
  synthesised :class:`GuardianReview` (core's guardian analytics) and a
  :class:`GuardianReviewCompleted` (the notification the reducer derives the review event from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics import reviewed_actions as ev
from agentlytics.bounded import BoundedMap
from agentlytics.facts import (
    Fact,
    GuardianReview,
    GuardianReviewCompleted,
    ServerRequest,
    ServerRequestAborted,
    ServerResponse,
)
from agentlytics.observe.decode import decode
from agentlytics.observe.edge import EdgeHandlers, WireObserver
from agentlytics.observe.pending import MAX_PENDING_REQUESTS, Pending
from agentlytics.protocol import types as t
from agentlytics.protocol.wire import JsonRpcError, RequestId

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
PERMISSIONS_APPROVAL = "item/permissions/requestApproval"
MCP_ELICITATION = "mcpServer/elicitation/request"

#: Guardian reviews started but not completed, per connection (leave on completion or cap).
MAX_OPEN_GUARDIAN_REVIEWS = 10_000

_RESPONSE_TYPES: dict[str, type[Any]] = {
    COMMAND_APPROVAL: t.CommandExecutionRequestApprovalResponse,
    FILE_CHANGE_APPROVAL: t.FileChangeRequestApprovalResponse,
    PERMISSIONS_APPROVAL: t.PermissionsRequestApprovalResponse,
    MCP_ELICITATION: t.McpServerElicitationRequestResponse,
}


@dataclass(slots=True)
class _Tracked:
    """An approval request waiting for the client: enough to abort it when its turn ends."""

    method: str
    thread_id: str
    turn_id: str | None


class ReviewEdge:
    """Per-connection review state at the edge (bounded; counted when the cap evicts)."""

    def __init__(self, observer: WireObserver) -> None:
        def evicted(name: str, key: Any, value: Any) -> None:
            observer._drop(f"{name} evicted (never finished)", f"id={key!r}")

        self.tracked: BoundedMap[RequestId, _Tracked] = BoundedMap(
            "tracked approval requests", MAX_PENDING_REQUESTS, evicted
        )
        self.guardian_started: BoundedMap[str, int] = BoundedMap(
            "open guardian reviews", MAX_OPEN_GUARDIAN_REVIEWS, evicted
        )


def _state(observer: WireObserver) -> ReviewEdge:
    return observer.edge(ReviewEdge)


# --- requests ------------------------------------------------------------------------------------


def _approval_request(
    typ: type[t.CommandExecutionRequestApprovalParams]
    | type[t.FileChangeRequestApprovalParams]
    | type[t.PermissionsRequestApprovalParams],
) -> Callable[[WireObserver, RequestId, msgspec.Raw | None, int], list[Fact]]:
    def handle(
        observer: WireObserver, request_id: RequestId, raw: msgspec.Raw | None, ts_ms: int
    ) -> list[Fact]:
        params = decode(raw, typ)
        method = observer.server_pending[request_id].method
        _state(observer).tracked[request_id] = _Tracked(method, params.thread_id, params.turn_id)
        return [ServerRequest(observer.connection_id, request_id, method, params, ts_ms)]

    return handle


def _mcp_elicitation(
    observer: WireObserver, request_id: RequestId, raw: msgspec.Raw | None, ts_ms: int
) -> list[Fact]:
    """An MCP elicitation is a review only when Codex marks it as a tool-call approval."""
    params = decode(raw, t.McpServerElicitationRequestParams)
    meta = params.meta
    if meta is None or meta.codex_approval_kind != "mcp_tool_call":
        return []
    _state(observer).tracked[request_id] = _Tracked(
        MCP_ELICITATION, params.thread_id, params.turn_id
    )
    approval = t.McpToolCallApprovalParams(
        thread_id=params.thread_id,
        turn_id=params.turn_id,
        server_name=params.server_name,
        tool_name=meta.tool_name,
        # The elicitation carries no startedAtMs: its observation time is when it started.
        started_at_ms=ts_ms,
    )
    return [ServerRequest(observer.connection_id, request_id, MCP_ELICITATION, approval, ts_ms)]


def _answer(
    observer: WireObserver,
    request_id: RequestId,
    pending: Pending,
    result: msgspec.Raw | None,
    error: JsonRpcError | None,
    ts_ms: int,
) -> list[Fact]:
    """The client answered a server request: decode it with the tracked request's type."""
    tracked = _state(observer).tracked.pop(request_id, None)
    if tracked is None:
        return []  # an elicitation that was not an approval
    response = None if error is not None else decode(result, _RESPONSE_TYPES[tracked.method])
    return [ServerResponse(observer.connection_id, request_id, tracked.method, response, ts_ms)]


# --- aborts --------------------------------------------------------------------------------------


def _resolved(observer: WireObserver, raw: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    """``serverRequest/resolved``: the server stopped waiting. Unanswered → aborted."""
    n = decode(raw, t.ServerRequestResolvedNotification)
    if n.request_id is None:
        return []
    request_id: RequestId = n.request_id
    # Answered requests were already popped; an unanswered one will never be answered usefully.
    observer.server_pending.pop(request_id, None)
    if _state(observer).tracked.pop(request_id, None) is None:
        return []
    return [ServerRequestAborted(observer.connection_id, request_id, ts_ms)]


def _turn_ended(observer: WireObserver, thread_id: str, turn: t.Turn, ts_ms: int) -> list[Fact]:
    """A turn completed: the approvals it still waited on were withdrawn with it."""
    turn_id = turn.id
    state = _state(observer)
    if not state.tracked:
        return []
    outlived = [
        request_id
        for request_id, tracked in state.tracked.items()
        if tracked.turn_id == turn_id and tracked.thread_id == thread_id
    ]
    facts: list[Fact] = []
    for request_id in outlived:
        del state.tracked[request_id]
        observer.server_pending.pop(request_id, None)
        facts.append(ServerRequestAborted(observer.connection_id, request_id, ts_ms))
    return facts


# --- guardian ------------------------------------------------------------------------------------

_NETWORK_PROTOCOL = {
    "http": "http",
    "https": "https",
    "socks5Tcp": "socks5_tcp",
    "socks5Udp": "socks5_udp",
}

#: review status → (decision, terminal_status, failure_reason, outcome). A timed-out review fails
#: closed (decision denied), as upstream's fixture shows (§7.1 no. 48).
_GUARDIAN_RESULT: dict[str, tuple[str, str, str | None, str | None]] = {
    "approved": ("approved", "approved", None, "allow"),
    "denied": ("denied", "denied", None, "deny"),
    "timedOut": ("denied", "timed_out", "timeout", None),
    "aborted": ("aborted", "aborted", "cancelled", None),
}


def reviewed_action(action: t.GuardianAction) -> ev.ReviewedAction | None:
    """The wire's guardian action → V-main ``reviewed_action`` (no command text, cwd or host).

    None for ``writeStdin``, which V-main's catalog has no variant for.
    """
    if isinstance(action, t.GuardianCommandAction):
        if action.source == "unifiedExec":
            return ev.UnifiedExecAction("use_default", None, False)
        return ev.ShellAction("use_default", None)
    if isinstance(action, t.GuardianExecveAction):
        # No program path (issue 20): "" is what upstream's newest wire, without it, gives.
        if action.source == "unifiedExec":
            return ev.ExecveAction("unified_exec", "", None)
        return ev.ExecveAction("shell", "", None)
    if isinstance(action, t.GuardianApplyPatchAction):
        return ev.ApplyPatchAction()
    if isinstance(action, t.GuardianNetworkAccessAction):
        protocol = _NETWORK_PROTOCOL.get(action.protocol, action.protocol)
        return ev.NetworkAccessAction(protocol, action.port)  # type: ignore[arg-type]
    if isinstance(action, t.GuardianMcpToolCallAction):
        return ev.McpToolCallAction(
            action.server,
            action.tool_name,
            action.connector_id,
            action.connector_name,
            action.tool_title,
        )
    if isinstance(action, t.GuardianRequestPermissionsAction):
        return ev.RequestPermissionsAction()
    return None


def _guardian_started(observer: WireObserver, raw: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(raw, t.ItemGuardianApprovalReviewStartedNotification)
    if n.started_at_ms is not None:
        _state(observer).guardian_started[n.review_id] = n.started_at_ms
    return []


def _guardian_completed(observer: WireObserver, raw: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode(raw, t.ItemGuardianApprovalReviewCompletedNotification)
    started_seen = _state(observer).guardian_started.pop(n.review_id, None)
    if n.review.status == "inProgress":
        return []
    if n.started_at_ms is None and started_seen is not None:
        n = msgspec.structs.replace(n, started_at_ms=started_seen)
    facts: list[Fact] = []
    guardian = _guardian_fact(observer, n)
    if guardian is not None:
        facts.append(guardian)
    facts.append(GuardianReviewCompleted(observer.connection_id, n))
    return facts


def _guardian_fact(
    observer: WireObserver, n: t.ItemGuardianApprovalReviewCompletedNotification
) -> GuardianReview | None:
    """Core's guardian analytics, rebuilt from the completed notification. Where the wire is
    silent the values are those of upstream's ``GuardianReviewAnalyticsResult::without_session``
    (attempt 1, action not truncated) and its 90 s timeout (docs/facts.md lists each)."""
    result = _GUARDIAN_RESULT.get(n.review.status)
    if result is None:
        observer._drop("guardian review: unknown status", n.review.status)
        return None
    action = reviewed_action(n.action)
    if action is None:
        observer._drop("guardian review: action without a V-main reviewed_action", "writeStdin")
        return None
    started, completed = n.started_at_ms, n.completed_at_ms
    if started is None or started < 0 or (completed is not None and completed < 0):
        observer._drop("guardian review: missing or negative timestamps", n.review_id)
        return None
    decision, terminal, failure, outcome = result
    latency = completed - started if completed is not None else None
    return GuardianReview(
        thread_id=n.thread_id,
        turn_id=n.turn_id,
        review_id=n.review_id,
        target_item_id=n.target_item_id,
        approval_request_source=None,
        reviewed_action=action,
        reviewed_action_truncated=False,
        decision=decision,
        terminal_status=terminal,
        failure_reason=failure,
        attempt_count=1,
        risk_level=n.review.risk_level,
        user_authorization=n.review.user_authorization,
        outcome=outcome,
        started_at=started // 1000,
        completed_at=completed // 1000 if completed is not None else None,
        completion_latency_ms=latency if latency is not None and latency >= 0 else None,
    )


# --- what the reviews family reads -------------------------------------------------------------

EDGE = EdgeHandlers(
    notifications={
        "serverRequest/resolved": _resolved,
        "item/autoApprovalReview/started": _guardian_started,
        "item/autoApprovalReview/completed": _guardian_completed,
    },
    server_requests={
        COMMAND_APPROVAL: _approval_request(t.CommandExecutionRequestApprovalParams),
        FILE_CHANGE_APPROVAL: _approval_request(t.FileChangeRequestApprovalParams),
        PERMISSIONS_APPROVAL: _approval_request(t.PermissionsRequestApprovalParams),
        MCP_ELICITATION: _mcp_elicitation,
    },
    server_answers=dict.fromkeys(_RESPONSE_TYPES, _answer),
    turn_completed=(_turn_ended,),
    state=ReviewEdge,
)
