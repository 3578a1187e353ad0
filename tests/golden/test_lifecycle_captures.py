"""Hand-derived expectations for the lifecycle captures (goals, hooks, compaction, steering,
subagents, forks): every value below was read off the capture file, not the code."""

from __future__ import annotations

from typing import Any

from tests.helpers import capture_path, replay_events

CLIENT = {
    "product_client_id": "agentlytics-capture",
    "client_name": "agentlytics-capture",
    "client_version": "0.1.0",
    "rpc_transport": "stdio",
    "experimental_api_enabled": None,
}
RUNTIME = {
    "codex_rs_version": "0.169.0",
    "runtime_os": "linux",
    "runtime_os_version": "12.0.0",
    "runtime_arch": "x86_64",
}


def events(name: str) -> list[dict[str, Any]]:
    return replay_events(capture_path(name))


def of(name: str, event_type: str) -> list[dict[str, Any]]:
    return [e["event_params"] for e in events(name) if e["event_type"] == event_type]


def test_goals_capture() -> None:
    thread = "01a20716-6433-7741-a2f1-4be72681c55a"
    turn = "01a20716-650b-7323-87fe-16a62ef96e05"  # started by the goal itself (no turn/start)
    order = [e["event_type"] for e in events("goals")]
    assert order == [
        "codex_thread_initialized",
        "codex_goal_event",  # set → created (seq 9/10, before the turn)
        "codex_goal_event",  # tokensUsed 0 → 1242 in the turn (seq 13)
        "codex_goal_event",  # status active → complete in the turn (seq 14)
        "codex_turn_event",
        "codex_goal_event",  # thread/goal/cleared (seq 36)
    ]
    goals = of("goals", "codex_goal_event")
    assert [(g["event_kind"], g["turn_id"], g["goal_status"]) for g in goals] == [
        ("created", None, "active"),
        ("usage_accounted", turn, "active"),
        ("status_changed", turn, "complete"),
        ("cleared", None, "complete"),
    ]
    assert len({g["goal_id"] for g in goals}) == 1  # the cleared goal keeps its id
    assert all(g["has_token_budget"] for g in goals)  # tokenBudget 200000
    assert [
        (g["cumulative_tokens_accounted"], g["cumulative_time_accounted_seconds"]) for g in goals
    ] == [
        (None, None),
        (1242, 0),
        (None, None),
        (None, None),
    ]
    for g in goals:
        assert (g["thread_id"], g["session_id"]) == (thread, thread)
        assert (g["app_server_client"], g["runtime"]) == (CLIENT, RUNTIME)
        assert (g["thread_source"], g["subagent_source"], g["parent_thread_id"]) == (
            None,
            None,
            None,
        )
    (turn_event,) = of("goals", "codex_turn_event")
    assert (turn_event["turn_id"], turn_event["status"], turn_event["duration_ms"]) == (
        turn,
        "completed",
        83,
    )


def test_hooks_capture() -> None:
    hooks = of("hooks", "codex_hook_run")
    thread = "01a20716-8d9a-7060-b043-cdc410859b26"
    turn = "01a20716-8dae-7750-a6ed-68acd69cdfaa"
    assert [(h["hook_name"], h["status"]) for h in hooks] == [
        ("SessionStart", "completed"),
        ("UserPromptSubmit", "completed"),
        ("PreToolUse", "completed"),  # ls allowed
        ("PostToolUse", "completed"),
        ("PreToolUse", "blocked"),  # rm -rf blocked by the hook: no command item follows
        ("Stop", "completed"),
    ]
    for h in hooks:
        assert (h["thread_id"], h["turn_id"]) == (thread, turn)
        assert (h["hook_source"], h["product_client_id"], h["model_slug"]) == (
            "user",  # loaded from CODEX_HOME/config.toml, wire source "user"
            "agentlytics-capture",
            "gpt-5.5",
        )
    (cmd,) = of("hooks", "codex_command_execution_event")
    assert cmd["item_id"] == "call-hook-ls"
    (turn_event,) = of("hooks", "codex_turn_event")
    assert (turn_event["shell_command_count"], turn_event["duration_ms"]) == (1, 402)
    order = [e["event_type"] for e in events("hooks")]
    assert order.index("codex_command_execution_event") == 4  # after SessionStart…PreToolUse


