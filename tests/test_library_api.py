"""The library API (``AnalyticsClient``): same events as a replay, dedupe, custom families, docs.

The equivalence tests drive the client only through its public ``track_*`` calls — one call per
JSON-RPC message of a real capture, chosen by the message's kind — and compare the events with
replaying the capture file, byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.events.envelope import Envelope
from agentlytics.facts import AppInvocation, PluginMetadata, TrackingContext
from agentlytics.library.delivery import InlineDelivery
from agentlytics.observe.skills import HostSkill, ResourceSkill, SkillInvocation, sha1_hex
from expected import compaction_event_23, tui_client_json
from helpers import ROOT, capture_path, cli_env, replay_events_bytes, track_call


class Collect:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.closed = False

    def write(self, batch: Sequence[Envelope]) -> None:
        self.envelopes.extend(batch)

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.envelopes]


def drive(client: AnalyticsClient, capture: Path) -> None:
    """Feed a capture's messages to the client the way a host program would see them."""
    for line in capture.read_text().splitlines():
        name, args, kwargs = track_call(json.loads(line))
        getattr(client, name)(*args, **kwargs)


@pytest.mark.parametrize("name", ["hooks", "shell_accept", "goals", "compaction", "subagent"])
def test_library_api_gives_the_replay_events_byte_for_byte(name: str) -> None:
    sink = Collect()
    delivery = InlineDelivery([sink])
    client = AnalyticsClient(delivery)
    drive(client, capture_path(name))
    client.close()
    expected = replay_events_bytes(capture_path(name))
    assert expected, "the capture must produce events"
    assert [e.body for e in sink.envelopes] == expected
    assert sink.closed
    assert client.drops.total == 0
    assert delivery.pipeline.drops.total == 0


def test_track_initialize_without_a_server_describes_this_process() -> None:
    sink = Collect()
    with AnalyticsClient(sinks=[sink]) as client:
        client.track_initialize({"clientInfo": {"name": "my-host", "version": "2.0"}}, at_ms=1)
        client.track_request("thread/start", {"cwd": "/nowhere"}, request_id=1, at_ms=2)
        client.track_response(
            1,
            {
                "thread": {"id": "t-1", "sessionId": "s-1", "createdAt": 5, "ephemeral": False},
                "model": "gpt-x",
                "modelProvider": "openai",
            },
            at_ms=3,
        )
    (event,) = sink.events
    params = event["event_params"]
    assert event["event_type"] == "codex_thread_initialized"
    assert params["app_server_client"] == {
        "product_client_id": "my-host",
        "client_name": "my-host",
        "client_version": "2.0",
        "rpc_transport": "stdio",
        "experimental_api_enabled": None,
    }
    import platform

    assert params["runtime"]["runtime_arch"] == (platform.machine() or "unknown")
    assert params["runtime"]["codex_rs_version"] == "0.1.0"


def _tracking(turn: str = "turn-1") -> TrackingContext:
    return TrackingContext(
        model_slug="gpt-5", thread_id="thread-1", turn_id=turn, product_client_id="codex_cli_rs"
    )


PLUGIN = PluginMetadata(
    plugin_name="sample",
    marketplace_name="test",
    has_skills=True,
    mcp_server_names=("mcp-1", "mcp-2"),
    connector_ids=("calendar", "drive"),
)


def test_app_and_plugin_events_in_arrival_order_with_exact_shapes() -> None:
    """§7.1 tests 7, 8, 10, 11, 12, 15 (V-main shapes)."""
    sink = Collect()
    client = AnalyticsClient(sinks=[sink], product_client_id="codex_cli_rs")
    client.track_app_mentioned(_tracking(), [AppInvocation("calendar", "Calendar", "explicit")])
    client.track_app_used(
        TrackingContext("gpt-5", "thread-2", "turn-2", "codex_cli_rs"),
        AppInvocation("drive", "Google Drive", "implicit"),
    )
    client.track_plugin_used(TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs"), PLUGIN)
    client.track_plugin_installed(PLUGIN)
    client.track_plugin_disabled(PLUGIN)
    assert sink.events == [
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
        },
        {
            "event_type": "codex_plugin_used",
            "event_params": {
                "plugin_id": "sample@test",
                "remote_plugin_id": None,
                "plugin_name": "sample",
                "marketplace_name": "test",
                "has_skills": True,
                "mcp_server_count": 2,
                "connector_ids": ["calendar", "drive"],
                "product_client_id": "codex_cli_rs",
                "mcp_server_names": ["mcp-1", "mcp-2"],
                "thread_id": "thread-3",
                "turn_id": "turn-3",
                "model_slug": "gpt-5",
            },
        },
        {
            "event_type": "codex_plugin_installed",
            "event_params": {
                "plugin_id": "sample@test",
                "remote_plugin_id": None,
                "plugin_name": "sample",
                "marketplace_name": "test",
                "has_skills": True,
                "mcp_server_count": 2,
                "connector_ids": ["calendar", "drive"],
                "product_client_id": "codex_cli_rs",
            },
        },
        {
            "event_type": "codex_plugin_disabled",
            "event_params": {
                "plugin_id": "sample@test",
                "remote_plugin_id": None,
                "plugin_name": "sample",
                "marketplace_name": "test",
                "has_skills": True,
                "mcp_server_count": 2,
                "connector_ids": ["calendar", "drive"],
                "product_client_id": "codex_cli_rs",
            },
        },
    ]


