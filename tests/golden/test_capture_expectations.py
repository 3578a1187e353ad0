"""Hand-derived expectations: values read off each capture, checked field by field.

Each number below was worked out by reading the capture itself (item ``startedAtMs`` /
``completedAtMs``, ``durationMs``, the thread token totals of ``thread/tokenUsage/updated``),
independently of the code, so these tests pin the golden files to the wire.
"""

from __future__ import annotations

from typing import Any

from tests.helpers import capture_path, replay_events


def events_of(name: str, event_type: str) -> list[dict[str, Any]]:
    return [
        e["event_params"]
        for e in replay_events(capture_path(name))
        if e["event_type"] == event_type
    ]


def one(name: str, event_type: str) -> dict[str, Any]:
    (params,) = events_of(name, event_type)
    return params


def test_shell_decline() -> None:
    cmd = one("shell_decline", "codex_command_execution_event")
    assert (cmd["tool_name"], cmd["command_execution_source"]) == ("shell", "agent")
    assert (cmd["terminal_status"], cmd["failure_kind"]) == ("rejected", "approval_denied")
    assert (cmd["started_at_ms"], cmd["completed_at_ms"], cmd["duration_ms"]) == (
        1795415224091,
        1795415224094,
        3,
    )
    assert (cmd["execution_duration_ms"], cmd["exit_code"]) == (None, None)
    assert (cmd["command_total_action_count"], cmd["command_unknown_action_count"]) == (1, 1)
    turn = one("shell_decline", "codex_turn_event")
    assert (turn["status"], turn["shell_command_count"], turn["total_tokens"]) == (
        "completed",
        1,
        2484,
    )


def test_shell_accept_uses_completed_item_source() -> None:
    cmd = one("shell_accept", "codex_command_execution_event")
    # item/started said "agent", item/completed says "unifiedExecStartup": the command ran
    # through unified exec, so the completed item's source names the tool.
    assert (cmd["tool_name"], cmd["command_execution_source"]) == (
        "unified_exec",
        "unifiedExecStartup",
    )
    assert (cmd["started_at_ms"], cmd["completed_at_ms"], cmd["duration_ms"]) == (
        1795415223117,
        1795415223152,
        35,
    )
    assert (cmd["execution_duration_ms"], cmd["exit_code"]) == (0, 0)
    turn = one("shell_accept", "codex_turn_event")
    assert (turn["duration_ms"], turn["started_at"], turn["completed_at"]) == (
        162,
        1795415223,
        1795415223,
    )
    assert (turn["input_tokens"], turn["output_tokens"], turn["total_tokens"]) == (2400, 84, 2484)


def test_apply_patch_accept_file_change() -> None:
    change = one("apply_patch_accept", "codex_file_change_event")
    assert (change["started_at_ms"], change["completed_at_ms"], change["duration_ms"]) == (
        1795415226084,
        1795415226154,
        70,
    )
    assert (change["file_change_count"], change["file_add_count"], change["file_update_count"]) == (
        2,
        1,
        1,
    )
    assert (
        change["file_delete_count"],
        change["file_move_count"],
        change["execution_duration_ms"],
    ) == (0, 0, None)
    turn = one("apply_patch_accept", "codex_turn_event")
    assert (turn["file_change_count"], turn["total_tool_call_count"], turn["total_tokens"]) == (
        1,
        1,
        2484,
    )


def test_dynamic_tool() -> None:
    dyn = one("dynamic_tool", "codex_dynamic_tool_call_event")
    assert (dyn["tool_name"], dyn["dynamic_tool_name"], dyn["success"]) == (
        "ticket_lookup",
        "ticket_lookup",
        True,
    )
    assert (dyn["duration_ms"], dyn["execution_duration_ms"]) == (1, 1)
    assert (
        dyn["output_content_item_count"],
        dyn["output_text_item_count"],
        dyn["output_image_item_count"],
    ) == (1, 1, 0)


def test_mcp_tool_calls() -> None:
    calls = events_of("mcp_tool_call", "codex_mcp_tool_call_event")
    assert [(c["mcp_tool_name"], c["duration_ms"], c["execution_duration_ms"]) for c in calls] == [
        ("lookup", 2, 0),
        ("save_note", 4, 0),
    ]
    assert {c["mcp_server_name"] for c in calls} == {"demo"}
    turn = one("mcp_tool_call", "codex_turn_event")
    assert (turn["mcp_tool_call_count"], turn["total_tokens"]) == (2, 4968)


def test_web_search() -> None:
    ws = one("web_search", "codex_web_search_event")
    assert (ws["web_search_action"], ws["query_present"], ws["query_count"], ws["duration_ms"]) == (
        "search",
        True,
        1,
        0,
    )


def test_user_shell_command() -> None:
    cmd = one("user_shell_command", "codex_command_execution_event")
    assert (
        cmd["tool_name"],
        cmd["duration_ms"],
        cmd["execution_duration_ms"],
        cmd["exit_code"],
    ) == ("user_shell", 14, 13, 0)
    turn = one("user_shell_command", "codex_turn_event")
    # thread/shellCommand starts a turn with no model call: no token update names it.
    assert (turn["duration_ms"], turn["total_tokens"], turn["shell_command_count"]) == (79, None, 1)


