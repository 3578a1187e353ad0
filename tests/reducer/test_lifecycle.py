"""Fact-level tests of the lifecycle families (reducer.md §6.3, §6.4, §6.6, §6.10, §7.1)."""

from __future__ import annotations

from typing import Any

import msgspec

from agentlytics.facts import (
    CompactionFact,
    GoalFact,
    HookRunFact,
    ThreadArchived,
    TrackingContext,
)
from agentlytics.families import FAMILIES
from agentlytics.reducer.core import Reducer
from tests.expected import compaction_event_23, tui_client_json
from tests.reducer.builders import (
    initialize,
    run,
    subagent_started,
    thread,
    thread_response,
)


def compaction(thread_id: str = "thread-1", **overrides: Any) -> CompactionFact:
    fields: dict[str, Any] = {
        "thread_id": thread_id,
        "turn_id": "turn-1",
        "trigger": "auto",
        "reason": "context_limit",
        "implementation": "responses_compact",
        "phase": "mid_turn",
        "strategy": "memento",
        "status": "completed",
        "active_context_tokens_before": 120000,
        "active_context_tokens_after": 18000,
        "started_at": 100,
        "completed_at": 106,
        "duration_ms": 6543,
    }
    fields.update(overrides)
    return CompactionFact(**fields)


def test_compaction_event_serializes_expected_shape() -> None:
    # §7.1 no. 23 (V-main key set: codex_error_kind/http status instead of `error`).
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(product="codex_cli_rs", experimental=True))
    run(reducer, thread_response(7, 1, thread("thread-1")))
    (event,) = run(reducer, compaction())
    expected = compaction_event_23(tui_client_json("codex_cli_rs", True))
    assert msgspec.json.encode(event) == msgspec.json.encode(expected)  # key order included


def test_compaction_implementation_serializes_remote_v2() -> None:
    # §7.1 no. 24.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-1")))
    (event,) = run(reducer, compaction(implementation="responses_compaction_v2"))
    assert event["event_params"]["implementation"] == "responses_compaction_v2"


def test_compaction_event_ingests_custom_fact_on_a_spawned_thread() -> None:
    # §7.1 no. 25: resume of a subagent thread; parent from the ThreadSpawn source.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(product="codex_cli_rs", transport="websocket"))
    parent = "22222222-2222-2222-2222-222222222222"
    source = {"subAgent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1}}}
    th = thread("thread-1", source=source, thread_source="subagent")
    run(reducer, thread_response(7, 1, th, "thread/resume"))
    (event,) = run(
        reducer,
        compaction(
            turn_id="turn-compact",
            trigger="manual",
            reason="user_requested",
            implementation="responses",
            phase="standalone_turn",
            status="failed",
            codex_error_kind="context_window_exceeded",
            active_context_tokens_before=131000,
            active_context_tokens_after=131000,
            started_at=100,
            completed_at=101,
            duration_ms=1200,
        ),
    )
    p = event["event_params"]
    assert (p["session_id"], p["thread_id"], p["turn_id"]) == (
        "session-thread-1",
        "thread-1",
        "turn-compact",
    )
    assert p["app_server_client"]["product_client_id"] == "codex_cli_rs"
    assert p["app_server_client"]["rpc_transport"] == "websocket"
    assert p["runtime"]["codex_rs_version"] == "0.1.0"
    assert (p["thread_source"], p["subagent_source"], p["parent_thread_id"]) == (
        "subagent",
        "thread_spawn",
        parent,
    )
    assert (p["trigger"], p["reason"], p["phase"], p["status"]) == (
        "manual",
        "user_requested",
        "standalone_turn",
        "failed",
    )
    assert p["codex_error_kind"] == "context_window_exceeded"


def test_subagent_compaction_inherits_parent_connection() -> None:
    # §7.1 no. 36.
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(name="parent-client", product="parent-client"))
    parent = "44444444-4444-4444-4444-444444444444"
    run(reducer, thread_response(7, 1, thread(parent)))
    run(reducer, subagent_started("thread-review", spawn_parent=parent, created_at=130))
    (event,) = run(reducer, compaction("thread-review"))
    p = event["event_params"]
    assert p["session_id"] == "session-root"
    assert p["thread_id"] == "thread-review"
    assert p["app_server_client"]["product_client_id"] == "parent-client"
    assert p["parent_thread_id"] == parent


