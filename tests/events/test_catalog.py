"""The event catalog: exact wire shapes (key order, nulls present), strict decoding, JSON Schema.

Expected JSON is written out by hand from the spec tables (events-and-delivery.md §4, V-main)
and, where upstream has a shape test, with its fixture values (reducer.md §7.1 noted per test).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from agentlytics.events.catalog import CATALOG, EventValidationError, decode_batch, decode_event
from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import SkillInvocationEvent, encode, track
from agentlytics.events.fingerprints import AcceptedLineFingerprints
from agentlytics.events.library import (
    AppMentioned,
    AppUsed,
    ExternalAgentImportComplete,
    PluginDisabled,
    PluginInstalled,
    PluginUsed,
    SkillInvocationParams,
)
from agentlytics.events.lifecycle import CompactionEvent, GoalEvent, HookRun, ThreadArchiveEvent
from agentlytics.events.reviews import GuardianReviewEvent, NetworkAccessAction, ReviewEvent
from tests.expected import compaction_event_23
from tests.helpers import all_captures, replay_events_bytes, run_cli

CLIENT = AppServerClient("codex_cli_rs", "codex-tui", "1.0.0", "stdio", True)
CLIENT_JSON = {
    "product_client_id": "codex_cli_rs",
    "client_name": "codex-tui",
    "client_version": "1.0.0",
    "rpc_transport": "stdio",
    "experimental_api_enabled": True,
}
RUNTIME = Runtime("0.1.0", "macos", "15.3.1", "aarch64")
RUNTIME_JSON = {
    "codex_rs_version": "0.1.0",
    "runtime_os": "macos",
    "runtime_os_version": "15.3.1",
    "runtime_arch": "aarch64",
}


def same_json(event: Any, expected: dict[str, Any]) -> None:
    """Byte equality with the expected dict: same keys, same order, same values."""
    assert encode(event) == msgspec.json.encode(expected)
    assert decode_event(encode(event)) == event  # and it round-trips through strict decoding


def test_hook_run_shape() -> None:
    # reducer.md §7.1 no. 16 (+ V-main product_client_id).
    same_json(
        track(
            HookRun(
                "thread-3", "turn-3", "codex_cli_rs", "gpt-5", "PreToolUse", "user", "completed"
            )
        ),
        {
            "event_type": "codex_hook_run",
            "event_params": {
                "thread_id": "thread-3",
                "turn_id": "turn-3",
                "product_client_id": "codex_cli_rs",
                "model_slug": "gpt-5",
                "hook_name": "PreToolUse",
                "hook_source": "user",
                "status": "completed",
            },
        },
    )


def test_compaction_shape() -> None:
    # reducer.md §7.1 no. 23 adapted to V-main (codex_error_* instead of error; the extra
    # token fields null).
    event = CompactionEvent(
        "thread-1",
        "session-thread-1",
        "turn-1",
        CLIENT,
        RUNTIME,
        "user",
        None,
        None,
        "auto",
        "context_limit",
        "responses_compact",
        "mid_turn",
        "memento",
        "completed",
        None,
        None,
        120000,
        18000,
        None,
        None,
        None,
        None,
        100,
        106,
        6543,
    )
    same_json(track(event), compaction_event_23(CLIENT_JSON))


def test_goal_shape() -> None:
    event = GoalEvent(
        "thread-1",
        "session-1",
        None,
        CLIENT,
        RUNTIME,
        "user",
        None,
        None,
        "goal-1",
        "usage_accounted",
        "active",
        True,
        1234,
        56,
    )
    same_json(
        track(event),
        {
            "event_type": "codex_goal_event",
            "event_params": {
                "thread_id": "thread-1",
                "session_id": "session-1",
                "turn_id": None,
                "app_server_client": CLIENT_JSON,
                "runtime": RUNTIME_JSON,
                "thread_source": "user",
                "subagent_source": None,
                "parent_thread_id": None,
                "goal_id": "goal-1",
                "event_kind": "usage_accounted",
                "goal_status": "active",
                "has_token_budget": True,
                "cumulative_tokens_accounted": 1234,
                "cumulative_time_accounted_seconds": 56,
            },
        },
    )


def test_archive_shape() -> None:
    same_json(
        track(ThreadArchiveEvent("thread-1", "archived", 1716000000123)),
        {
            "event_type": "codex_thread_archive_event",
            "event_params": {
                "thread_id": "thread-1",
                "action": "archived",
                "occurred_at_ms": 1716000000123,
            },
        },
    )


def test_accepted_line_fingerprints_shape() -> None:
    # reducer.md §7.1 no. 20 (V-main carries fingerprints; here none).
    event = AcceptedLineFingerprints(
        "codex.accepted_line_fingerprints",
        "turn-1",
        "thread-1",
        "codex",
        "gpt-5.1-codex",
        1710000000,
        "repo-hash-1",
        42,
        40,
        [],
    )
    same_json(
        track(event),
        {
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
        },
    )
    assert AcceptedLineFingerprints.ISOLATED


def test_review_shape_with_command_source_last() -> None:
    # reducer.md §7.1 no. 40 + our extension command_source (decision 7) as the last key.
    client = AppServerClient("codex_tui", "codex-tui", "1.2.3", "websocket", True)
    runtime = Runtime("0.99.0", "macos", "15.3.1", "aarch64")
    event = ReviewEvent(
        "thread-1",
        "turn-1",
        None,
        "review-1",
        client,
        runtime,
        "subagent",
        "thread_spawn",
        "parent-thread-1",
        "network_access",
        "network_access",
        "user",
        "network_policy_denial",
        "approved",
        "network_policy_amendment",
        123,
        125,
        2,
        None,
    )
    same_json(
        track(event),
        {
            "event_type": "codex_review_event",
            "event_params": {
                "thread_id": "thread-1",
                "turn_id": "turn-1",
                "item_id": None,
                "review_id": "review-1",
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
                "thread_source": "subagent",
                "subagent_source": "thread_spawn",
                "parent_thread_id": "parent-thread-1",
                "subject_kind": "network_access",
                "subject_name": "network_access",
                "reviewer": "user",
                "trigger": "network_policy_denial",
                "status": "approved",
                "resolution": "network_policy_amendment",
                "started_at_ms": 123,
                "completed_at_ms": 125,
                "duration_ms": 2,
                "command_source": None,
            },
        },
    )


def test_guardian_review_shape() -> None:
    # reducer.md §7.1 no. 48 values, V-main field set.
    event = GuardianReviewEvent(
        "session-thread-guardian",
        CLIENT,
        RUNTIME,
        "thread-guardian",
        "turn-guardian",
        "review-guardian",
        None,
        "delegated_subagent",
        NetworkAccessAction("https", 443),
        False,
        "denied",
        "timed_out",
        "timeout",
        1,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        90000,
        None,
        None,
        90000,
        100,
        190,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    data = json.loads(encode(track(event)))
    params = data["event_params"]
    assert list(params)[:4] == ["session_id", "app_server_client", "runtime", "thread_id"]
    assert params["reviewed_action"] == {"type": "network_access", "protocol": "https", "port": 443}
    assert (params["terminal_status"], params["failure_reason"], params["review_timeout_ms"]) == (
        "timed_out",
        "timeout",
        90000,
    )
    for absent in ("retry_reason", "rationale"):
        assert absent not in params
    assert len(params) == 39
    assert decode_event(encode(track(event))) == track(event)


def test_app_and_plugin_shapes() -> None:
    # reducer.md §7.1 nos. 7, 8, 11, 12, 15.
    same_json(
        track(
            AppMentioned(
                "calendar", "thread-1", "turn-1", "Calendar", "codex_cli_rs", "explicit", "gpt-5"
            )
        ),
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
        },
    )
    assert (
        json.loads(
            encode(
                track(
                    AppUsed(
                        "drive",
                        "thread-2",
                        "turn-2",
                        "Google Drive",
                        "codex_cli_rs",
                        "implicit",
                        "gpt-5",
                    )
                )
            )
        )["event_type"]
        == "codex_app_used"
    )
    meta = {
        "plugin_id": "sample@test",
        "remote_plugin_id": None,
        "plugin_name": "sample",
        "marketplace_name": "test",
        "has_skills": True,
        "mcp_server_count": 2,
        "connector_ids": ["calendar", "drive"],
        "product_client_id": "codex_cli_rs",
    }
    args = ("sample@test", None, "sample", "test", True, 2, ["calendar", "drive"], "codex_cli_rs")
    same_json(
        track(PluginUsed(*args, ["mcp-1", "mcp-2"], "thread-3", "turn-3", "gpt-5")),
        {
            "event_type": "codex_plugin_used",
            "event_params": {
                **meta,
                "mcp_server_names": ["mcp-1", "mcp-2"],
                "thread_id": "thread-3",
                "turn_id": "turn-3",
                "model_slug": "gpt-5",
            },
        },
    )
    same_json(
        track(PluginInstalled(*args)),
        {"event_type": "codex_plugin_installed", "event_params": meta},
    )
    same_json(
        track(PluginDisabled(*args)), {"event_type": "codex_plugin_disabled", "event_params": meta}
    )


def test_skill_invocation_has_top_level_ids() -> None:
    params = SkillInvocationParams(
        "codex_cli_rs", "user", None, None, None, "thread-1", "turn-1", "explicit", "gpt-5"
    )
    event = SkillInvocationEvent("skill_invocation", "abc123", "doc", params)
    same_json(
        event,
        {
            "event_type": "skill_invocation",
            "skill_id": "abc123",
            "skill_name": "doc",
            "event_params": {
                "product_client_id": "codex_cli_rs",
                "skill_scope": "user",
                "plugin_id": None,
                "remote_plugin_id": None,
                "repo_url": None,
                "thread_id": "thread-1",
                "turn_id": "turn-1",
                "invoke_type": "explicit",
                "model_slug": "gpt-5",
            },
        },
    )


def test_import_event_renames_item_type_to_type() -> None:
    event = ExternalAgentImportComplete("imp-1", "claude", "prov", "skills", 3, 1, None)
    params = json.loads(encode(track(event)))["event_params"]
    assert list(params) == [
        "import_id",
        "source",
        "provider_id",
        "type",
        "success_count",
        "failed_count",
        "product_client_id",
    ]


def test_catalog_lists_every_family_once() -> None:
    assert len(CATALOG) == 31
    assert {
        "codex_turn_event",
        "codex_review_event",
        "codex_plugin_enabled",
        "codex_onboarding_external_agent_import_failure",
        "skill_invocation",
    } <= set(CATALOG)


def test_every_replayed_event_validates_strictly() -> None:
    for body in replay_events_bytes(*all_captures()):
        decode_event(body)


VALID = encode(track(ThreadArchiveEvent("thread-1", "archived", 5)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: {**e, "event_type": "codex_nope"}, "unknown event_type 'codex_nope'"),
        (
            lambda e: {
                **e,
                "event_params": {k: v for k, v in e["event_params"].items() if k != "action"},
            },
            "missing required field `action`",
        ),
        (
            lambda e: {**e, "event_params": {**e["event_params"], "action": "deleted"}},
            "$.event_params.action",
        ),
        (
            lambda e: {**e, "event_params": {**e["event_params"], "occurred_at_ms": -1}},
            "$.event_params.occurred_at_ms",
        ),
        (
            lambda e: {**e, "event_params": {**e["event_params"], "extra": 1}},
            "unknown field `extra`",
        ),
        (lambda e: {**e, "extra": 1}, "unknown field `extra`"),
    ],
)
def test_decode_event_rejects_with_the_field_named(mutate: Any, message: str) -> None:
    bad = msgspec.json.encode(mutate(json.loads(VALID)))
    with pytest.raises(EventValidationError) as err:
        decode_event(bad)
    assert message in str(err.value)
    if "unknown event_type" not in message:
        assert str(err.value).startswith("codex_thread_archive_event")


def test_decode_batch_names_the_failing_index() -> None:
    good = json.loads(VALID)
    bad = {**good, "event_params": {**good["event_params"], "action": 7}}
    body = msgspec.json.encode({"events": [good, good, bad]})
    with pytest.raises(EventValidationError, match=r"^events\[2\]: codex_thread_archive_event"):
        decode_batch(body)
    assert len(decode_batch(msgspec.json.encode({"events": [good, good]}))) == 2
    with pytest.raises(EventValidationError, match="not an events batch"):
        decode_batch(b'{"evnts": []}')


def test_schema_command_lists_every_event_type() -> None:
    proc = run_cli("schema")
    schema = json.loads(proc.stdout)
    assert len(schema["oneOf"]) == len(CATALOG)
    text = json.dumps(schema)
    for event_type in CATALOG:
        assert f'"const": "{event_type}"' in text or f'"enum": ["{event_type}"]' in text


def test_docs_events_md_is_current() -> None:
    from agentlytics.events.docs import render_markdown
    from tests.helpers import ROOT

    assert (ROOT / "docs" / "events.md").read_text() == render_markdown(), (
        "docs/events.md is stale: PYTHONPATH=src python -m agentlytics.events.docs > docs/events.md"
    )
