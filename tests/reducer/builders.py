"""Concise builders for reducer facts, with the upstream test fixtures' values (reducer.md §7.0)."""

from __future__ import annotations

from typing import Any

import msgspec

from agentlytics.facts import (
    ClientRequest,
    ClientResponse,
    ErrorResponse,
    Initialize,
    ItemCompleted,
    ItemStarted,
    RuntimeMetadata,
    SubAgentThreadStarted,
    TokenUsage,
    TurnCompleted,
    TurnResolvedConfig,
    TurnStarted,
    TurnTokenUsage,
)
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer

TUI_RUNTIME = RuntimeMetadata("0.1.0", "macos", "15.3.1", "aarch64")


def initialize(
    conn: int = 7,
    name: str = "codex-tui",
    version: str = "1.0.0",
    product: str | None = None,
    experimental: bool | None = None,
    runtime: RuntimeMetadata = TUI_RUNTIME,
    transport: str = "stdio",
) -> Initialize:
    return Initialize(
        connection_id=conn,
        client_name=name,
        client_version=version,
        experimental_api_enabled=experimental,
        product_client_id=product if product is not None else name,
        runtime=runtime,
        rpc_transport=transport,
    )


def thread(
    thread_id: str,
    *,
    source: Any = "exec",
    thread_source: str | None = "user",
    ephemeral: bool = False,
    parent: str | None = None,
    forked_from: str | None = None,
    created_at: int = 1,
) -> t.Thread:
    return t.Thread(
        id=thread_id,
        session_id=f"session-{thread_id}",
        forked_from_id=forked_from,
        parent_thread_id=parent,
        ephemeral=ephemeral,
        model="gpt-5",
        model_provider="openai",
        created_at=created_at,
        source=source,
        thread_source=thread_source,
    )


def thread_response(
    conn: int, request_id: int, th: t.Thread, method: str = "thread/start"
) -> ClientResponse:
    response = t.ThreadStartResponse(thread=th, model="gpt-5", model_provider="openai")
    return ClientResponse(conn, request_id, method, response, 0)


def user_inputs(*types: str) -> list[t.UserInput]:
    return [t.UserInput(type=x) for x in types]


def turn_start_request(
    conn: int, request_id: int, thread_id: str, images: int = 1
) -> ClientRequest:
    params = t.TurnStartParams(
        thread_id=thread_id, input=user_inputs("text", *(["image"] * images))
    )
    return ClientRequest(conn, request_id, "turn/start", params, 0)


def turn_start_response(conn: int, request_id: int, turn_id: str) -> ClientResponse:
    response = t.TurnStartResponse(turn=t.Turn(id=turn_id, status="inProgress"))
    return ClientResponse(conn, request_id, "turn/start", response, 0)


def steer_request(
    conn: int,
    request_id: int,
    thread_id: str,
    expected: str,
    observed_at_ms: int = 1_700_000_000_000,
) -> ClientRequest:
    params = t.TurnSteerParams(
        thread_id=thread_id, expected_turn_id=expected, input=user_inputs("text", "localImage")
    )
    return ClientRequest(conn, request_id, "turn/steer", params, observed_at_ms)


def steer_response(conn: int, request_id: int, turn_id: str) -> ClientResponse:
    return ClientResponse(conn, request_id, "turn/steer", t.TurnSteerResponse(turn_id=turn_id), 0)


def steer_error(conn: int, request_id: int, error_type: str | None) -> ErrorResponse:
    return ErrorResponse(conn, request_id, "steer failed", error_type, 0)


def resolved_config(thread_id: str, turn_id: str, **overrides: Any) -> TurnResolvedConfig:
    values: dict[str, Any] = {
        "thread_id": thread_id,
        "turn_id": turn_id,
        "num_input_images": 1,
        "submission_type": None,
        "ephemeral": False,
        "model": "gpt-5",
        "model_provider": "openai",
        "sandbox_policy": "read_only",
        "reasoning_effort": None,
        "reasoning_summary": None,
        "service_tier": None,
        "approval_policy": "on-request",
        "approvals_reviewer": "auto_review",
        "sandbox_network_access": True,
        "collaboration_mode": "plan",
        "personality": None,
        "workspace_kind": None,
        "is_first_turn": True,
    }
    values.update(overrides)
    return TurnResolvedConfig(**values)