def test_plugin_with_remote_id_keeps_local_plugin_id() -> None:
    """§7.3 ``plugin_management_event_keeps_plugin_id_local_when_remote_id_exists``."""
    sink = Collect()
    client = AnalyticsClient(sinks=[sink], product_client_id="codex_cli_rs")
    remote = PluginMetadata("sample", "test", remote_plugin_id="plugins~Plugin_remote")
    client.track_plugin_installed(remote)
    params = sink.events[0]["event_params"]
    assert params["plugin_id"] == "sample@test"
    assert params["remote_plugin_id"] == "plugins~Plugin_remote"
    assert params["has_skills"] is None and params["mcp_server_count"] is None


def test_app_used_dedupe_is_keyed_by_turn_and_connector() -> None:
    """§7.1 test 9: same (turn, connector) once; another turn again; no connector never deduped."""
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    drive_app = AppInvocation("drive", "Drive", "implicit")
    client.track_app_used(_tracking("turn-1"), drive_app)
    client.track_app_used(_tracking("turn-1"), drive_app)
    client.track_app_used(_tracking("turn-2"), drive_app)
    anonymous = AppInvocation(None, "Unnamed", None)
    client.track_app_used(_tracking("turn-1"), anonymous)
    client.track_app_used(_tracking("turn-1"), anonymous)
    assert [
        (e["event_params"]["turn_id"], e["event_params"]["connector_id"]) for e in sink.events
    ] == [
        ("turn-1", "drive"),
        ("turn-2", "drive"),
        ("turn-1", None),
        ("turn-1", None),
    ]


def test_plugin_used_dedupe_is_keyed_by_turn_and_plugin() -> None:
    """§7.1 test 14: true, false, true; the remote id is the key when there is no local id."""
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    client.track_plugin_used(_tracking("turn-1"), PLUGIN)
    client.track_plugin_used(_tracking("turn-1"), PLUGIN)
    client.track_plugin_used(_tracking("turn-2"), PLUGIN)
    remote_only = PluginMetadata(remote_plugin_id="plugins~x")
    client.track_plugin_used(_tracking("turn-1"), remote_only)
    client.track_plugin_used(_tracking("turn-1"), remote_only)
    assert len(sink.events) == 3


def test_dedupe_keys_are_cleared_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentlytics.client as client_module

    monkeypatch.setattr(client_module, "DEDUPE_MAX_KEYS", 2)
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    app = AppInvocation("drive", "Drive", "implicit")
    for turn in ("t1", "t2", "t3", "t1"):  # t3 clears {t1, t2}: t1 counts again
        client.track_app_used(_tracking(turn), app)
    assert len(sink.events) == 4


