"""Approval traffic at the edge: typed requests and answers, aborts, filtering, guardian facts."""

from __future__ import annotations

import json
from typing import Any

from agentlytics.events import reviews as ev
from agentlytics.facts import (
    GuardianReview,
    GuardianReviewCompleted,
    ServerRequest,
    ServerRequestAborted,
    ServerResponse,
    TurnCompleted,
)
from agentlytics.families import FAMILIES
from agentlytics.observe.edge import WireObserver
from agentlytics.pipeline import Pipeline
from agentlytics.protocol import types as t
from tests.helpers import capture_path, replay_events

C2S, S2C = "client_to_server", "server_to_client"
REVIEW_FACTS = (
    ServerRequest,
    ServerResponse,
    ServerRequestAborted,
    GuardianReview,
    GuardianReviewCompleted,
)


def line(direction: str, msg: dict[str, Any], ts: int = 1_000) -> bytes:
    return json.dumps({"seq": 0, "ts_ms": ts, "dir": direction, "msg": msg}).encode()


def feed(observer: WireObserver, *lines: bytes) -> list[Any]:
    facts: list[Any] = []
    for raw in lines:
        facts += observer.observe_line(raw)
    return facts


def review_facts(facts: list[Any]) -> list[Any]:
    return [f for f in facts if isinstance(f, REVIEW_FACTS)]


def command_request(request_id: Any, ts: int = 1_000, **extra: Any) -> bytes:
    params = {
        "kind": "command",
        "threadId": "th",
        "turnId": "tu",
        "itemId": "call-1",
        "startedAtMs": 990,
        "command": "rm -rf /secret",
        "cwd": "/home/dev",
        "reason": "please",
        **extra,
    }
    msg = {"method": "item/commandExecution/requestApproval", "id": request_id, "params": params}
    return line(S2C, msg, ts)


def client_answer(request_id: Any, result: Any, ts: int) -> bytes:
    return line(C2S, {"id": request_id, "result": result}, ts)


def turn_completed(ts: int, turn_id: str = "tu") -> bytes:
    turn = {"id": turn_id, "status": "interrupted", "items": [], "error": None}
    return line(S2C, {"method": "turn/completed", "params": {"threadId": "th", "turn": turn}}, ts)


def resolved(request_id: Any, ts: int) -> bytes:
    params = {"threadId": "th", "requestId": request_id}
    return line(S2C, {"method": "serverRequest/resolved", "params": params}, ts)


def test_command_request_and_answer_are_typed_and_stamped() -> None:
    obs = WireObserver(4, families=FAMILIES)
    facts = feed(
        obs,
        command_request(0, ts=1_000),
        client_answer(0, {"decision": "accept"}, ts=1_050),
        resolved(0, ts=1_051),
    )
    request, response = facts
    assert isinstance(request, ServerRequest)
    assert (request.connection_id, request.request_id, request.observed_at_ms) == (4, 0, 1_000)
    assert request.params == t.CommandExecutionRequestApprovalParams(
        thread_id="th", turn_id="tu", item_id="call-1", started_at_ms=990, kind="command"
    )
    assert "secret" not in repr(request)  # command text, cwd and reason are never copied
    assert isinstance(response, ServerResponse)
    assert (response.method, response.completed_at_ms) == (
        "item/commandExecution/requestApproval",
        1_050,
    )
    assert response.response == t.CommandExecutionRequestApprovalResponse(decision="accept")
    assert obs.drops.total == 0


def test_object_decisions_and_every_answer_type_decode_with_the_request_type() -> None:
    obs = WireObserver(0, families=FAMILIES)
    file_params = {"threadId": "th", "turnId": "tu", "itemId": "p", "startedAtMs": 5}
    perm_params = {**file_params, "cwd": "/", "permissions": {"network": {"enabled": True}}}
    facts = feed(
        obs,
        command_request(1),
        client_answer(
            1, {"decision": {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["ls"]}}}, 2
        ),
        line(S2C, {"method": "item/fileChange/requestApproval", "id": 2, "params": file_params}),
        client_answer(2, {"decision": "acceptForSession"}, 3),
        line(S2C, {"method": "item/permissions/requestApproval", "id": 3, "params": perm_params}),
        client_answer(3, {"permissions": {"network": {"enabled": True}}, "scope": "session"}, 4),
    )
    answers = [f.response for f in facts if isinstance(f, ServerResponse)]
    assert isinstance(answers[0].decision, t.CommandDecisionObject)
    assert answers[0].decision.accept_with_execpolicy_amendment is not None
    assert answers[1] == t.FileChangeRequestApprovalResponse(decision="acceptForSession")
    assert isinstance(answers[2], t.PermissionsRequestApprovalResponse)
    assert (answers[2].scope, answers[2].permissions.network_enabled) == ("session", True)
    requests = [f.params for f in facts if isinstance(f, ServerRequest)]
    assert isinstance(requests[2], t.PermissionsRequestApprovalParams)
    assert requests[2].permissions.network_enabled


