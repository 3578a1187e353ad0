"""Thread initialization, connection metadata and subagent attribution (reducer.md §2.1-2.3, §2.9)."""

from __future__ import annotations

import msgspec

from agentlytics.facts import ConnectionClosed, RuntimeMetadata
from agentlytics.families import FAMILIES
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer
from tests.reducer.builders import (
    initialize,
    item_completed,
    item_started,
    run,
    subagent_started,
    thread,
    thread_response,
    turn_started,
)

TUI_CLIENT = {
    "product_client_id": "codex_cli_rs",
    "client_name": "codex-tui",
    "client_version": "1.0.0",
    "rpc_transport": "stdio",
    "experimental_api_enabled": True,
}
TUI_RUNTIME = {
    "codex_rs_version": "0.1.0",
    "runtime_os": "macos",
    "runtime_os_version": "15.3.1",
    "runtime_arch": "aarch64",
}


def test_thread_initialized_event_serializes_expected_shape() -> None:
    # reducer.md §7.1 no. 26, with the V-main field forked_from_thread_id.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(product="codex_cli_rs", experimental=True))
    events = run(reducer, thread_response(7, 1, thread("thread-0", ephemeral=True)))
    assert msgspec.json.encode(events) == msgspec.json.encode(
        [
            {
                "event_type": "codex_thread_initialized",
                "event_params": {
                    "thread_id": "thread-0",
                    "session_id": "session-thread-0",
                    "app_server_client": TUI_CLIENT,
                    "runtime": TUI_RUNTIME,
                    "model": "gpt-5",
                    "ephemeral": True,
                    "thread_source": "user",
                    "initialization_mode": "new",
                    "subagent_source": None,
                    "parent_thread_id": None,
                    "forked_from_thread_id": None,
                    "created_at": 1,
                },
            }
        ]
    )


def test_initialize_caches_client_and_thread_lifecycle_publishes_once_initialized() -> None:
    # §7.1 no. 27.
    reducer = Reducer(FAMILIES)
    assert run(reducer, thread_response(7, 1, thread("thread-1"), "thread/resume")) == []
    runtime = RuntimeMetadata("0.99.0", "linux", "24.04", "x86_64")
    init = initialize(
        product="codex_cli_rs", experimental=False, runtime=runtime, transport="websocket"
    )
    assert run(reducer, init) == []
    events = run(
        reducer, thread_response(7, 2, thread("thread-1", ephemeral=True), "thread/resume")
    )
    assert len(events) == 1
    params = events[0]["event_params"]
    assert params["session_id"] == "session-thread-1"
    assert params["app_server_client"] == {
        "product_client_id": "codex_cli_rs",
        "client_name": "codex-tui",
        "client_version": "1.0.0",
        "rpc_transport": "websocket",
        "experimental_api_enabled": False,
    }
    assert params["runtime"] == {
        "codex_rs_version": "0.99.0",
        "runtime_os": "linux",
        "runtime_os_version": "24.04",
        "runtime_arch": "x86_64",
    }
    assert params["initialization_mode"] == "resumed"
    assert params["thread_source"] == "user"


def test_fork_reports_forked_mode_and_source_thread() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    events = run(
        reducer, thread_response(7, 1, thread("thread-f", forked_from="thread-0"), "thread/fork")
    )
    assert events[0]["event_params"]["initialization_mode"] == "forked"
    assert events[0]["event_params"]["forked_from_thread_id"] == "thread-0"


def test_resume_with_thread_spawn_source_falls_back_to_spawn_parent() -> None:
    # Decision 4 / §7.1 no. 25: no explicit parent → the ThreadSpawn source's parent.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    source = {"subAgent": {"thread_spawn": {"parent_thread_id": "2222", "depth": 1}}}
    th = thread("thread-1", source=source, thread_source="subagent")
    events = run(reducer, thread_response(7, 1, th, "thread/resume"))
    params = events[0]["event_params"]
    assert params["subagent_source"] == "thread_spawn"
    assert params["parent_thread_id"] == "2222"
    assert params["thread_source"] == "subagent"


def test_subagent_thread_started_publishes_without_initialize() -> None:
    # §7.1 nos. 30 and 35.
    events = run(Reducer(FAMILIES), subagent_started("thread-review"))
    assert len(events) == 1
    params = events[0]["event_params"]
    assert params["app_server_client"] == {
        "product_client_id": "codex-tui",
        "client_name": "codex-tui",
        "client_version": "1.0.0",
        "rpc_transport": "in_process",
        "experimental_api_enabled": None,
    }
    assert params["thread_source"] == "subagent"
    assert params["initialization_mode"] == "new"
    assert params["subagent_source"] == "review"
    assert params["parent_thread_id"] is None
    assert params["created_at"] == 123


def test_subagent_thread_spawn_serializes_parent_from_spawn_source() -> None:
    # §7.1 no. 31: no explicit parent, ThreadSpawn parent 1111….
    parent = "11111111-1111-1111-1111-111111111111"
    events = run(
        Reducer(FAMILIES),
        subagent_started("thread-spawn", spawn_parent=parent, source="thread_spawn"),
    )
    params = events[0]["event_params"]
    assert params["parent_thread_id"] == parent
    assert params["subagent_source"] == "thread_spawn"
    assert params["session_id"] == "session-root"


def test_subagent_tool_items_inherit_parent_connection_metadata() -> None:
    # §7.1 no. 37: the child's tool event carries the parent's connection but its own metadata.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-1")))
    run(reducer, subagent_started("thread-subagent", parent="thread-1"))
    run(reducer, turn_started("thread-subagent", "turn-subagent"))
    command = t.CommandExecutionItem(id="item-1", status="completed", exit_code=0, duration_ms=42)
    run(reducer, item_started("thread-subagent", "turn-subagent", "commandExecution", command))
    events = run(
        reducer, item_completed("thread-subagent", "turn-subagent", "commandExecution", command)
    )
    assert [e["event_type"] for e in events] == ["codex_command_execution_event"]
    params = events[0]["event_params"]
    assert params["thread_source"] == "subagent"
    assert params["subagent_source"] == "review"
    assert params["parent_thread_id"] == "thread-1"
    assert params["session_id"] == "session-root"
    assert params["app_server_client"]["client_name"] == "codex-tui"
    assert params["app_server_client"]["rpc_transport"] == "stdio"


def test_unrelated_client_responses_are_ignored() -> None:
    # §7.1 nos. 28-29: a turn/start-shaped response with no pending turn/start emits nothing.
    from tests.reducer.builders import turn_start_response

    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    assert run(reducer, turn_start_response(7, 3, "turn-x")) == []
    assert "turn-x" not in reducer.state.turns


def test_connection_close_releases_its_threads_and_turns() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-1")))
    run(reducer, subagent_started("child", parent="thread-1"))
    run(reducer, turn_started("thread-1", "turn-1"))
    assert reducer.state.threads and reducer.state.turns
    run(reducer, ConnectionClosed(7))
    assert not reducer.state.connections
    assert not reducer.state.threads
    assert not reducer.state.turns