def test_hook_run_shapes_and_mapping() -> None:
    """§7.1 tests 16–19: exact shape; sources and statuses; ``running`` → ``failed``."""
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    tracking = TrackingContext("gpt-5", "thread-3", "turn-3", "codex_cli_rs")
    client.track_hook_run(tracking, hook_name="PreToolUse", hook_source="user", status="completed")
    cases = [
        ("SessionStart", "system", "completed"),
        ("Stop", "project", "blocked"),
        ("Stop", "cloud_requirements", "blocked"),
        ("UserPromptSubmit", "unknown", "failed"),
        ("Stop", "user", "stopped"),
        ("postToolUse", "sessionFlags", "running"),
    ]
    for name, source, status in cases:
        client.track_hook_run(tracking, hook_name=name, hook_source=source, status=status)
    assert sink.events[0] == {
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
    }
    got = [
        (
            e["event_params"]["hook_name"],
            e["event_params"]["hook_source"],
            e["event_params"]["status"],
        )
        for e in sink.events[1:]
    ]
    assert got == [
        ("SessionStart", "system", "completed"),
        ("Stop", "project", "blocked"),
        ("Stop", "cloud_requirements", "blocked"),
        ("UserPromptSubmit", "unknown", "failed"),
        ("Stop", "user", "stopped"),
        ("PostToolUse", "session_flags", "failed"),
    ]
    with pytest.raises(ValueError, match="hook_source"):
        client.track_hook_run(
            tracking, hook_name="Stop", hook_source="elsewhere", status="completed"
        )
    with pytest.raises(ValueError, match="status"):
        client.track_hook_run(tracking, hook_name="Stop", hook_source="user", status="done")


def _initialized_thread(client: AnalyticsClient, thread: str = "thread-1") -> None:
    client.track_initialize(
        {"clientInfo": {"name": "codex-tui", "version": "1.0.0"}},
        {"userAgent": "codex_cli_rs/0.1.0 (Mac OS 15.3.1; aarch64)", "platformOs": "macos"},
        at_ms=1,
    )
    client.track_request("thread/start", {}, request_id=1, at_ms=2)
    client.track_response(
        1,
        {
            "thread": {
                "id": thread,
                "sessionId": f"session-{thread}",
                "threadSource": "user",
                "createdAt": 1,
                "ephemeral": False,
            },
            "model": "gpt-5",
            "modelProvider": "openai",
        },
        at_ms=3,
    )


def test_goal_and_compaction_through_the_client_need_thread_context() -> None:
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    client.track_goal_event(
        thread_id="thread-x",
        goal_id="g",
        event_kind="created",
        goal_status="active",
        has_token_budget=False,
    )
    assert sink.events == []  # unknown thread: a counted reducer drop
    _initialized_thread(client)
    client.track_goal_event(
        thread_id="thread-1",
        goal_id="goal-1",
        event_kind="created",
        goal_status="active",
        has_token_budget=True,
        cumulative_tokens_accounted=5,  # ignored: counters only on usage_accounted
    )
    client.track_compaction(
        thread_id="thread-1",
        turn_id="turn-1",
        trigger="auto",
        phase="mid_turn",
        status="completed",
        started_at=100,
        completed_at=106,
        reason="context_limit",
        implementation="responses_compact",
        strategy="memento",
        active_context_tokens_before=120000,
        active_context_tokens_after=18000,
        duration_ms=6543,
    )
    goal, compaction = (e["event_params"] for e in sink.events[1:])
    assert goal["goal_id"] == "goal-1" and goal["cumulative_tokens_accounted"] is None
    assert goal["session_id"] == "session-thread-1" and goal["thread_source"] == "user"
    expected = compaction_event_23(tui_client_json("codex-tui", None))["event_params"]
    assert msgspec.json.encode(compaction) == msgspec.json.encode(expected)  # key order too
    with pytest.raises(ValueError, match="trigger"):
        client.track_compaction(
            thread_id="thread-1",
            turn_id="t",
            trigger="sometimes",  # type: ignore[arg-type]
            phase="mid_turn",
            status="completed",
            started_at=1,
            completed_at=2,
        )
    with pytest.raises(ValueError, match=r"(?i)unexpected keyword"):
        client.track_compaction(
            thread_id="thread-1",
            turn_id="t",
            trigger="auto",
            phase="mid_turn",
            status="completed",
            started_at=1,
            completed_at=2,
            colour="blue",
        )


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_skill_invocations_resolve_repo_url_and_ids_at_the_edge(tmp_path: Path) -> None:
    """§7.1 tests 1–6: repo-scoped skills hash their repo-relative path with the repo URL;
    personal skills their absolute path; credentials never reach the URL; git runs once per
    directory; implicit resource skills count once per turn."""
    repo = tmp_path / "repo"
    skill_dir = repo / ".codex" / "skills" / "doc"
    skill_dir.mkdir(parents=True)
    (skill_dir / "SKILL.md").write_text("# doc\n")
    _git(repo, "init", "-q")
    _git(repo, "remote", "add", "origin", "https://user:s3cret@example.com/org/repo.git")
    personal = tmp_path / "home" / ".codex" / "skills" / "doc"
    personal.mkdir(parents=True)
    (personal / "SKILL.md").write_text("# doc\n")

    sink = Collect()
    client = AnalyticsClient(sinks=[sink], product_client_id="codex_cli_rs")
    tracking = _tracking()
    repo_skill = SkillInvocation("doc", HostSkill(str(skill_dir / "SKILL.md"), "repo"))
    client.track_skill_invocations(
        tracking,
        [
            repo_skill,
            SkillInvocation("doc", HostSkill(str(personal / "SKILL.md"), "user")),
            SkillInvocation(
                "sample:doc",
                ResourceSkill("res://doc", scope="user"),
                invocation_type="implicit",
                plugin_id="sample@test",
            ),
        ],
    )
    client.track_skill_invocations(
        tracking,
        [
            repo_skill,
            SkillInvocation("sample:doc", ResourceSkill("res://doc"), invocation_type="implicit"),
        ],
    )
    events = sink.events
    assert [e["event_type"] for e in events] == ["skill_invocation"] * 4
    url = "https://example.com/org/repo.git"
    repo_event, personal_event, resource_event, repeat = events
    assert repo_event["skill_id"] == sha1_hex(f"repo_{url}_.codex/skills/doc/SKILL.md_doc")
    assert repo_event["skill_name"] == "doc"
    assert repo_event["event_params"] == {
        "product_client_id": "codex_cli_rs",
        "skill_scope": "repo",
        "plugin_id": None,
        "remote_plugin_id": None,
        "repo_url": url,
        "thread_id": "thread-1",
        "turn_id": "turn-1",
        "invoke_type": "explicit",
        "model_slug": "gpt-5",
    }
    resolved = (personal / "SKILL.md").resolve()
    assert personal_event["skill_id"] == sha1_hex(f"personal_{resolved}_doc")
    assert personal_event["event_params"]["repo_url"] is None
    assert resource_event["skill_id"] == sha1_hex("res://doc")
    assert resource_event["event_params"]["plugin_id"] == "sample@test"
    assert resource_event["event_params"]["invoke_type"] == "implicit"
    assert repeat == repo_event
    assert client._skill_repos.lookups == 2  # one git lookup per skill directory
    assert "s3cret" not in json.dumps(events)


