"""Turn events: emission rules, exact shape, counts, steering (reducer.md §3, §6.2, §7.1 49-63)."""

from __future__ import annotations

from typing import Any

import msgspec

from agentlytics.facts import ClientRequest, ClientResponse, ErrorResponse, TurnCodexError
from agentlytics.families import FAMILIES
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer
from tests.reducer.builders import (
    initialize,
    item_completed,
    resolved_config,
    run,
    steer_error,
    steer_request,
    steer_response,
    thread,
    thread_response,
    token_usage,
    turn_completed,
    turn_prerequisites,
    turn_start_request,
    turn_start_response,
    turn_started,
)


def turn_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["event_params"] for e in events if e["event_type"] == "codex_turn_event"]


def test_turn_event_serializes_expected_shape() -> None:
    # §7.1 no. 49 adapted to the V-main field set (57 fields; profile fields null: decision 3).
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(product="codex_cli_rs", experimental=True))
    run(reducer, thread_response(7, 1, thread("thread-2")))
    run(reducer, turn_start_request(7, 3, "thread-2"), turn_start_response(7, 3, "turn-2"))
    config = resolved_config(
        "thread-2",
        "turn-2",
        num_input_images=2,
        reasoning_effort="high",
        reasoning_summary="detailed",
        service_tier="flex",
        personality="pragmatic",
    )
    run(reducer, config, turn_started("thread-2", "turn-2"))
    events = run(reducer, turn_completed("thread-2", "turn-2"))
    expected = {
        "event_type": "codex_turn_event",
        "event_params": {
            "thread_id": "thread-2",
            "session_id": "session-thread-2",
            "turn_id": "turn-2",
            "submission_type": None,
            "app_server_client": {
                "product_client_id": "codex_cli_rs",
                "client_name": "codex-tui",
                "client_version": "1.0.0",
                "rpc_transport": "stdio",
                "experimental_api_enabled": True,
            },
            "runtime": {
                "codex_rs_version": "0.1.0",
                "runtime_os": "macos",
                "runtime_os_version": "15.3.1",
                "runtime_arch": "aarch64",
            },
            "ephemeral": False,
            "thread_source": "user",
            "initialization_mode": "new",
            "subagent_source": None,
            "parent_thread_id": None,
            "model": "gpt-5",
            "model_provider": "openai",
            "sandbox_policy": "read_only",
            "reasoning_effort": "high",
            "reasoning_summary": "detailed",
            "service_tier": "flex",
            "approval_policy": "on-request",
            "approvals_reviewer": "auto_review",
            "sandbox_network_access": True,
            "collaboration_mode": "plan",
            "personality": "pragmatic",
            "workspace_kind": None,
            "num_input_images": 2,
            "image_preparations": [],
            "is_first_turn": True,
            "status": "completed",
            "explicit_client_interrupt_requested_at_ms": None,
            "turn_error": None,
            "codex_error_kind": None,
            "codex_error_http_status_code": None,
            "steer_count": 0,
            "total_tool_call_count": 0,
            "shell_command_count": 0,
            "file_change_count": 0,
            "mcp_tool_call_count": 0,
            "dynamic_tool_call_count": 0,
            "subagent_tool_call_count": 0,
            "web_search_count": 0,
            "image_generation_count": 0,
            "input_tokens": None,
            "cached_input_tokens": None,
            "cache_write_input_tokens": None,
            "output_tokens": None,
            "reasoning_output_tokens": None,
            "total_tokens": None,
            "before_first_sampling_ms": None,
            "sampling_ms": None,
            "compaction_ms": None,
            "between_sampling_overhead_ms": None,
            "tool_blocking_ms": None,
            "after_last_sampling_ms": None,
            "sampling_request_count": None,
            "sampling_retry_count": None,
            "duration_ms": 1234,
            "started_at": 455,
            "completed_at": 456,
        },
    }
    assert len(expected["event_params"]) == 57
    assert msgspec.json.encode(events) == msgspec.json.encode([expected])


def test_turn_lifecycle_emits_turn_event() -> None:
    # §7.1 no. 50.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    events = run(reducer, turn_completed("thread-2", "turn-2"))
    assert len(events) == 1 and events[0]["event_type"] == "codex_turn_event"
    p = events[0]["event_params"]
    assert "product_client_id" not in p
    assert p["app_server_client"] == {
        "product_client_id": "codex-tui",
        "client_name": "codex-tui",
        "client_version": "1.0.0",
        "rpc_transport": "stdio",
        "experimental_api_enabled": None,
    }
    assert (p["num_input_images"], p["status"], p["steer_count"]) == (1, "completed", 0)
    assert (p["started_at"], p["completed_at"], p["duration_ms"]) == (455, 456, 1234)
    tokens = [p[k] for k in ("input_tokens", "cached_input_tokens", "output_tokens")]
    assert [*tokens, p["reasoning_output_tokens"], p["total_tokens"]] == [123, 45, 140, 13, 321]
    assert p["cache_write_input_tokens"] == 7
    assert p["total_tool_call_count"] == 0


