"""Tool-item events: joins, durations, statuses and per-kind fields (reducer.md §4, §7.1 38-39)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from agentlytics.facts import RuntimeMetadata
from agentlytics.families import FAMILIES
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer
from tests.reducer.builders import (
    initialize,
    item_completed,
    item_started,
    run,
    thread,
    thread_response,
    turn_started,
)


def lifecycle(kind: str, obj: Any, *, start: int = 1000, end: int = 1045) -> list[dict[str, Any]]:
    """Review prerequisites (thread-1 on conn 7), then the item's start and completion."""
    reducer = Reducer(FAMILIES)
    run(
        reducer,
        initialize(),
        thread_response(7, 1, thread("thread-1")),
        turn_started("thread-1", "turn-1"),
    )
    assert run(reducer, item_started("thread-1", "turn-1", kind, obj, at=start)) == []
    return run(reducer, item_completed("thread-1", "turn-1", kind, obj, at=end))


def test_command_execution_event_serializes_expected_shape() -> None:
    # §7.1 no. 38 adapted: V-main base fields; outcome "unknown" (no review; "not_needed" is
    # never produced by the reducer).
    reducer = Reducer(FAMILIES)
    runtime = RuntimeMetadata("0.99.0", "macos", "15.3.1", "aarch64")
    run(
        reducer,
        initialize(
            name="codex-tui",
            version="1.2.3",
            product="codex_tui",
            experimental=True,
            runtime=runtime,
            transport="websocket",
        ),
        thread_response(7, 1, thread("thread-1")),
        turn_started("thread-1", "turn-1"),
    )
    actions = [t.CommandAction(type=x) for x in ("read", "listFiles", "search", "unknown")]
    command = t.CommandExecutionItem(
        id="item-1",
        status="completed",
        source="agent",
        exit_code=0,
        duration_ms=1900,
        command_actions=actions,
    )
    run(reducer, item_started("thread-1", "turn-1", "commandExecution", command, at=123000))
    events = run(
        reducer, item_completed("thread-1", "turn-1", "commandExecution", command, at=125000)
    )
    assert msgspec.json.encode(events) == msgspec.json.encode(
        [
            {
                "event_type": "codex_command_execution_event",
                "event_params": {
                    "thread_id": "thread-1",
                    "session_id": "session-thread-1",
                    "turn_id": "turn-1",
                    "item_id": "item-1",
                    "cell_id": None,
                    "parent_call_id": None,
                    "originating_response_id": None,
                    "subsequent_response_id": None,
                    "app_server_client": {
                        "product_client_id": "codex_tui",
                        "client_name": "codex-tui",
                        "client_version": "1.2.3",
                        "rpc_transport": "websocket",
                        "experimental_api_enabled": True,
                    },
                    "runtime": {
                        "codex_rs_version": "0.99.0",
                        "runtime_os": "macos",
                        "runtime_os_version": "15.3.1",
                        "runtime_arch": "aarch64",
                    },
                    "thread_source": "user",
                    "subagent_source": None,
                    "parent_thread_id": None,
                    "tool_name": "shell",
                    "started_at_ms": 123000,
                    "completed_at_ms": 125000,
                    "duration_ms": 2000,
                    "execution_duration_ms": 1900,
                    "review_count": 0,
                    "guardian_review_count": 0,
                    "user_review_count": 0,
                    "final_approval_outcome": "unknown",
                    "terminal_status": "completed",
                    "failure_kind": None,
                    "requested_additional_permissions": False,
                    "requested_network_access": False,
                    "plugin_id": None,
                    "script_path": None,
                    "command_execution_source": "agent",
                    "exit_code": 0,
                    "command_total_action_count": 4,
                    "command_read_action_count": 1,
                    "command_list_files_action_count": 1,
                    "command_search_action_count": 1,
                    "command_unknown_action_count": 1,
                },
            }
        ]
    )


@pytest.mark.parametrize(
    ("source", "tool_name"),
    [
        ("agent", "shell"),
        ("userShell", "user_shell"),
        ("unifiedExecStartup", "unified_exec"),
        ("unifiedExecInteraction", "unified_exec"),
    ],
)
def test_command_tool_name_follows_source(source: str, tool_name: str) -> None:
    (event,) = lifecycle(
        "commandExecution", t.CommandExecutionItem(id="c", status="completed", source=source)
    )
    assert event["event_params"]["tool_name"] == tool_name
    assert event["event_params"]["command_execution_source"] == source


@pytest.mark.parametrize(
    ("status", "terminal", "failure"),
    [
        ("completed", "completed", None),
        ("failed", "failed", "tool_error"),
        ("declined", "rejected", "approval_denied"),
    ],
)
def test_command_and_file_change_status_map(
    status: str, terminal: str, failure: str | None
) -> None:
    for kind, obj in (
        ("commandExecution", t.CommandExecutionItem(id="x", status=status)),
        ("fileChange", t.FileChangeItem(id="x", status=status)),
    ):
        (event,) = lifecycle(kind, obj)
        p = event["event_params"]
        assert (p["terminal_status"], p["failure_kind"]) == (terminal, failure)