def turn_started(
    thread_id: str, turn_id: str, started_at: int | None = 455, conn: int = 7
) -> TurnStarted:
    return TurnStarted(
        conn, thread_id, t.Turn(id=turn_id, status="inProgress", started_at=started_at)
    )


def turn_completed(
    thread_id: str, turn_id: str, status: str = "completed", error: Any = None, conn: int = 7
) -> TurnCompleted:
    turn_error = t.TurnError(message="turn failed", codex_error_info=error) if error else None
    turn = t.Turn(id=turn_id, status=status, error=turn_error, completed_at=456, duration_ms=1234)
    return TurnCompleted(conn, thread_id, turn)


def token_usage(thread_id: str, turn_id: str) -> TurnTokenUsage:
    return TurnTokenUsage(thread_id, turn_id, TokenUsage(123, 45, 7, 140, 13, 321))


def item(kind: type[msgspec.Struct], **fields: Any) -> Any:
    return kind(**fields)


def item_started(
    thread_id: str, turn_id: str, item_type: str, obj: Any, at: int = 1000, conn: int = 7
) -> ItemStarted:
    return ItemStarted(conn, thread_id, turn_id, item_type, obj.id, obj, at)


def item_completed(
    thread_id: str, turn_id: str, item_type: str, obj: Any, at: int = 1045, conn: int = 7
) -> ItemCompleted:
    return ItemCompleted(conn, thread_id, turn_id, item_type, obj.id, obj, at)


def subagent_started(
    thread_id: str,
    *,
    parent: str | None = None,
    spawn_parent: str | None = None,
    source: str = "review",
    created_at: int = 123,
) -> SubAgentThreadStarted:
    return SubAgentThreadStarted(
        thread_id=thread_id,
        session_id="session-root",
        parent_thread_id=parent,
        forked_from_thread_id=None,
        product_client_id="codex-tui",
        client_name="codex-tui",
        client_version="1.0.0",
        model="gpt-5",
        ephemeral=False,
        subagent_source=source,
        created_at=created_at,
        spawn_parent_thread_id=spawn_parent,
        runtime=TUI_RUNTIME,
    )


def run(reducer: Reducer, *facts: Any) -> list[dict[str, Any]]:
    """Ingest facts in order; return every emitted event as plain JSON data."""
    from agentlytics.events.envelope import encode

    out: list[dict[str, Any]] = []
    for fact in facts:
        out += [msgspec.json.decode(encode(e)) for e in reducer.ingest(fact)]
    return out


def turn_prerequisites(
    reducer: Reducer, *, config: bool = True, started: bool = True, tokens: bool = True
) -> None:
    """reducer.md §7.0 ingest_turn_prerequisites: thread-2 on conn 7, turn-2 with one image."""
    run(reducer, initialize(), thread_response(7, 1, thread("thread-2")))
    run(reducer, turn_start_request(7, 3, "thread-2"), turn_start_response(7, 3, "turn-2"))
    if config:
        run(reducer, resolved_config("thread-2", "turn-2"))
    if started:
        run(reducer, turn_started("thread-2", "turn-2"))
    if tokens:
        run(reducer, token_usage("thread-2", "turn-2"))


# --- reviews (reducer.md §7.0: review prerequisites, approval requests, guardian notifications) ---

SAMPLE_RUNTIME = RuntimeMetadata("0.99.0", "linux", "24.04", "x86_64")


def review_prerequisites(reducer: Reducer, *threads: str) -> None:
    """sample_initialize_fact(7) + thread/start of ``thread-1`` (and any others) on conn 7."""
    run(
        reducer,
        initialize(
            product="codex_cli_rs",
            experimental=False,
            runtime=SAMPLE_RUNTIME,
            transport="websocket",
        ),
    )
    for i, thread_id in enumerate(threads or ("thread-1",)):
        run(reducer, thread_response(7, 100 + i, thread(thread_id)))


def command_approval(
    request_id: Any,
    *,
    thread_id: str = "thread-1",
    turn_id: str = "turn-1",
    item_id: str = "item-1",
    started_at_ms: int = 1000,
    conn: int = 7,
    **params: Any,
) -> Any:
    from agentlytics.facts import ServerRequest

    p = t.CommandExecutionRequestApprovalParams(
        thread_id=thread_id,
        turn_id=turn_id,
        item_id=item_id,
        started_at_ms=started_at_ms,
        **params,
    )
    return ServerRequest(conn, request_id, "item/commandExecution/requestApproval", p, 999)