def test_facts_may_arrive_in_any_order() -> None:
    # The completion comes first; the event fires on whichever fact completes the set.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-2")))
    run(reducer, turn_start_request(7, 3, "thread-2"))
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []
    assert run(reducer, token_usage("thread-2", "turn-2")) == []
    assert run(reducer, turn_start_response(7, 3, "turn-2")) == []
    events = run(reducer, resolved_config("thread-2", "turn-2"))
    assert [e["event_type"] for e in events] == ["codex_turn_event"]
    assert events[0]["event_params"]["total_tokens"] == 321
    # Emitted once: a late fact for the same turn emits nothing more.
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []


def test_turn_event_counts_completed_tool_items_without_started() -> None:
    # §7.1 no. 51: seven completed items without item/started → no tool events, counts 7.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, tokens=False)
    items: list[tuple[str, Any]] = [
        ("commandExecution", t.CommandExecutionItem(id="c", status="completed")),
        ("fileChange", t.FileChangeItem(id="f", status="completed")),
        ("mcpToolCall", t.McpToolCallItem(id="m", status="completed")),
        ("dynamicToolCall", t.DynamicToolCallItem(id="d", status="completed")),
        (
            "collabAgentToolCall",
            t.CollabAgentToolCallItem(id="a", tool="spawnAgent", status="completed"),
        ),
        ("webSearch", t.WebSearchItem(id="w", query="codex")),
        ("imageGeneration", t.ImageGenerationItem(id="i", status="completed")),
    ]
    for kind, obj in items:
        assert run(reducer, item_completed("thread-2", "turn-2", kind, obj)) == []
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2")))
    assert p["total_tool_call_count"] == 7
    for key in (
        "shell_command_count",
        "file_change_count",
        "mcp_tool_call_count",
        "dynamic_tool_call_count",
        "subagent_tool_call_count",
        "web_search_count",
        "image_generation_count",
    ):
        assert p[key] == 1, key
    assert reducer.state.drops["tool item: missing item started notification"] == 7


def test_subagent_activity_counts_once_and_not_when_completed() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, tokens=False)
    spawn = t.SubAgentActivityItem(id="spawn-1", kind="started", agent_thread_id="child")
    done = t.SubAgentActivityItem(id="done-1", kind="completed", agent_thread_id="child")
    wait = t.CollabAgentToolCallItem(id="wait-1", tool="wait", status="completed")
    for kind, obj in [
        ("subAgentActivity", spawn),
        ("subAgentActivity", spawn),
        ("subAgentActivity", done),
        ("collabAgentToolCall", wait),
    ]:
        run(reducer, item_completed("thread-2", "turn-2", kind, obj))
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2")))
    assert (p["total_tool_call_count"], p["subagent_tool_call_count"]) == (2, 2)


def test_item_completed_without_turn_state_does_not_create_turn_state() -> None:
    # §7.1 no. 52.
    reducer = Reducer(FAMILIES)
    command = t.CommandExecutionItem(id="c", status="completed")
    assert run(reducer, item_completed("thread-2", "turn-2", "commandExecution", command)) == []
    assert "turn-2" not in reducer.state.turns
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []


def test_turn_does_not_emit_without_required_prerequisites() -> None:
    # §7.1 no. 54 (a): no initialize, so no thread/connection.
    reducer = Reducer(FAMILIES)
    run(reducer, turn_start_request(7, 3, "thread-2"), turn_start_response(7, 3, "turn-2"))
    run(reducer, resolved_config("thread-2", "turn-2"))
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []
    assert reducer.state.drops["turn: missing connection"] == 1
    # (b): initialized, but no resolved config.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False)
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []


def test_failed_turn_carries_wire_error_and_synthesised_kind() -> None:
    # §7.1 no. 55 (+ the [G] codex_error fields from the synthesised TurnCodexError fact).
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    run(reducer, TurnCodexError("thread-2", "turn-2", "invalid_request", None))
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2", "failed", "badRequest")))
    assert (p["status"], p["turn_error"], p["codex_error_kind"]) == (
        "failed",
        "badRequest",
        "invalid_request",
    )


def test_interrupted_turn_without_error() -> None:
    # §7.1 no. 56.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2", "interrupted")))
    assert (p["status"], p["turn_error"]) == ("interrupted", None)


def test_turn_completed_without_started_notification_emits_null_started_at() -> None:
    # §7.1 no. 57.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, started=False, tokens=False)
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2")))
    assert p["started_at"] is None and p["duration_ms"] == 1234
    assert [
        p[k]
        for k in (
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "reasoning_output_tokens",
            "total_tokens",
        )
    ] == [None] * 5


def test_turn_start_error_response_discards_pending_start_request() -> None:
    # §7.1 no. 63.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    run(reducer, turn_start_request(7, 3, "thread-2"))
    assert run(reducer, ErrorResponse(7, 3, "boom", None, 0)) == []
    assert run(reducer, turn_start_response(7, 3, "turn-2")) == []
    run(reducer, resolved_config("thread-2", "turn-2"))
    assert run(reducer, turn_completed("thread-2", "turn-2")) == []


