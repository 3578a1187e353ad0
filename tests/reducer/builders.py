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