def test_compaction_and_goal_without_thread_context_are_counted_drops() -> None:
    reducer = Reducer(FAMILIES)
    goal = GoalFact("thread-x", None, "g-1", "created", "active", False)
    assert run(reducer, compaction("thread-x"), goal) == []
    assert reducer.state.drops["compaction: missing thread_connection"] == 1
    assert reducer.state.drops["goal: missing thread_connection"] == 1


def test_goal_event_shape_and_counters_only_on_usage() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-1")))
    events = run(
        reducer,
        GoalFact("thread-1", None, "goal-1", "created", "active", True, 5, 6),
        GoalFact("thread-1", "turn-1", "goal-1", "usage_accounted", "active", True, 1242, 7),
        GoalFact("thread-1", None, "goal-1", "cleared", "budget_limited", True),
    )
    created, usage, cleared = (e["event_params"] for e in events)
    assert list(created) == [
        "thread_id",
        "session_id",
        "turn_id",
        "app_server_client",
        "runtime",
        "thread_source",
        "subagent_source",
        "parent_thread_id",
        "goal_id",
        "event_kind",
        "goal_status",
        "has_token_budget",
        "cumulative_tokens_accounted",
        "cumulative_time_accounted_seconds",
    ]
    assert (created["cumulative_tokens_accounted"], created["turn_id"]) == (None, None)
    assert (usage["cumulative_tokens_accounted"], usage["cumulative_time_accounted_seconds"]) == (
        1242,
        7,
    )
    assert usage["turn_id"] == "turn-1"
    assert (cleared["event_kind"], cleared["goal_status"], cleared["goal_id"]) == (
        "cleared",
        "budget_limited",
        "goal-1",
    )


def test_reducer_ingests_hook_run_fact_without_any_context() -> None:
    # §7.1 no. 19: stateless, needs no initialize, thread or turn.
    tracking = TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs")
    events = run(Reducer(FAMILIES), HookRunFact(tracking, "PostToolUse", "unknown", "failed"))
    assert events == [
        {
            "event_type": "codex_hook_run",
            "event_params": {
                "thread_id": "thread-3",
                "turn_id": "turn-3",
                "product_client_id": "codex_cli_rs",
                "model_slug": "gpt-5",
                "hook_name": "PostToolUse",
                "hook_source": "unknown",
                "status": "failed",
            },
        }
    ]


def test_archive_events_need_no_thread_context() -> None:
    reducer = Reducer(FAMILIES)
    events = run(
        reducer,
        ThreadArchived(0, "thread-gone", "archived", 1_795_000_000_001),
        ThreadArchived(0, "thread-gone", "unarchived", 1_795_000_000_002),
        ThreadArchived(0, "thread-gone", "deleted", 3),
    )
    assert [e["event_params"] for e in events] == [
        {"thread_id": "thread-gone", "action": "archived", "occurred_at_ms": 1_795_000_000_001},
        {"thread_id": "thread-gone", "action": "unarchived", "occurred_at_ms": 1_795_000_000_002},
    ]
    assert reducer.state.drops["thread archive: unknown action 'deleted'"] == 1


def test_subagent_sources_memory_consolidation_and_other() -> None:
    # §7.1 nos. 32–34.
    (memory,) = run(
        Reducer(FAMILIES), subagent_started("thread-mem", source="memory_consolidation")
    )
    assert memory["event_params"]["subagent_source"] == "memory_consolidation"
    assert memory["event_params"]["parent_thread_id"] is None
    (other,) = run(Reducer(FAMILIES), subagent_started("thread-guardian", source="guardian"))
    assert other["event_params"]["subagent_source"] == "guardian"
    assert other["event_params"]["parent_thread_id"] is None
    (explicit,) = run(
        Reducer(FAMILIES),
        subagent_started("thread-guardian", source="guardian", parent="parent-thread-guardian"),
    )
    assert explicit["event_params"]["parent_thread_id"] == "parent-thread-guardian"
