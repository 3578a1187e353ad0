"""Upstream's checklist (reducer.md §7.1), by name, for the tests not already named so.

Each keeps upstream's name, fixture values and assertions; where our output deliberately
differs (V-main shapes), the test says how. ``docs/upstream-checklist.md`` maps all 63.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec

from agentlytics.events.envelope import encode, track
from agentlytics.events.fingerprints import AcceptedLineFingerprints
from agentlytics.facts import (
    AppInvocation,
    AppMentioned,
    AppUsed,
    ClientRequest,
    ClientResponse,
    CompactionFact,
    HookRunFact,
    PluginMetadata,
    PluginStateChanged,
    PluginUsed,
    SkillInvoked,
    TrackingContext,
    TurnDiffUpdated,
)
from agentlytics.families import FAMILIES
from agentlytics.fingerprints.diff import fingerprint_hash
from agentlytics.observe.skills import (
    HostSkill,
    SkillInvocation,
    SkillRepoCache,
    normalize_skill_path,
    resolve_skill,
)
from agentlytics.pipeline import Pipeline
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer
from tests.reducer.builders import (
    initialize,
    item_completed,
    item_started,
    review_prerequisites,
    run,
    steer_error,
    steer_request,
    subagent_started,
    thread,
    thread_response,
    turn_completed,
    turn_prerequisites,
    turn_started,
)

TRACKING = TrackingContext("gpt-5", "thread-1", "turn-1", "codex_cli_rs")


# --- skill ids (nos. 1-6) ------------------------------------------------------------------------


def test_normalize_path_for_skill_id_repo_scoped_uses_relative_path() -> None:
    path = normalize_skill_path(
        "/repo/root/.codex/skills/doc/SKILL.md", "https://example.com/repo.git", "/repo/root"
    )
    assert path == ".codex/skills/doc/SKILL.md"


def test_normalize_path_for_skill_id_user_scoped_uses_absolute_path() -> None:
    skill = "/Users/abc/.codex/skills/doc/SKILL.md"
    assert normalize_skill_path(skill, None, None) == skill  # absent path: canonical = itself


def test_normalize_path_for_skill_id_admin_scoped_uses_absolute_path() -> None:
    skill = "/etc/codex/skills/doc/SKILL.md"
    assert normalize_skill_path(skill, None, None) == str(Path(skill).resolve())


def test_normalize_path_for_skill_id_repo_root_not_in_skill_path_uses_absolute_path() -> None:
    skill = "/other/path/.codex/skills/doc/SKILL.md"
    assert normalize_skill_path(skill, "https://example.com/repo.git", "/repo/root") == skill


def _skill_events(invocation: SkillInvocation) -> list[dict[str, Any]]:
    resolved = resolve_skill(invocation, SkillRepoCache())
    return run(Reducer(FAMILIES), SkillInvoked(TRACKING, (resolved,)))


def test_reducer_ingests_skill_invoked_fact() -> None:
    skill = "/Users/abc/.codex/skills/doc/SKILL.md"
    events = _skill_events(SkillInvocation("doc", HostSkill(skill, "user")))
    expected_id = hashlib.sha1(f"personal_{skill}_doc".encode()).hexdigest()
    assert msgspec.json.encode(events) == msgspec.json.encode(
        [
            {
                "event_type": "skill_invocation",
                "skill_id": expected_id,
                "skill_name": "doc",
                "event_params": {
                    "product_client_id": "codex_cli_rs",
                    "skill_scope": "user",
                    "plugin_id": None,
                    "remote_plugin_id": None,  # V-main field
                    "repo_url": None,
                    "thread_id": "thread-1",
                    "turn_id": "turn-1",
                    "invoke_type": "explicit",
                    "model_slug": "gpt-5",
                },
            }
        ]
    )


def test_reducer_includes_plugin_id_for_plugin_skill_invocations() -> None:
    cached = "/Users/abc/.codex/plugins/cache/test/sample/skills/doc/SKILL.md"
    invocation = SkillInvocation("sample:doc", HostSkill(cached, "user"), plugin_id="sample@test")
    (event,) = _skill_events(invocation)
    assert (event["skill_name"], event["event_params"]["plugin_id"]) == (
        "sample:doc",
        "sample@test",
    )


# --- client-response filtering (nos. 28-29) ------------------------------------------------------


def test_unrelated_client_requests_are_ignored_by_reducer() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    archive = ClientRequest(7, 3, "thread/archive", None, 0)
    shaped_like_turn_start = ClientResponse(
        7,
        3,
        "thread/archive",
        t.TurnStartResponse(turn=t.Turn(id="turn-2", status="inProgress")),
        0,
    )
    assert run(reducer, archive, shaped_like_turn_start) == []
    assert reducer.state.drops == {}


def test_unrelated_client_responses_are_ignored_by_reducer() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize())
    assert run(reducer, ClientResponse(7, 4, "thread/archive", None, 0)) == []
    assert reducer.state.drops == {}


# --- tool items (no. 39) -------------------------------------------------------------------------


def test_item_lifecycle_notifications_publish_command_execution_event() -> None:
    reducer = Reducer(FAMILIES)
    review_prerequisites(reducer)
    run(reducer, turn_started("thread-1", "turn-1"))
    started = t.CommandExecutionItem(id="item-1", status="inProgress", source="agent")
    assert run(reducer, item_started("thread-1", "turn-1", "commandExecution", started)) == []
    actions = [t.CommandAction(type=x) for x in ("read", "listFiles", "search", "unknown")]
    done = t.CommandExecutionItem(
        id="item-1",
        status="completed",
        source="agent",
        exit_code=0,
        duration_ms=42,
        command_actions=actions,
    )
    events = run(reducer, item_completed("thread-1", "turn-1", "commandExecution", done, at=1045))
    assert [e["event_type"] for e in events] == ["codex_command_execution_event"]
    p = events[0]["event_params"]
    assert (p["thread_id"], p["turn_id"], p["item_id"], p["tool_name"]) == (
        "thread-1",
        "turn-1",
        "item-1",
        "shell",
    )
    assert (p["command_execution_source"], p["terminal_status"], p["final_approval_outcome"]) == (
        "agent",
        "completed",
        "unknown",
    )
    assert (p["failure_kind"], p["exit_code"]) == (None, 0)
    counts = [
        p[k]
        for k in (
            "command_total_action_count",
            "command_read_action_count",
            "command_list_files_action_count",
            "command_search_action_count",
            "command_unknown_action_count",
        )
    ]
    assert counts == [4, 1, 1, 1, 1]
    assert (p["started_at_ms"], p["completed_at_ms"], p["duration_ms"]) == (1000, 1045, 45)
    assert p["execution_duration_ms"] == 42
    assert (p["app_server_client"]["client_name"], p["thread_source"]) == ("codex-tui", "user")


# --- rejected steers (nos. 60-61): ingest_rejected_turn_steer ------------------------------------


def _rejected_steer(error_type: str) -> dict[str, Any]:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False, started=False, tokens=False)
    run(reducer, initialize(conn=8, name="codex-web"))
    run(reducer, thread_response(8, 6, thread("thread-2"), "thread/resume"))
    run(reducer, steer_request(7, 4, "thread-2", "turn-2"))
    events = run(reducer, steer_error(7, 4, error_type))
    assert len(events) == 1
    params: dict[str, Any] = events[0]["event_params"]
    assert (params["result"], params["accepted_turn_id"]) == ("rejected", None)
    return params


def test_rejected_turn_steer_maps_active_turn_not_steerable_error_type() -> None:
    assert _rejected_steer("non_steerable_review")["rejection_reason"] == "non_steerable_review"


def test_rejected_turn_steer_maps_input_too_large_error_type() -> None:
    assert _rejected_steer("input_too_large")["rejection_reason"] == "input_too_large"


# --- app / plugin / hook events (nos. 7-8, 10-13, 15-19) -----------------------------------------

PLUGIN = PluginMetadata(
    plugin_name="sample",
    marketplace_name="test",
    has_skills=True,
    mcp_server_names=("mcp-1", "mcp-2"),
    connector_ids=("calendar", "drive"),
)
PLUGIN_PARAMS = {
    "plugin_id": "sample@test",
    "remote_plugin_id": None,  # V-main field
    "plugin_name": "sample",
    "marketplace_name": "test",
    "has_skills": True,
    "mcp_server_count": 2,
    "connector_ids": ["calendar", "drive"],
    "product_client_id": "codex_cli_rs",
}


def _same(events: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Equal as JSON text, so key order counts too."""
    assert msgspec.json.encode(events) == msgspec.json.encode(expected)