def test_in_progress_completion_emits_no_event() -> None:
    assert lifecycle("commandExecution", t.CommandExecutionItem(id="x", status="inProgress")) == []


def test_negative_lifecycle_duration_is_null() -> None:
    (event,) = lifecycle(
        "commandExecution",
        t.CommandExecutionItem(id="x", status="completed", duration_ms=-5),
        start=2000,
        end=1000,
    )
    assert event["event_params"]["duration_ms"] is None
    assert event["event_params"]["execution_duration_ms"] is None


def test_missing_item_started_drops_with_reason() -> None:
    reducer = Reducer(FAMILIES)
    run(
        reducer,
        initialize(),
        thread_response(7, 1, thread("thread-1")),
        turn_started("thread-1", "turn-1"),
    )
    obj = t.CommandExecutionItem(id="x", status="completed")
    assert run(reducer, item_completed("thread-1", "turn-1", "commandExecution", obj)) == []
    assert reducer.state.drops["tool item: missing item started notification"] == 1


def test_file_change_counts_by_kind() -> None:
    changes = [
        t.FileUpdateChange(kind=t.PatchChangeKind(type="add")),
        t.FileUpdateChange(kind=t.PatchChangeKind(type="update")),
        t.FileUpdateChange(kind=t.PatchChangeKind(type="update", move_path="b.py")),
        t.FileUpdateChange(kind=t.PatchChangeKind(type="delete")),
        t.FileUpdateChange(kind=t.PatchChangeKind(type="add")),
    ]
    (event,) = lifecycle(
        "fileChange", t.FileChangeItem(id="p", status="completed", changes=changes)
    )
    p = event["event_params"]
    assert p["tool_name"] == "apply_patch" and p["execution_duration_ms"] is None
    assert [
        p[k]
        for k in (
            "file_change_count",
            "file_add_count",
            "file_update_count",
            "file_delete_count",
            "file_move_count",
        )
    ] == [5, 2, 1, 1, 1]


def test_mcp_tool_call_fields() -> None:
    obj = t.McpToolCallItem(
        id="m",
        server="demo",
        tool="lookup",
        status="failed",
        duration_ms=12,
        error=t.McpToolCallError(message="nope"),
        app_context=t.McpToolCallAppContext(connector_id="drive"),
    )
    (event,) = lifecycle("mcpToolCall", obj)
    p = event["event_params"]
    assert (p["tool_name"], p["mcp_server_name"], p["mcp_tool_name"]) == (
        "lookup",
        "demo",
        "lookup",
    )
    assert (p["mcp_error_present"], p["connector_id"], p["execution_duration_ms"]) == (
        True,
        "drive",
        12,
    )
    assert (p["terminal_status"], p["failure_kind"]) == ("failed", "tool_error")


def test_dynamic_tool_call_content_counts() -> None:
    content = [
        t.DynamicToolCallContentItem(type=x) for x in ("inputText", "inputImage", "inputText")
    ]
    obj = t.DynamicToolCallItem(
        id="d",
        tool="ticket",
        status="completed",
        success=True,
        content_items=content,
        duration_ms=3,
    )
    (event,) = lifecycle("dynamicToolCall", obj)
    p = event["event_params"]
    assert (p["dynamic_tool_name"], p["success"]) == ("ticket", True)
    assert (
        p["output_content_item_count"],
        p["output_text_item_count"],
        p["output_image_item_count"],
    ) == (3, 2, 1)
    (event,) = lifecycle(
        "dynamicToolCall", t.DynamicToolCallItem(id="d", tool="x", status="completed")
    )
    assert event["event_params"]["output_content_item_count"] is None
    assert event["event_params"]["output_text_item_count"] is None


def test_collab_agent_tool_call_fields() -> None:
    obj = t.CollabAgentToolCallItem(
        id="a",
        tool="spawnAgent",
        status="completed",
        sender_thread_id="thread-1",
        receiver_thread_ids=["c1", "c2"],
        model="gpt-5",
        reasoning_effort="low",
        agents_states={
            "c1": t.CollabAgentState("completed"),
            "c2": t.CollabAgentState("errored"),
            "c3": t.CollabAgentState("running"),
        },
    )
    (event,) = lifecycle("collabAgentToolCall", obj)
    p = event["event_params"]
    assert (p["tool_name"], p["receiver_thread_count"], p["receiver_thread_ids"]) == (
        "spawn_agent",
        2,
        ["c1", "c2"],
    )
    assert (p["requested_model"], p["requested_reasoning_effort"]) == ("gpt-5", "low")
    assert (p["agent_state_count"], p["completed_agent_count"], p["failed_agent_count"]) == (
        3,
        1,
        1,
    )