def test_model_error_turn() -> None:
    turn = one("model_error", "codex_turn_event")
    assert (turn["status"], turn["turn_error"], turn["codex_error_kind"]) == (
        "failed",
        "other",
        "other",
    )
    assert (turn["duration_ms"], turn["total_tokens"]) == (98, None)


def test_turn_steer() -> None:
    steer = one("turn_steer", "codex_turn_steer_event")
    assert (steer["result"], steer["expected_turn_id"], steer["accepted_turn_id"]) == (
        "accepted",
        "01a20716-7499-7e51-8402-2afdfb597006",
        "01a20716-7499-7e51-8402-2afdfb597006",
    )
    assert steer["num_input_images"] == 0
    turn = one("turn_steer", "codex_turn_event")
    assert (turn["steer_count"], turn["total_tokens"]) == (1, 2484)
    cmd = one("turn_steer", "codex_command_execution_event")
    assert (cmd["duration_ms"], cmd["execution_duration_ms"]) == (1377, 1376)


def test_interrupt_pending_approval() -> None:
    turn = one("interrupt_pending_approval", "codex_turn_event")
    assert turn["status"] == "interrupted"
    # The turn/interrupt request was observed at ts_ms 1795415228481.
    assert turn["explicit_client_interrupt_requested_at_ms"] == 1795415228481
    assert events_of("interrupt_pending_approval", "codex_command_execution_event") == []


def test_two_threads_do_not_mix() -> None:
    turns = events_of("two_threads", "codex_turn_event")
    assert len(turns) == 2 and len({t["thread_id"] for t in turns}) == 2
    by_thread = {t["thread_id"]: t for t in turns}
    (cmd,) = events_of("two_threads", "codex_command_execution_event")
    assert by_thread[cmd["thread_id"]]["shell_command_count"] == 1
    other = next(t for tid, t in by_thread.items() if tid != cmd["thread_id"])
    assert other["total_tool_call_count"] == 0


def test_thread_fork() -> None:
    inits = events_of("thread_fork", "codex_thread_initialized")
    assert [i["initialization_mode"] for i in inits] == ["new", "forked"]
    assert inits[1]["forked_from_thread_id"] == inits[0]["thread_id"]
    turns = events_of("thread_fork", "codex_turn_event")
    # The fork receives a copy of the parent's total (1242) before its own turn: its turn used
    # 2484 - 1242 = 1242 tokens. It carries the parent's history, so it is not a first turn.
    assert [(t["total_tokens"], t["is_first_turn"]) for t in turns] == [(1242, True), (1242, False)]


def test_subagent_child_thread() -> None:
    inits = events_of("subagent", "codex_thread_initialized")
    parent, child = inits
    assert (child["thread_source"], child["subagent_source"], child["parent_thread_id"]) == (
        "subagent",
        "thread_spawn",
        parent["thread_id"],
    )
    assert child["session_id"] == parent["session_id"]
    assert child["app_server_client"]["rpc_transport"] == "in_process"
    turns = {t["thread_id"]: t for t in events_of("subagent", "codex_turn_event")}
    assert turns[child["thread_id"]]["parent_thread_id"] == parent["thread_id"]
    assert (
        turns[child["thread_id"]]["app_server_client"]["rpc_transport"] == "stdio"
    )  # parent's connection
    # The parent turn: one spawn (subAgentActivity started) + one wait_agent collab call.
    assert turns[parent["thread_id"]]["subagent_tool_call_count"] == 2


def test_apply_patch_accept_fingerprints() -> None:
    from agentlytics.fingerprints.diff import fingerprint_hash

    # The turn's last diff: hello.py (-print("hello") +print("hello, world")) and a new notes.md
    # (+# Notes, +Written by the agent.): 3 added, 1 deleted, all 3 added lines effective.
    fp = one("apply_patch_accept", "codex_accepted_line_fingerprints")
    assert (fp["accepted_added_lines"], fp["accepted_deleted_lines"]) == (3, 1)
    assert fp["line_fingerprints"] == [
        {
            "path_hash": fingerprint_hash("path", "hello.py"),
            "line_hash": fingerprint_hash("line", 'print("hello, world")'),
        },
        {
            "path_hash": fingerprint_hash("path", "notes.md"),
            "line_hash": fingerprint_hash("line", "# Notes"),
        },
        {
            "path_hash": fingerprint_hash("path", "notes.md"),
            "line_hash": fingerprint_hash("line", "Written by the agent."),
        },
    ]
    # completed_at is the observation time of turn/completed (ts_ms 1795415226190 → seconds);
    # the capture's cwd is not a repository here, so there is no repo hash.
    assert (fp["completed_at"], fp["repo_hash"], fp["model_slug"]) == (1795415226, None, "gpt-5.5")
    events = [e["event_type"] for e in replay_events(capture_path("apply_patch_accept"))]
    assert events.index("codex_accepted_line_fingerprints") == events.index("codex_turn_event") + 1