def test_app_mentioned_event_serializes_expected_shape() -> None:
    mention = AppInvocation("calendar", "Calendar", "explicit")
    _same(
        run(Reducer(FAMILIES), AppMentioned(TRACKING, (mention,))),
        [
            {
                "event_type": "codex_app_mentioned",
                "event_params": {
                    "connector_id": "calendar",
                    "thread_id": "thread-1",
                    "turn_id": "turn-1",
                    "app_name": "Calendar",
                    "product_client_id": "codex_cli_rs",
                    "invoke_type": "explicit",
                    "model_slug": "gpt-5",
                },
            }
        ],
    )


def test_app_used_event_serializes_expected_shape() -> None:
    tracking = TrackingContext("gpt-5", "thread-2", "turn-2", "codex_cli_rs")
    _same(
        run(
            Reducer(FAMILIES), AppUsed(tracking, AppInvocation("drive", "Google Drive", "implicit"))
        ),
        [
            {
                "event_type": "codex_app_used",
                "event_params": {
                    "connector_id": "drive",
                    "thread_id": "thread-2",
                    "turn_id": "turn-2",
                    "app_name": "Google Drive",
                    "product_client_id": "codex_cli_rs",
                    "invoke_type": "implicit",
                    "model_slug": "gpt-5",
                },
            }
        ],
    )


