"""Upstream checklist tests (reducer.md §7.1) that had no test covering their exact output.

Each keeps upstream's name and fixture values; ``docs/upstream-checklist.md`` maps all 63
names to the test that covers them (here, or a same-named or documented test elsewhere).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec

from agentlytics.facts import ClientRequest, ClientResponse, SkillInvoked, TrackingContext
from agentlytics.observe.skills import (
    HostSkill,
    SkillInvocation,
    SkillRepoCache,
    normalize_skill_path,
    resolve_skill,
)
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
    thread,
    thread_response,
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
    return run(Reducer(), SkillInvoked(TRACKING, (resolved,)))


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
    reducer = Reducer()
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
    reducer = Reducer()
    run(reducer, initialize())
    assert run(reducer, ClientResponse(7, 4, "thread/archive", None, 0)) == []
    assert reducer.state.drops == {}


# --- tool items (no. 39) -------------------------------------------------------------------------


def test_item_lifecycle_notifications_publish_command_execution_event() -> None:
    reducer = Reducer()
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
    reducer = Reducer()
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