def test_error_answer_becomes_a_response_without_result() -> None:
    obs = WireObserver(0, families=FAMILIES)
    error = {"id": 7, "error": {"code": -32000, "message": "client crashed"}}
    facts = feed(obs, command_request(7), line(C2S, error, 1_200))
    assert isinstance(facts[1], ServerResponse)
    assert (facts[1].response, facts[1].completed_at_ms) == (None, 1_200)


def test_unrelated_server_requests_make_no_facts() -> None:
    obs = WireObserver(0, families=FAMILIES)
    tool_call = {"threadId": "th", "turnId": "tu", "callId": "c", "tool": "x", "arguments": {}}
    plain_form = {
        "threadId": "th",
        "turnId": "tu",
        "serverName": "demo",
        "mode": "form",
        "message": "Your name?",
        "requestedSchema": {"type": "object", "properties": {}},
    }
    facts = feed(
        obs,
        line(S2C, {"method": "item/tool/call", "id": 0, "params": tool_call}),
        client_answer(0, {"contentItems": [], "success": True}, 2),
        line(S2C, {"method": "mcpServer/elicitation/request", "id": 1, "params": plain_form}),
        client_answer(1, {"action": "accept", "content": {"name": "x"}}, 3),
        resolved(1, 4),
    )
    assert facts == []
    assert obs.drops.total == 0


def test_mcp_tool_call_approval_elicitation() -> None:
    obs = WireObserver(0, families=FAMILIES)
    params = {
        "threadId": "th",
        "turnId": "tu",
        "serverName": "demo",
        "mode": "form",
        "_meta": {"codex_approval_kind": "mcp_tool_call", "tool_name": "save_note"},
        "message": "Allow?",
        "requestedSchema": {"type": "object", "properties": {}},
    }
    facts = feed(
        obs,
        line(S2C, {"method": "mcpServer/elicitation/request", "id": 0, "params": params}, 2_000),
        client_answer(
            0, {"action": "accept", "content": {}, "_meta": {"persist": "session"}}, 2_040
        ),
    )
    request, response = facts
    assert request.params == t.McpToolCallApprovalParams("th", "tu", "demo", "save_note", 2_000)
    assert response.response.action == "accept" and response.response.meta.persist == "session"


def test_resolved_without_answer_is_an_abort_and_a_late_answer_is_counted() -> None:
    obs = WireObserver(0, families=FAMILIES)
    facts = feed(obs, command_request(0), resolved(0, ts=1_300))
    assert facts[1] == ServerRequestAborted(0, 0, 1_300)
    assert feed(obs, client_answer(0, {"decision": "accept"}, 1_400)) == []
    assert obs.drops.counts["orphan client response (no pending server request)"] == 1


def test_turn_completion_aborts_what_it_outlived_before_the_turn_fact() -> None:
    obs = WireObserver(0, families=FAMILIES)
    facts = feed(
        obs,
        command_request(0),
        command_request(1, turnId="other-turn"),
        turn_completed(1_500),
        resolved(0, 1_501),
    )
    kinds = [type(f) for f in facts]
    assert kinds.index(ServerRequestAborted) < kinds.index(TurnCompleted)
    aborts = [f for f in facts if isinstance(f, ServerRequestAborted)]
    assert aborts == [ServerRequestAborted(0, 0, 1_500)]  # the other turn's request waits on
    assert obs.drops.total == 0


def test_two_connections_reuse_request_ids_independently() -> None:
    a, b = WireObserver(1, families=FAMILIES), WireObserver(2, families=FAMILIES)
    feed(a, command_request(0))
    feed(b, command_request(0))
    (answer_b,) = feed(b, client_answer(0, {"decision": "decline"}, 10))
    (abort_a,) = feed(a, resolved(0, 11))
    assert (answer_b.connection_id, answer_b.request_id) == (2, 0)
    assert abort_a == ServerRequestAborted(1, 0, 11)


def _guardian(status: str, action: dict[str, Any], started: int | None = 100) -> dict[str, Any]:
    params: dict[str, Any] = {
        "threadId": "th",
        "turnId": "tu",
        "reviewId": "r-1",
        "targetItemId": "call-1",
        "completedAtMs": 2_345,
        "decisionSource": "agent",
        "review": {"status": status, "riskLevel": "high", "userAuthorization": "low"},
        "action": action,
    }
    if started is not None:
        params["startedAtMs"] = started
    return {"method": "item/autoApprovalReview/completed", "params": params}