def test_calls_after_close_are_counted_not_raised_and_disabled_client_does_nothing() -> None:
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    client.close()
    client.track_notification("thread/archived", {"threadId": "t"}, at_ms=5)
    assert client.drops.counts["track call after close"] == 1
    assert sink.events == []
    off = AnalyticsClient(delivery=InlineDelivery([sink]), enabled=False)
    off.track_notification("thread/archived", {"threadId": "t"}, at_ms=5)
    off.track_app_used(_tracking(), AppInvocation("drive"))
    assert sink.events == [] and off.flush()


def test_archive_notifications_through_the_client() -> None:
    sink = Collect()
    client = AnalyticsClient(sinks=[sink])
    client.track_notification("thread/archived", {"threadId": "t-9"}, at_ms=1795000000123)
    client.track_message(
        "server_to_client",
        {"jsonrpc": "2.0", "method": "thread/unarchived", "params": {"threadId": "t-9"}},
        at_ms=1795000000456,
    )
    assert sink.events == [
        {
            "event_type": "codex_thread_archive_event",
            "event_params": {
                "thread_id": "t-9",
                "action": "archived",
                "occurred_at_ms": 1795000000123,
            },
        },
        {
            "event_type": "codex_thread_archive_event",
            "event_params": {
                "thread_id": "t-9",
                "action": "unarchived",
                "occurred_at_ms": 1795000000456,
            },
        },
    ]
    with pytest.raises(ValueError, match="JSON-RPC"):
        client.track_message("server_to_client", {"method": 5}, at_ms=1)


def test_docs_library_example_runs(tmp_path: Path) -> None:
    """The runnable example of docs/library.md, extracted and run as a script."""
    text = (ROOT / "docs" / "library.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "docs/library.md must hold a python example"
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    types = [line["event_type"] for line in lines]
    assert types == [
        "codex_thread_initialized",
        "codex_hook_run",
        "codex_turn_event",
        "codex_app_used",
    ], types
    assert "codex_turn_event" in proc.stdout