@pytest.mark.parametrize(
    ("query", "action", "expected"),
    [
        ("codex", None, (None, True, 1)),
        ("  ", None, (None, False, None)),
        ("q", t.WebSearchAction(type="search", queries=["a", "b", "c"]), ("search", True, 3)),
        ("q", t.WebSearchAction(type="search", query="a"), ("search", True, 1)),
        ("q", t.WebSearchAction(type="search"), ("search", True, None)),
        ("q", t.WebSearchAction(type="openPage"), ("open_page", True, None)),
        ("q", t.WebSearchAction(type="findInPage"), ("find_in_page", True, None)),
        ("", t.WebSearchAction(type="other"), ("other", False, None)),
    ],
)
def test_web_search_action_and_query_count(
    query: str, action: Any, expected: tuple[Any, ...]
) -> None:
    (event,) = lifecycle("webSearch", t.WebSearchItem(id="w", query=query, action=action))
    p = event["event_params"]
    assert (p["web_search_action"], p["query_present"], p["query_count"]) == expected
    assert (p["tool_name"], p["terminal_status"]) == ("web_search", "completed")


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("completed", "completed"),
        ("failed", "failed"),
        ("error", "failed"),
        ("generating", "completed"),
    ],
)
def test_image_generation_status(status: str, terminal: str) -> None:
    (event,) = lifecycle(
        "imageGeneration", t.ImageGenerationItem(id="i", status=status, saved_path="/x.png")
    )
    p = event["event_params"]
    assert (p["terminal_status"], p["saved_path_present"], p["revised_prompt_present"]) == (
        terminal,
        True,
        False,
    )


def test_item_ids_reused_across_threads_do_not_cross() -> None:
    # A start recorded in thread-1 does not satisfy a completion of the same item id in thread-2.
    reducer = Reducer(FAMILIES)
    run(
        reducer,
        initialize(),
        thread_response(7, 1, thread("thread-1")),
        thread_response(7, 2, thread("thread-2")),
    )
    run(reducer, turn_started("thread-1", "turn-1"), turn_started("thread-2", "turn-2"))
    obj = t.CommandExecutionItem(id="item-1", status="completed")
    run(reducer, item_started("thread-1", "turn-1", "commandExecution", obj))
    assert run(reducer, item_completed("thread-2", "turn-2", "commandExecution", obj)) == []
    (event,) = run(reducer, item_completed("thread-1", "turn-1", "commandExecution", obj))
    assert event["event_params"]["thread_id"] == "thread-1"


def test_item_completing_after_its_turn_event_still_emits() -> None:
    from tests.reducer.builders import resolved_config, turn_completed

    reducer = Reducer(FAMILIES)
    run(
        reducer,
        initialize(),
        thread_response(7, 1, thread("thread-1")),
        turn_started("thread-1", "turn-1"),
    )
    run(reducer, resolved_config("thread-1", "turn-1"))
    obj = t.CommandExecutionItem(id="bg", status="completed")
    run(reducer, item_started("thread-1", "turn-1", "commandExecution", obj))
    assert [e["event_type"] for e in run(reducer, turn_completed("thread-1", "turn-1"))] == [
        "codex_turn_event"
    ]
    assert "turn-1" in reducer.state.turns  # kept for its open item
    (event,) = run(reducer, item_completed("thread-1", "turn-1", "commandExecution", obj))
    assert event["event_type"] == "codex_command_execution_event"
    assert "turn-1" not in reducer.state.turns


def test_dynamic_content_counts_include_audio() -> None:
    """Upstream's [N] reducer unit test (reducer.md §7.2): text + image + audio output items →
    total 3, one of each."""
    content = [
        t.DynamicToolCallContentItem(type=x) for x in ("inputText", "inputImage", "inputAudio")
    ]
    obj = t.DynamicToolCallItem(id="d", tool="x", status="completed", content_items=content)
    (event,) = lifecycle("dynamicToolCall", obj)
    p = event["event_params"]
    assert (
        p["output_content_item_count"],
        p["output_text_item_count"],
        p["output_image_item_count"],
        p["output_audio_item_count"],
    ) == (3, 1, 1, 1)


@pytest.mark.parametrize(
    ("plugin_id", "script_path", "reported"),
    [
        ("sample@test", "/abs/path/run.py", None),  # absolute: rejected
        ("sample@test", "scripts/run.py", "scripts/run.py"),  # relative, with a plugin: kept
        (None, "scripts/run.py", None),  # no plugin: never reported
    ],
)
def test_command_execution_script_paths_reject_unsafe_values(
    plugin_id: str | None, script_path: str, reported: str | None
) -> None:
    """Upstream's [N] reducer unit test (reducer.md §7.2): a command's ``script_path`` is kept
    only when relative and the command belongs to a plugin."""
    obj = t.CommandExecutionItem(
        id="c", status="completed", source="agent", plugin_id=plugin_id, script_path=script_path
    )
    (event,) = lifecycle("commandExecution", obj)
    assert (event["event_params"]["plugin_id"], event["event_params"]["script_path"]) == (
        plugin_id,
        reported,
    )