def test_reducer_ingests_app_and_plugin_facts() -> None:
    events = run(
        Reducer(FAMILIES),
        AppMentioned(TRACKING, (AppInvocation("calendar", "Calendar", "explicit"),)),
        AppUsed(TRACKING, AppInvocation("drive", "Drive", "implicit")),
        PluginUsed(TRACKING, PLUGIN),
    )
    assert [e["event_type"] for e in events] == [
        "codex_app_mentioned",
        "codex_app_used",
        "codex_plugin_used",
    ]


def test_plugin_used_event_serializes_expected_shape() -> None:
    tracking = TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs")
    _same(
        run(Reducer(FAMILIES), PluginUsed(tracking, PLUGIN)),
        [
            {
                "event_type": "codex_plugin_used",
                "event_params": {
                    **PLUGIN_PARAMS,
                    "mcp_server_names": ["mcp-1", "mcp-2"],  # V-main field
                    "thread_id": "thread-3",
                    "turn_id": "turn-3",
                    "model_slug": "gpt-5",
                },
            }
        ],
    )


def test_plugin_management_event_serializes_expected_shape() -> None:
    fact = PluginStateChanged(PLUGIN, "installed", "codex_cli_rs")
    _same(
        run(Reducer(FAMILIES), fact),
        [{"event_type": "codex_plugin_installed", "event_params": PLUGIN_PARAMS}],
    )


def test_plugin_management_event_can_use_remote_plugin_id_override() -> None:
    """V-main keeps ``plugin_id`` local and reports the override as ``remote_plugin_id``."""
    remote = PluginMetadata("sample", "test", remote_plugin_id="plugins~Plugin_remote")
    (event,) = run(Reducer(FAMILIES), PluginStateChanged(remote, "installed", "codex_cli_rs"))
    p = event["event_params"]
    assert (p["remote_plugin_id"], p["plugin_name"], p["marketplace_name"]) == (
        "plugins~Plugin_remote",
        "sample",
        "test",
    )
    assert p["plugin_id"] == "sample@test"


def test_reducer_ingests_plugin_state_changed_fact() -> None:
    fact = PluginStateChanged(PLUGIN, "disabled", "codex_cli_rs")
    _same(
        run(Reducer(FAMILIES), fact),
        [{"event_type": "codex_plugin_disabled", "event_params": PLUGIN_PARAMS}],
    )


def _hook(tracking: TrackingContext, name: str, source: Any, status: str) -> HookRunFact:
    return HookRunFact(tracking, name, source, status)  # type: ignore[arg-type]