def file_change_approval(
    request_id: Any, *, grant_root: str | None = None, item_id: str = "item-1", conn: int = 7
) -> Any:
    from agentlytics.facts import ServerRequest

    p = t.FileChangeRequestApprovalParams(
        thread_id="thread-1",
        turn_id="turn-1",
        item_id=item_id,
        started_at_ms=1000,
        grant_root=grant_root,
    )
    return ServerRequest(conn, request_id, "item/fileChange/requestApproval", p, 999)


def permissions_approval(
    request_id: Any, permissions: t.PermissionProfile | None = None, conn: int = 7
) -> Any:
    """sample_permissions_approval_request: itemId permissions-1, network enabled."""
    from agentlytics.facts import ServerRequest

    if permissions is None:
        permissions = t.PermissionProfile(network=t.NetworkPermissions(enabled=True))
    p = t.PermissionsRequestApprovalParams(
        thread_id="thread-1",
        turn_id="turn-1",
        item_id="permissions-1",
        started_at_ms=1000,
        permissions=permissions,
    )
    return ServerRequest(conn, request_id, "item/permissions/requestApproval", p, 999)


def mcp_approval(
    request_id: Any,
    tool_name: str | None = "save_note",
    *,
    turn_id: str | None = "turn-1",
    server: str = "demo",
    started_at_ms: int = 1000,
    conn: int = 7,
) -> Any:
    from agentlytics.facts import ServerRequest

    p = t.McpToolCallApprovalParams("thread-1", turn_id, server, tool_name, started_at_ms)
    return ServerRequest(conn, request_id, "mcpServer/elicitation/request", p, started_at_ms)


def answer(request_id: Any, response: Any, *, at: int = 1042, conn: int = 7) -> Any:
    """The client's answer (ServerResponse) with a decoded response, observed at ``at``."""
    from agentlytics.facts import ServerResponse

    return ServerResponse(conn, request_id, "", response, at)


def command_decision(decision: Any) -> Any:
    return msgspec.json.decode(
        msgspec.json.encode({"decision": decision}), type=t.CommandExecutionRequestApprovalResponse
    )


def aborted(request_id: Any, *, at: int = 1042, conn: int = 7) -> Any:
    from agentlytics.facts import ServerRequestAborted

    return ServerRequestAborted(conn, request_id, at)


def guardian_completed(
    review_id: str,
    target: str | None,
    status: str,
    action: dict[str, Any] | None = None,
    *,
    thread_id: str = "thread-1",
    started_at_ms: int = 1000,
    completed_at_ms: int = 1042,
) -> Any:
    """sample_guardian_review_completed: startedAtMs 1000, completedAtMs 1042, command action."""
    from agentlytics.facts import GuardianReviewCompleted

    wire = {
        "threadId": thread_id,
        "turnId": "turn-1",
        "reviewId": review_id,
        "targetItemId": target,
        "startedAtMs": started_at_ms,
        "completedAtMs": completed_at_ms,
        "decisionSource": "agent",
        "review": {"status": status, "riskLevel": "low", "userAuthorization": "unknown"},
        "action": action
        or {"type": "command", "source": "shell", "command": "echo hi", "cwd": "/tmp"},
    }
    n = msgspec.json.decode(
        msgspec.json.encode(wire), type=t.ItemGuardianApprovalReviewCompletedNotification
    )
    return GuardianReviewCompleted(7, n)


def command_item(item_id: str = "item-1", status: str = "completed", source: str = "agent") -> Any:
    return t.CommandExecutionItem(
        id=item_id, status=status, source=source, exit_code=0, duration_ms=42
    )


def completed_command_item(
    reducer: Reducer,
    thread_id: str = "thread-1",
    item_id: str = "item-1",
    *,
    source: str = "agent",
    turn_id: str = "turn-1",
) -> list[dict[str, Any]]:
    """ingest_completed_command_execution_item: turn/started, item/started 1000, completed 1042."""
    return run(
        reducer,
        turn_started(thread_id, turn_id),
        item_started(thread_id, turn_id, "commandExecution", command_item(item_id, "inProgress")),
        item_completed(
            thread_id, turn_id, "commandExecution", command_item(item_id, source=source), at=1042
        ),
    )