def test_compaction_capture() -> None:
    (event,) = of("compaction", "codex_compaction_event")
    thread = "01a20716-70b1-7d72-a1c1-837b995b89c6"
    assert event == {
        "thread_id": thread,
        "session_id": thread,
        "turn_id": "01a20716-7136-7171-b6ba-60900f1090cf",  # the turn after thread/compact/start
        "app_server_client": CLIENT,
        "runtime": RUNTIME,
        "thread_source": None,
        "subagent_source": None,
        "parent_thread_id": None,
        "trigger": "manual",
        "reason": "user_requested",
        "implementation": "responses",  # provider "mock": upstream's local compaction task
        "phase": "standalone_turn",
        "strategy": "memento",  # the only strategy upstream's compaction tasks report
        "status": "completed",
        "codex_error_kind": None,
        "codex_error_http_status_code": None,
        "active_context_tokens_before": 1242,  # seq 24 (before item/started): last.totalTokens
        "active_context_tokens_after": 7788,  # seq 37 (before item/completed): recomputed
        "retained_image_count": None,
        "compaction_summary_tokens": None,
        "cached_input_tokens": None,
        "cache_write_input_tokens": None,
        "started_at": 1795415241,  # item startedAtMs 1795415241021
        "completed_at": 1795415241,  # item completedAtMs 1795415241044
        "duration_ms": 23,
    }
    order = [e["event_type"] for e in events("compaction")]
    assert order == [
        "codex_thread_initialized",
        "codex_turn_event",
        "codex_compaction_event",
        "codex_turn_event",
    ]
    compact_turn = of("compaction", "codex_turn_event")[1]
    assert (
        compact_turn["status"],
        compact_turn["duration_ms"],
        compact_turn["total_tool_call_count"],
    ) == (
        "completed",
        33,
        0,
    )


def test_turn_steer_capture() -> None:
    (steer,) = of("turn_steer", "codex_turn_steer_event")
    turn = "01a20716-7499-7e51-8402-2afdfb597006"
    assert steer == {
        "thread_id": "01a20716-747d-7ae0-8b96-1f3d6f4c1ef0",
        "session_id": "01a20716-747d-7ae0-8b96-1f3d6f4c1ef0",
        "expected_turn_id": turn,
        "accepted_turn_id": turn,
        "app_server_client": CLIENT,
        "runtime": RUNTIME,
        "thread_source": None,
        "subagent_source": None,
        "parent_thread_id": None,
        "num_input_images": 0,
        "result": "accepted",
        "rejection_reason": None,
        "created_at": 1795415242,  # the steer request's ts_ms 1795415242156
    }
    (turn_event,) = of("turn_steer", "codex_turn_event")
    assert turn_event["steer_count"] == 1


def test_subagent_capture_attribution_and_isolation() -> None:
    parent = "01a20716-a302-7e31-bbf7-f17933fef9f1"
    child = "01a20716-a378-7e41-b9da-595c62e0fd81"
    inits = {i["thread_id"]: i for i in of("subagent", "codex_thread_initialized")}
    c = inits[child]
    assert (c["thread_source"], c["subagent_source"], c["parent_thread_id"]) == (
        "subagent",
        "thread_spawn",
        parent,
    )
    assert c["session_id"] == parent  # the parent's session
    assert c["model"] == "gpt-5.5"  # from the subAgentActivity item
    assert c["app_server_client"] == {**CLIENT, "rpc_transport": "in_process"}
    assert c["created_at"] == 1795415253  # observation of the spawn item (ts 1795415253891)
    turns = {t["thread_id"]: t for t in of("subagent", "codex_turn_event")}
    child_turn = turns[child]
    assert child_turn["turn_id"] == "01a20716-a382-70d2-b19b-21c553c9ab39"
    assert (
        child_turn["thread_source"],
        child_turn["subagent_source"],
        child_turn["parent_thread_id"],
    ) == (
        "subagent",
        "thread_spawn",
        parent,
    )
    assert child_turn["app_server_client"] == CLIENT  # the parent's connection
    # The child's own tokens (1242 total in its thread), not the parent's 3726.
    assert (child_turn["input_tokens"], child_turn["total_tokens"]) == (1200, 1242)
    assert child_turn["total_tool_call_count"] == 0
    parent_turn = turns[parent]
    assert (parent_turn["input_tokens"], parent_turn["total_tokens"]) == (3600, 3726)
    # spawn activity + wait; the "completed" subagent activity is not a tool call.
    assert (parent_turn["subagent_tool_call_count"], parent_turn["total_tool_call_count"]) == (2, 2)
    (wait,) = of("subagent", "codex_collab_agent_tool_call_event")
    assert (wait["thread_id"], wait["item_id"], wait["thread_source"]) == (
        parent,
        "call-wait-1",
        None,
    )


def test_thread_fork_capture() -> None:
    inits = of("thread_fork", "codex_thread_initialized")
    source, fork = inits
    assert (source["initialization_mode"], fork["initialization_mode"]) == ("new", "forked")
    assert fork["forked_from_thread_id"] == source["thread_id"]
    assert (fork["thread_source"], fork["subagent_source"], fork["parent_thread_id"]) == (
        None,
        None,
        None,
    )
    turns = of("thread_fork", "codex_turn_event")
    assert [t["thread_id"] for t in turns] == [source["thread_id"], fork["thread_id"]]
    assert turns[1]["initialization_mode"] == "forked"
    assert [e["event_type"] for e in events("thread_fork")].count("codex_goal_event") == 0