def test_hook_run_event_serializes_expected_shape() -> None:
    tracking = TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs")
    _same(
        run(Reducer(FAMILIES), _hook(tracking, "PreToolUse", "user", "completed")),
        [
            {
                "event_type": "codex_hook_run",
                "event_params": {
                    "thread_id": "thread-3",
                    "turn_id": "turn-3",
                    "product_client_id": "codex_cli_rs",  # V-main field
                    "model_slug": "gpt-5",
                    "hook_name": "PreToolUse",
                    "hook_source": "user",
                    "status": "completed",
                },
            }
        ],
    )


def _hooks_from_the_wire(*runs: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    """``hook/completed`` notifications (camelCase wire values) through the whole pipeline."""
    pipeline = Pipeline()
    obs = pipeline.connection()
    events: list[dict[str, Any]] = []
    for event_name, source, status in runs:
        params = {
            "threadId": "thread-3",
            "turnId": "turn-3",
            "run": {"id": "h", "eventName": event_name, "source": source, "status": status},
        }
        line = msgspec.json.encode(
            {
                "seq": 0,
                "ts_ms": 1,
                "dir": "server_to_client",
                "msg": {"method": "hook/completed", "params": params},
            }
        )
        events += [msgspec.json.decode(e.body) for e in pipeline.ingest(obs.observe_line(line))]
    assert obs.drops.counts == {}
    return [
        (
            e["event_params"]["hook_name"],
            e["event_params"]["hook_source"],
            e["event_params"]["status"],
        )
        for e in events
    ]


def test_hook_run_metadata_maps_sources_and_statuses() -> None:
    assert _hooks_from_the_wire(
        ("sessionStart", "system", "completed"),
        ("stop", "project", "blocked"),
        ("stop", "cloudRequirements", "blocked"),
        ("userPromptSubmit", "unknown", "failed"),
    ) == [
        ("SessionStart", "system", "completed"),
        ("Stop", "project", "blocked"),
        ("Stop", "cloud_requirements", "blocked"),
        ("UserPromptSubmit", "unknown", "failed"),
    ]


def test_hook_run_metadata_maps_stopped_status() -> None:
    assert _hooks_from_the_wire(("stop", "user", "stopped")) == [("Stop", "user", "stopped")]


def test_reducer_ingests_hook_run_fact() -> None:
    tracking = TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs")
    events = run(Reducer(FAMILIES), _hook(tracking, "PostToolUse", "unknown", "failed"))
    assert len(events) == 1
    p = events[0]["event_params"]
    assert (events[0]["event_type"], p["hook_name"], p["hook_source"], p["status"]) == (
        "codex_hook_run",
        "PostToolUse",
        "unknown",
        "failed",
    )


# --- accepted lines (nos. 20-22) -----------------------------------------------------------------


def test_accepted_line_fingerprints_event_serializes_expected_shape() -> None:
    event = AcceptedLineFingerprints(
        "codex.accepted_line_fingerprints", "turn-1", "thread-1", "codex", "gpt-5.1-codex",
        1710000000, "repo-hash-1", 42, 40, [],
    )  # fmt: skip
    assert msgspec.json.decode(encode(track(event))) == {
        "event_type": "codex_accepted_line_fingerprints",
        "event_params": {
            "event_type": "codex.accepted_line_fingerprints",
            "turn_id": "turn-1",
            "thread_id": "thread-1",
            "product_surface": "codex",
            "model_slug": "gpt-5.1-codex",
            "completed_at": 1710000000,
            "repo_hash": "repo-hash-1",
            "accepted_added_lines": 42,
            "accepted_deleted_lines": 40,
            "line_fingerprints": [],
        },
    }


def _accepted(reducer: Reducer, diffs: list[str]) -> list[dict[str, Any]]:
    turn_prerequisites(reducer)
    for diff in diffs:
        assert run(reducer, TurnDiffUpdated("thread-2", "turn-2", diff)) == []
    events = run(reducer, turn_completed("thread-2", "turn-2"))
    return [e for e in events if e["event_type"] == "codex_accepted_line_fingerprints"]


def test_reducer_emits_large_accepted_line_aggregates_without_fingerprints() -> None:
    """Upstream's 20 000-line diff. V-main fingerprints every line (the counts-only era sent
    none), in chunks that each stay under upstream's size bound; the counts are upstream's."""
    head = (
        "diff --git a/src/lib.rs b/src/lib.rs\nindex 1111111..2222222\n"
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -0,0 +1,20000 @@\n"
    )
    diff = head + "".join(f"+let value_{i} = {i};\n" for i in range(20_000))
    chunks = _accepted(Reducer(FAMILIES), [diff])
    first = chunks[0]["event_params"]
    assert (first["turn_id"], first["thread_id"]) == ("turn-2", "thread-2")
    assert (first["accepted_added_lines"], first["accepted_deleted_lines"]) == (20_000, 0)
    assert sum(len(c["event_params"]["line_fingerprints"]) for c in chunks) == 20_000
    assert all(len(msgspec.json.encode(c)) < 2_100_000 for c in chunks)


def test_reducer_emits_accepted_line_fingerprints_once_from_latest_turn_diff_on_completion() -> (
    None
):
    first = "diff --git a/a.rs b/a.rs\n--- a/a.rs\n+++ b/a.rs\n@@ -0,0 +1 @@\n+let first = 1;\n"
    second = "diff --git a/a.rs b/a.rs\n--- a/a.rs\n+++ b/a.rs\n@@ -0,0 +1 @@\n+let second = 2;\n"
    (event,) = _accepted(Reducer(FAMILIES), [first, second])
    p = event["event_params"]
    assert (p["accepted_added_lines"], p["accepted_deleted_lines"]) == (1, 0)
    # V-main: the one line of the latest diff, fingerprinted.
    assert [f["line_hash"] for f in p["line_fingerprints"]] == [
        fingerprint_hash("line", "let second = 2;")
    ]


# --- compaction (no. 25) -------------------------------------------------------------------------


def test_compaction_event_ingests_custom_fact() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(product="codex_cli_rs", transport="websocket"))
    parent = "22222222-2222-2222-2222-222222222222"
    source = {"subAgent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1}}}
    run(
        reducer,
        thread_response(
            7, 1, thread("thread-1", source=source, thread_source="subagent"), "thread/resume"
        ),
    )
    fact = CompactionFact(
        thread_id="thread-1", turn_id="turn-compact", trigger="manual", phase="standalone_turn",
        status="failed", started_at=100, completed_at=101, duration_ms=1200,
        reason="user_requested", implementation="responses", strategy="memento",
        codex_error_kind="context_window_exceeded",  # V-main: the kind, not the error text
        active_context_tokens_before=131_000, active_context_tokens_after=131_000,
    )  # fmt: skip
    events = run(reducer, fact)
    assert len(events) == 1 and events[0]["event_type"] == "codex_compaction_event"
    p = events[0]["event_params"]
    client = p["app_server_client"]
    assert (p["session_id"], p["thread_id"], p["turn_id"]) == (
        "session-thread-1",
        "thread-1",
        "turn-compact",
    )
    assert (client["product_client_id"], client["client_name"], client["rpc_transport"]) == (
        "codex_cli_rs",
        "codex-tui",
        "websocket",
    )
    assert p["runtime"]["codex_rs_version"] == "0.1.0"
    assert (p["thread_source"], p["subagent_source"], p["parent_thread_id"]) == (
        "subagent",
        "thread_spawn",
        parent,
    )
    assert [p[k] for k in ("trigger", "reason", "implementation", "phase", "strategy", "status")] == [
        "manual", "user_requested", "responses", "standalone_turn", "memento", "failed",
    ]  # fmt: skip


# --- subagent threads (nos. 30-34, 36) -----------------------------------------------------------


def _subagent(**kw: Any) -> dict[str, Any]:
    events = run(Reducer(FAMILIES), subagent_started(**kw))
    assert [e["event_type"] for e in events] == ["codex_thread_initialized"]
    params: dict[str, Any] = events[0]["event_params"]
    return params


def test_subagent_thread_started_review_serializes_expected_shape() -> None:
    p = _subagent(thread_id="thread-review", source="review", created_at=123)
    assert p["app_server_client"] == {
        "product_client_id": "codex-tui",
        "client_name": "codex-tui",
        "client_version": "1.0.0",
        "rpc_transport": "in_process",
        "experimental_api_enabled": None,
    }
    assert (p["thread_source"], p["created_at"], p["initialization_mode"]) == (
        "subagent",
        123,
        "new",
    )
    assert (p["subagent_source"], p["parent_thread_id"]) == ("review", None)


def test_subagent_thread_started_thread_spawn_serializes_parent_thread_id() -> None:
    parent = "11111111-1111-1111-1111-111111111111"
    p = _subagent(thread_id="thread-spawn", spawn_parent=parent, source="thread_spawn")
    assert (p["thread_id"], p["thread_source"], p["subagent_source"]) == (
        "thread-spawn",
        "subagent",
        "thread_spawn",
    )
    assert (p["parent_thread_id"], p["session_id"]) == (parent, "session-root")


def test_subagent_thread_started_memory_consolidation_serializes_expected_shape() -> None:
    p = _subagent(thread_id="thread-memory", source="memory_consolidation")
    assert (p["subagent_source"], p["parent_thread_id"]) == ("memory_consolidation", None)


def test_subagent_thread_started_other_serializes_expected_shape() -> None:
    p = _subagent(thread_id="thread-guardian", source="guardian")
    assert (p["subagent_source"], p["parent_thread_id"]) == ("guardian", None)


def test_subagent_thread_started_other_serializes_explicit_parent_thread_id() -> None:
    p = _subagent(thread_id="thread-guardian", source="guardian", parent="parent-thread-guardian")
    assert p["parent_thread_id"] == "parent-thread-guardian"


def test_subagent_thread_started_inherits_parent_connection_for_new_thread() -> None:
    reducer = Reducer(FAMILIES)
    run(reducer, initialize(name="parent-client", product="parent-client"))
    parent = "44444444-4444-4444-4444-444444444444"
    run(reducer, thread_response(7, 1, thread(parent)))
    run(reducer, subagent_started("thread-review", spawn_parent=parent, created_at=130))
    fact = CompactionFact(
        thread_id="thread-review", turn_id="turn-compact", trigger="auto", phase="mid_turn",
        status="completed", started_at=100, completed_at=101,
    )  # fmt: skip
    (event,) = run(reducer, fact)
    p = event["event_params"]
    assert (p["session_id"], p["thread_id"]) == ("session-root", "thread-review")
    assert (p["app_server_client"]["product_client_id"], p["parent_thread_id"]) == (
        "parent-client",
        parent,
    )


# --- turn events (nos. 51, 55, 56) and steers (no. 62) -------------------------------------------


def _turn_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    (p,) = [e["event_params"] for e in events if e["event_type"] == "codex_turn_event"]
    return p  # type: ignore[no-any-return]


def test_turn_event_counts_completed_tool_items() -> None:
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
        run(reducer, item_completed("thread-2", "turn-2", kind, obj))
    p = _turn_event(run(reducer, turn_completed("thread-2", "turn-2")))
    counts = [
        p[k]
        for k in (
            "total_tool_call_count", "shell_command_count", "file_change_count",
            "mcp_tool_call_count", "dynamic_tool_call_count", "subagent_tool_call_count",
            "web_search_count", "image_generation_count",
        )
    ]  # fmt: skip
    assert counts == [7, 1, 1, 1, 1, 1, 1, 1]


def test_turn_lifecycle_emits_failed_turn_event() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    events = run(reducer, turn_completed("thread-2", "turn-2", "failed", "badRequest"))
    assert len(events) == 1
    p = _turn_event(events)
    assert (p["status"], p["turn_error"]) == ("failed", "badRequest")


def test_turn_lifecycle_emits_interrupted_turn_event_without_error() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer)
    events = run(reducer, turn_completed("thread-2", "turn-2", "interrupted"))
    assert len(events) == 1
    p = _turn_event(events)
    assert (p["status"], p["turn_error"]) == ("interrupted", None)


def test_turn_steer_does_not_emit_without_pending_request() -> None:
    reducer = Reducer(FAMILIES)
    turn_prerequisites(reducer, config=False, started=False, tokens=False)
    assert run(reducer, steer_error(7, 4, "no_active_turn")) == []
