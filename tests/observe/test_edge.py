"""Wire → facts: decoding, per-direction correlation, counted drops, synthesised facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentlytics.facts import (
    ClientResponse,
    Initialize,
    ItemCompleted,
    SubAgentThreadStarted,
    TurnCodexError,
    TurnResolvedConfig,
    TurnTokenUsage,
)
from agentlytics.families import FAMILIES
from agentlytics.observe.decode import classify_steer_error, runtime_from_user_agent
from agentlytics.observe.edge import WireObserver
from agentlytics.observe.synthesize import codex_error_kind, sandbox_policy_name
from agentlytics.protocol.wire import JsonRpcError
from tests.helpers import capture_path, replay_events

C2S, S2C = "client_to_server", "server_to_client"


def line(direction: str, msg: dict[str, Any], ts: int = 1_000) -> bytes:
    return json.dumps({"seq": 0, "ts_ms": ts, "dir": direction, "msg": msg}).encode()


def observe_all(observer: WireObserver, name: str) -> list[Any]:
    facts: list[Any] = []
    for raw in capture_path(name).read_bytes().splitlines():
        facts += observer.observe_line(raw)
    return facts


def test_runtime_from_user_agent() -> None:
    ua = "agentlytics-capture/0.169.0 (Debian 12.0.0; x86_64) unknown (agentlytics-capture; 0.1.0)"
    rt = runtime_from_user_agent(ua, "linux")
    assert (rt.codex_rs_version, rt.runtime_os, rt.runtime_os_version, rt.runtime_arch) == (
        "0.169.0",
        "linux",
        "12.0.0",
        "x86_64",
    )
    rt = runtime_from_user_agent("codex_cli_rs/0.1.0 (Mac OS 15.3.1; arm64) iTerm", "macos")
    assert (rt.runtime_os, rt.runtime_os_version, rt.runtime_arch) == ("macos", "15.3.1", "arm64")
    assert runtime_from_user_agent("garbage", None).codex_rs_version == "unknown"


def test_initialize_fact_from_request_and_result() -> None:
    facts = observe_all(WireObserver(3, families=FAMILIES), "shell_accept")
    init = next(f for f in facts if isinstance(f, Initialize))
    assert (init.connection_id, init.client_name, init.client_version) == (
        3,
        "agentlytics-capture",
        "0.1.0",
    )
    assert init.product_client_id == "agentlytics-capture"
    assert init.experimental_api_enabled is None  # no capabilities were sent
    assert init.rpc_transport == "stdio"


def test_request_ids_are_correlated_per_direction() -> None:
    # A server request and a client request both use id 0; each response finds its own request.
    obs = WireObserver(0, families=FAMILIES)
    obs.observe_line(
        line(
            C2S,
            {
                "method": "initialize",
                "id": 0,
                "params": {"clientInfo": {"name": "c", "version": "1"}},
            },
        )
    )
    obs.observe_line(line(S2C, {"method": "item/tool/call", "id": 0, "params": {}}))
    facts = obs.observe_line(
        line(
            S2C,
            {"id": 0, "result": {"userAgent": "x/1.0 (Linux 6; x86_64)", "platformOs": "linux"}},
        )
    )
    assert isinstance(facts[0], Initialize)  # decoded as the initialize result
    assert obs.observe_line(line(C2S, {"id": 0, "result": {"contentItems": []}})) == []
    assert obs.drops.total == 0
    assert not obs.client_pending and not obs.server_pending


def test_orphan_and_duplicate_responses_are_counted() -> None:
    obs = WireObserver(0, families=FAMILIES)
    assert obs.observe_line(line(S2C, {"id": 42, "result": {}})) == []
    assert obs.observe_line(line(C2S, {"id": 42, "result": {}})) == []
    assert obs.drops.counts["orphan server response (no pending client request)"] == 1
    assert obs.drops.counts["orphan client response (no pending server request)"] == 1


def test_bad_input_is_counted_not_raised() -> None:
    obs = WireObserver(0, families=FAMILIES)
    bad = [
        b"{not json",
        b'{"seq": 1}',
        line(S2C, {"method": "no/such/method", "params": {}}),
        line(C2S, {"method": "no/such/request", "id": 5, "params": {}}),
        line(S2C, {"method": "turn/started", "params": {"threadId": 5}}),
        line(S2C, {"jsonrpc": "2.0"}),
        b"",
        b'{"ts_ms": 1, "dir": "client_to_server", "raw": "not json at all"}',
    ]
    for raw in bad:
        assert obs.observe_line(raw) == []
    counts = obs.drops.counts
    assert counts["malformed line"] == 2
    assert counts["unknown server notification method"] == 1
    assert counts["unknown client request method"] == 1
    assert counts["undecodable turn/started"] == 1
    assert counts["message with neither method nor id"] == 1
    assert counts["relay line that is not a JSON object"] == 1


def test_thread_response_decoded_with_request_type() -> None:
    facts = observe_all(WireObserver(0, families=FAMILIES), "thread_fork")
    responses = [f for f in facts if isinstance(f, ClientResponse)]
    assert [r.method for r in responses] == [
        "thread/start",
        "turn/start",
        "thread/fork",
        "turn/start",
    ]
    fork = responses[2].response
    assert fork.thread.forked_from_id == responses[0].response.thread.id


def test_resolved_config_synthesised_from_thread_result() -> None:
    facts = observe_all(WireObserver(0, families=FAMILIES), "shell_accept")
    (config,) = [f for f in facts if isinstance(f, TurnResolvedConfig)]
    assert (config.model, config.model_provider, config.sandbox_policy) == (
        "gpt-5.5",
        "mock",
        "read_only",
    )
    assert (config.approval_policy, config.approvals_reviewer, config.sandbox_network_access) == (
        "on-request",
        "user",
        False,
    )
    assert (config.is_first_turn, config.num_input_images, config.collaboration_mode) == (
        True,
        0,
        "default",
    )


def test_turn_start_overrides_apply_to_later_turns() -> None:
    obs = WireObserver(0, families=FAMILIES)
    thread = {"id": "th", "sessionId": "s", "ephemeral": False, "createdAt": 1, "turns": []}
    start = {
        "thread": thread,
        "model": "m1",
        "modelProvider": "p",
        "approvalPolicy": "on-request",
        "approvalsReviewer": "user",
        "sandbox": {"type": "workspaceWrite", "networkAccess": True},
    }
    msgs = [
        line(C2S, {"method": "thread/start", "id": 1, "params": {}}),
        line(S2C, {"id": 1, "result": start}),
        line(
            C2S,
            {
                "method": "turn/start",
                "id": 2,
                "params": {
                    "threadId": "th",
                    "model": "m2",
                    "effort": "high",
                    "input": [{"type": "image", "url": "u"}, {"type": "localImage", "path": "p"}],
                },
            },
        ),
        line(S2C, {"id": 2, "result": {"turn": {"id": "t1", "status": "inProgress", "items": []}}}),
        line(
            S2C,
            {
                "method": "turn/started",
                "params": {
                    "threadId": "th",
                    "turn": {"id": "t1", "status": "inProgress", "items": []},
                },
            },
        ),
        line(
            S2C,
            {
                "method": "turn/started",
                "params": {
                    "threadId": "th",
                    "turn": {"id": "t2", "status": "inProgress", "items": []},
                },
            },
        ),
    ]
    facts = [f for m in msgs for f in obs.observe_line(m)]
    first, second = [f for f in facts if isinstance(f, TurnResolvedConfig)]
    assert (first.model, first.reasoning_effort, first.num_input_images, first.is_first_turn) == (
        "m2",
        "high",
        2,
        True,
    )
    assert (first.sandbox_policy, first.sandbox_network_access) == ("workspace_write", True)
    assert (second.model, second.num_input_images, second.is_first_turn) == ("m2", 0, False)


def test_turn_token_usage_is_growth_of_thread_total() -> None:
    # thread_fork: the fork first receives a copy of the parent's total (1242), so its turn used
    # 2484 - 1242 = 1242 tokens, not 2484.
    facts = observe_all(WireObserver(0, families=FAMILIES), "thread_fork")
    usages = [f for f in facts if isinstance(f, TurnTokenUsage)]
    assert [u.usage.total_tokens for u in usages] == [1242, 1242]
    assert [u.usage.input_tokens for u in usages] == [1200, 1200]


def test_codex_error_kind_mapping() -> None:
    assert codex_error_kind("contextWindowExceeded") == ("context_window_exceeded", None)
    assert codex_error_kind("badRequest") == ("invalid_request", None)
    assert codex_error_kind("usageLimitExceeded") == ("usage_limit_reached", None)
    assert codex_error_kind({"httpConnectionFailed": {"httpStatusCode": 502}}) == (
        "http_connection_failed",
        502,
    )
    assert codex_error_kind(None) is None
    facts = observe_all(WireObserver(0, families=FAMILIES), "model_error")
    (err,) = [f for f in facts if isinstance(f, TurnCodexError)]
    assert (err.kind, err.http_status_code) == ("other", None)


def test_sandbox_policy_names() -> None:
    assert sandbox_policy_name({"type": "dangerFullAccess"}) == ("full_access", True)
    assert sandbox_policy_name({"type": "readOnly"}) == ("read_only", False)
    assert sandbox_policy_name({"type": "externalSandbox", "networkAccess": "enabled"}) == (
        "external_sandbox",
        True,
    )
    assert sandbox_policy_name("weird") == (None, False)


def test_subagent_thread_synthesised_from_spawn_activity() -> None:
    facts = observe_all(WireObserver(0, families=FAMILIES), "subagent")
    (spawned,) = [f for f in facts if isinstance(f, SubAgentThreadStarted)]
    parent = "01a20716-a302-7e31-bbf7-f17933fef9f1"
    assert (spawned.thread_id, spawned.parent_thread_id) == (
        "01a20716-a378-7e41-b9da-595c62e0fd81",
        parent,
    )
    assert (spawned.session_id, spawned.subagent_source, spawned.model) == (
        parent,
        "thread_spawn",
        "gpt-5.5",
    )
    child_configs = [
        f for f in facts if isinstance(f, TurnResolvedConfig) and f.thread_id == spawned.thread_id
    ]
    assert child_configs[0].reasoning_effort == "medium"


def test_only_items_analytics_reads_become_facts() -> None:
    facts = observe_all(WireObserver(0, families=FAMILIES), "assistant_message")
    assert not [f for f in facts if isinstance(f, ItemCompleted)]  # messages, reasoning
    facts = observe_all(WireObserver(0, families=FAMILIES), "shell_accept")
    (done,) = [f for f in facts if isinstance(f, ItemCompleted)]
    assert (done.item_type, done.item_id, done.item.status) == (
        "commandExecution",
        "call-shell-1",
        "completed",
    )


def test_unknown_item_type_is_tolerated() -> None:
    obs = WireObserver(0, families=FAMILIES)
    params = {
        "threadId": "th",
        "turnId": "tu",
        "item": {"type": "hologram", "id": "h1"},
        "completedAtMs": 5,
    }
    assert obs.observe_line(line(S2C, {"method": "item/completed", "params": params})) == []
    # Not an error, but not in the schema either: counted like an unknown method.
    assert dict(obs.drops.counts) == {"unknown item type": 1}


def test_steer_rejections_are_classified() -> None:
    assert classify_steer_error(JsonRpcError(message="no active turn to steer")) == "no_active_turn"
    assert (
        classify_steer_error(JsonRpcError(message="expected turn id mismatch"))
        == "expected_turn_mismatch"
    )
    review = b'{"codexErrorInfo": {"activeTurnNotSteerable": {"turnKind": "review"}}}'
    import msgspec

    assert (
        classify_steer_error(JsonRpcError(message="x", data=msgspec.Raw(review)))
        == "non_steerable_review"
    )
    too_large = b'{"input_error_code": "input_too_large"}'
    assert (
        classify_steer_error(JsonRpcError(message="x", data=msgspec.Raw(too_large)))
        == "input_too_large"
    )
    assert classify_steer_error(JsonRpcError(message="something else")) is None


def test_managed_full_disk_with_restricted_network_reports_external_sandbox(
    tmp_path: Path,
) -> None:
    """Upstream's [G] reducer unit test (reducer.md §7.2): a managed profile with unrestricted
    disk and restricted network, cwd ``/`` → ``external_sandbox``. The v2 wire shows that
    profile as its legacy projection, ``externalSandbox`` with ``networkAccess: restricted``:
    the real shell_accept capture with its thread's sandbox and cwd rewritten so."""
    text = capture_path("shell_accept").read_text()
    readonly = '"sandbox": {"type": "readOnly", "networkAccess": false}'
    assert text.count(readonly) == 1
    text = text.replace(
        readonly, '"sandbox": {"type": "externalSandbox", "networkAccess": "restricted"}'
    ).replace('"cwd": "/home/dev/session/repo"', '"cwd": "/"')
    capture = tmp_path / "managed.jsonl"
    capture.write_text(text)
    turns = [e["event_params"] for e in replay_events(capture) if e["event_type"] == "codex_turn_event"]  # fmt: skip
    assert [(p["sandbox_policy"], p["sandbox_network_access"]) for p in turns] == [
        ("external_sandbox", False)
    ]