def test_accepted_interrupt_records_earliest_request_time() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    for request_id, at in ((8, 1716000000456), (9, 1716000000123)):
        params = t.TurnInterruptParams(thread_id="thread-2", turn_id="turn-2")
        run(reducer, ClientRequest(7, request_id, "turn/interrupt", params, at))
    from agentlytics.facts import TurnInterruptResponse

    run(reducer, ClientResponse(7, 8, "turn/interrupt", TurnInterruptResponse(), 0))
    run(reducer, ClientResponse(7, 9, "turn/interrupt", TurnInterruptResponse(), 0))
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2", "interrupted")))
    assert p["explicit_client_interrupt_requested_at_ms"] == 1716000000123


def test_rejected_interrupt_does_not_tag_turn() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    params = t.TurnInterruptParams(thread_id="thread-2", turn_id="turn-2")
    run(reducer, ClientRequest(7, 8, "turn/interrupt", params, 1716000000456))
    run(reducer, ErrorResponse(7, 8, "no active turn", None, 0))
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2", "interrupted")))
    assert p["explicit_client_interrupt_requested_at_ms"] is None


def test_rejected_turn_interrupt_removes_pending_analytics_request() -> None:
    """Upstream's [N] reducer unit test (reducer.md §7.2): an interrupt request, then an error
    for it → the pending request is gone and nothing is emitted (a late result for the same id
    then pairs with nothing)."""
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    params = t.TurnInterruptParams(thread_id="thread-2", turn_id="turn-2")
    assert run(reducer, ClientRequest(7, 8, "turn/interrupt", params, 1716000000456)) == []
    assert (7, 8) in reducer.state.requests
    assert run(reducer, ErrorResponse(7, 8, "no active turn", None, 0)) == []
    assert (7, 8) not in reducer.state.requests
    from agentlytics.facts import TurnInterruptResponse

    assert run(reducer, ClientResponse(7, 8, "turn/interrupt", TurnInterruptResponse(), 0)) == []
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2", "interrupted")))
    assert p["explicit_client_interrupt_requested_at_ms"] is None


# --- steering -----------------------------------------------------------------------------------


def test_accepted_turn_steer_emits_expected_event() -> None:
    # §7.1 no. 58.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False, started=False, tokens=False)
    run(reducer, steer_request(7, 4, "thread-2", "turn-2", observed_at_ms=1_700_000_123_456))
    events = run(reducer, steer_response(7, 4, "turn-2"))
    assert msgspec.json.encode(events) == msgspec.json.encode(
        [
            {
                "event_type": "codex_turn_steer_event",
                "event_params": {
                    "thread_id": "thread-2",
                    "session_id": "session-thread-2",
                    "expected_turn_id": "turn-2",
                    "accepted_turn_id": "turn-2",
                    "app_server_client": {
                        "product_client_id": "codex-tui",
                        "client_name": "codex-tui",
                        "client_version": "1.0.0",
                        "rpc_transport": "stdio",
                        "experimental_api_enabled": None,
                    },
                    "runtime": {
                        "codex_rs_version": "0.1.0",
                        "runtime_os": "macos",
                        "runtime_os_version": "15.3.1",
                        "runtime_arch": "aarch64",
                    },
                    "thread_source": "user",
                    "subagent_source": None,
                    "parent_thread_id": None,
                    "num_input_images": 1,
                    "result": "accepted",
                    "rejection_reason": None,
                    "created_at": 1_700_000_123,
                },
            }
        ]
    )


def test_rejected_turn_steer_uses_request_connection_metadata() -> None:
    # §7.1 no. 59: thread-2 re-bound to connection 8 by a resume; the steer sent on 7 reports 7.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False, started=False, tokens=False)
    run(reducer, initialize(conn=8, name="codex-web"))
    run(reducer, thread_response(8, 6, thread("thread-2"), "thread/resume"))
    run(reducer, steer_request(7, 4, "thread-2", "turn-2"))
    (event,) = run(reducer, steer_error(7, 4, "no_active_turn"))
    p = event["event_params"]
    assert p["app_server_client"]["product_client_id"] == "codex-tui"
    assert (p["result"], p["rejection_reason"], p["accepted_turn_id"]) == (
        "rejected",
        "no_active_turn",
        None,
    )


def test_steer_without_pending_request_emits_nothing() -> None:
    # §7.1 no. 62.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False, started=False, tokens=False)
    assert run(reducer, steer_error(7, 4, "no_active_turn")) == []


def test_accepted_steers_increment_turn_steer_count() -> None:
    # §7.1 no. 53.
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, tokens=False)
    run(reducer, steer_request(7, 4, "thread-2", "turn-2"), steer_response(7, 4, "turn-2"))
    run(reducer, steer_request(7, 5, "thread-2", "turn-2"), steer_error(7, 5, "no_active_turn"))
    run(reducer, steer_request(7, 6, "thread-2", "turn-2"), steer_response(7, 6, "turn-2"))
    (p,) = turn_events(run(reducer, turn_completed("thread-2", "turn-2")))
    assert p["steer_count"] == 2