def test_guardian_completed_synthesises_guardian_review_then_notification() -> None:
    obs = WireObserver(0, families=FAMILIES)
    started = {
        "method": "item/autoApprovalReview/started",
        "params": {
            "threadId": "th",
            "turnId": "tu",
            "reviewId": "r-1",
            "startedAtMs": 1_200,
            "review": {"status": "inProgress"},
            "action": {"type": "applyPatch", "cwd": "/", "files": ["/a"]},
        },
    }
    action = {
        "type": "networkAccess",
        "target": "https://x",
        "host": "x",
        "protocol": "socks5Tcp",
        "port": 1080,
    }
    facts = feed(obs, line(S2C, started), line(S2C, _guardian("timedOut", action, started=None)))
    guardian, completed = facts
    assert isinstance(guardian, GuardianReview) and isinstance(completed, GuardianReviewCompleted)
    # startedAtMs missing on the completion: the started notification's time is used.
    assert completed.notification.started_at_ms == 1_200
    assert guardian.reviewed_action == ev.NetworkAccessAction("socks5_tcp", 1080)
    assert (guardian.decision, guardian.terminal_status, guardian.failure_reason) == (
        "denied",
        "timed_out",
        "timeout",
    )
    assert (guardian.started_at, guardian.completed_at, guardian.completion_latency_ms) == (
        1,
        2,
        1_145,
    )
    assert (guardian.risk_level, guardian.user_authorization, guardian.outcome) == (
        "high",
        "low",
        None,
    )


def test_guardian_actions_map_to_v_main_variants() -> None:
    cases = [
        (
            {"type": "command", "source": "shell", "command": "x", "cwd": "/"},
            ev.ShellAction("use_default", None),
        ),
        (
            {
                "type": "execve",
                "source": "unifiedExec",
                "program": "/home/alice/secret-project/deploy.sh",
                "argv": [],
                "cwd": "/",
            },
            ev.ExecveAction("unified_exec", "", None),  # never the program path (issue 20)
        ),
        (
            {"type": "mcpToolCall", "server": "s", "toolName": "t", "toolTitle": "T"},
            ev.McpToolCallAction("s", "t", None, None, "T"),
        ),
        ({"type": "requestPermissions", "permissions": {}}, ev.RequestPermissionsAction()),
    ]
    for action, expected in cases:
        (guardian, _) = feed(
            WireObserver(0, families=FAMILIES), line(S2C, _guardian("approved", action))
        )
        assert guardian.reviewed_action == expected
        assert (guardian.decision, guardian.outcome) == ("approved", "allow")


def test_guardian_in_progress_and_write_stdin() -> None:
    obs = WireObserver(0, families=FAMILIES)
    command = {"type": "command", "source": "shell", "command": "x", "cwd": "/"}
    assert feed(obs, line(S2C, _guardian("inProgress", command))) == []
    stdin = {"type": "writeStdin", "approvalId": "a", "processId": "1", "stdin": "y", "cwd": "/"}
    facts = feed(obs, line(S2C, _guardian("denied", stdin)))
    assert [type(f) for f in facts] == [GuardianReviewCompleted]  # no V-main reviewed_action
    assert obs.drops.counts["guardian review: action without a V-main reviewed_action"] == 1


def test_interrupt_capture_aborts_at_turn_completion() -> None:
    """interrupt_pending_approval: the approval is never answered; turn/completed (ts
    1795415228490) arrives before serverRequest/resolved, so the abort takes its time."""
    obs = WireObserver(0, families=FAMILIES)
    facts: list[Any] = []
    for raw in capture_path("interrupt_pending_approval").read_bytes().splitlines():
        facts += obs.observe_line(raw)
    request, abort = review_facts(facts)
    assert isinstance(request, ServerRequest) and request.params.started_at_ms == 1795415228177
    assert abort == ServerRequestAborted(0, 0, 1795415228490)
    assert obs.drops.total == 0


def test_pipeline_emits_one_review_per_capture_approval() -> None:
    pipeline = Pipeline()
    obs = pipeline.connection()
    out = []
    for raw in capture_path("shell_accept").read_bytes().splitlines():
        out += pipeline.observe_line(obs, raw)
    out += pipeline.close(obs)
    assert [e.event_type for e in out].count("codex_review_event") == 1


def test_legacy_guardian_projection_ignores_user_review_responses() -> None:
    """Upstream's review_observation_projection.rs unit test (reducer.md §6.11, §7.2): a user's
    answer to an approval is a user review, never a guardian review — the real shell_accept
    and shell_decline captures give user ``codex_review_event``s and no ``codex_guardian_review``."""
    for name in ("shell_accept", "shell_decline"):
        events = replay_events(capture_path(name))
        types = [e["event_type"] for e in events]
        assert "codex_guardian_review" not in types
        reviewers = [e["event_params"]["reviewer"] for e in events if e["event_type"] == "codex_review_event"]  # fmt: skip
        assert reviewers == ["user"], name
