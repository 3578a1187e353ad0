"""Review reduction, fact by fact (reducer.md §5, §6.5, §7.1 nos. 40–48, decision tables)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from agentlytics.events import reviews as ev
from agentlytics.facts import GuardianReview, RuntimeMetadata
from agentlytics.families import FAMILIES
from agentlytics.protocol import types as t
from agentlytics.reducer.core import Reducer
from agentlytics.reducer.state import MAX_HELD_REVIEWS
from tests.reducer.builders import (
    aborted,
    answer,
    command_approval,
    command_decision,
    command_item,
    completed_command_item,
    file_change_approval,
    guardian_completed,
    initialize,
    item_completed,
    item_started,
    mcp_approval,
    permissions_approval,
    review_prerequisites,
    run,
    thread,
    thread_response,
    turn_completed,
    turn_started,
)


def reviews(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["event_params"] for e in events if e["event_type"] == "codex_review_event"]


def one_review(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert [e["event_type"] for e in events] == ["codex_review_event"]
    params: dict[str, Any] = events[0]["event_params"]
    return params


@pytest.fixture
def reducer() -> Reducer:
    r = Reducer(FAMILIES)
    review_prerequisites(r)
    return r


# --- exact shapes ------------------------------------------------------------------------------


def test_review_event_serializes_expected_shape() -> None:
    """§7.1 no. 40, from facts: a subagent thread's network-access review, approved with a
    network policy amendment (item id and review id come from the request)."""
    r = Reducer(FAMILIES)
    run(
        r,
        initialize(
            name="codex-tui",
            version="1.2.3",
            product="codex_tui",
            experimental=True,
            runtime=RuntimeMetadata("0.99.0", "macos", "15.3.1", "aarch64"),
            transport="websocket",
        ),
        thread_response(
            7,
            1,
            thread(
                "thread-1",
                source={"subAgent": {"thread_spawn": {"parent_thread_id": "parent-thread-1"}}},
                thread_source="subagent",
                parent="parent-thread-1",
            ),
        ),
    )
    request = command_approval(
        41,
        started_at_ms=123,
        network_approval_context=msgspec.Raw(b'{"host":"example.com","protocol":"https"}'),
    )
    decision = {
        "applyNetworkPolicyAmendment": {
            "network_policy_amendment": {"action": "allow", "host": "example.com"}
        }
    }
    events = run(r, request, answer(41, command_decision(decision), at=125))
    assert events == [
        {
            "event_type": "codex_review_event",
            "event_params": {
                "thread_id": "thread-1",
                "turn_id": "turn-1",
                "item_id": "item-1",
                "review_id": "user:41",
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
        }
    ]


def _guardian_fact(**overrides: Any) -> GuardianReview:
    values: dict[str, Any] = {
        "thread_id": "thread-guardian",
        "turn_id": "turn-guardian",
        "review_id": "review-guardian",
        "target_item_id": None,
        "approval_request_source": "delegated_subagent",
        "reviewed_action": ev.NetworkAccessAction("https", 443),
        "reviewed_action_truncated": False,
        "decision": "denied",
        "terminal_status": "timed_out",
        "failure_reason": "timeout",
        "attempt_count": 1,
        "risk_level": None,
        "user_authorization": None,
        "outcome": None,
        "started_at": 100,
        "completed_at": 190,
        "completion_latency_ms": 90_000,
        "review_timeout_ms": 90_000,
    }
    values.update(overrides)
    return GuardianReview(**values)


def test_guardian_review_event_ingests_custom_fact_with_optional_target_item() -> None:
    """§7.1 no. 48: the exact ``codex_guardian_review`` JSON."""
    r = Reducer(FAMILIES)
    run(
        r,
        initialize(product="codex_cli_rs", transport="websocket"),
        thread_response(7, 1, thread("thread-guardian")),
    )
    events = run(r, _guardian_fact())
    assert events == [
        {
            "event_type": "codex_guardian_review",
            "event_params": {
                "session_id": "session-thread-guardian",
                "app_server_client": {
                    "product_client_id": "codex_cli_rs",
                    "client_name": "codex-tui",
                    "client_version": "1.0.0",
                    "rpc_transport": "websocket",
                    "experimental_api_enabled": None,
                },
                "runtime": {
                    "codex_rs_version": "0.1.0",
                    "runtime_os": "macos",
                    "runtime_os_version": "15.3.1",
                    "runtime_arch": "aarch64",
                },
                "thread_id": "thread-guardian",
                "turn_id": "turn-guardian",
                "review_id": "review-guardian",
                "target_item_id": None,
                "approval_request_source": "delegated_subagent",
                "reviewed_action": {"type": "network_access", "protocol": "https", "port": 443},
                "reviewed_action_truncated": False,
                "decision": "denied",
                "terminal_status": "timed_out",
                "failure_reason": "timeout",
                "attempt_count": 1,
                "risk_level": None,
                "user_authorization": None,
                "outcome": None,
                "guardian_thread_id": None,
                "guardian_session_kind": None,
                "guardian_model": None,
                "guardian_reasoning_effort": None,
                "guardian_default_review_model_id": None,
                "guardian_catalog_contains_auto_review": None,
                "guardian_review_model_overridden": None,
                "guardian_review_model_override": None,
                "guardian_model_provider_id": None,
                "had_prior_review_context": None,
                "review_timeout_ms": 90000,
                "tool_call_count": None,
                "time_to_first_token_ms": None,
                "completion_latency_ms": 90000,
                "started_at": 100,
                "completed_at": 190,
                "input_tokens": None,
                "cached_input_tokens": None,
                "cache_write_input_tokens": None,
                "output_tokens": None,
                "reasoning_output_tokens": None,
                "total_tokens": None,
            },
        }
    ]
    params = events[0]["event_params"]
    for absent in ("retry_reason", "rationale"):
        assert absent not in params
    assert "target" not in params["reviewed_action"] and "host" not in params["reviewed_action"]


def test_guardian_fact_derives_request_source_from_the_thread() -> None:
    r = Reducer(FAMILIES)
    review_prerequisites(r)
    run(r, thread_response(7, 9, thread("child", parent="thread-1", thread_source="subagent")))
    main = run(r, _guardian_fact(thread_id="thread-1", approval_request_source=None))
    child = run(r, _guardian_fact(thread_id="child", approval_request_source=None))
    assert main[0]["event_params"]["approval_request_source"] == "main_turn"
    assert child[0]["event_params"]["approval_request_source"] == "delegated_subagent"


def test_guardian_fact_without_thread_context_is_a_counted_drop() -> None:
    r = Reducer(FAMILIES)
    assert run(r, _guardian_fact()) == []
    assert r.state.drops["guardian: missing thread_connection"] == 1


# --- §7.1 nos. 41–47 ----------------------------------------------------------------------------


def test_command_execution_approval_response_publishes_user_review_event(
    reducer: Reducer,
) -> None:
    assert run(reducer, command_approval(41)) == []
    review = one_review(run(reducer, answer(41, command_decision("accept"), at=1042)))
    assert review["review_id"] == "user:41"
    assert (review["thread_id"], review["turn_id"], review["item_id"]) == (
        "thread-1",
        "turn-1",
        "item-1",
    )
    assert review["thread_source"] == "user"
    assert (review["subject_kind"], review["subject_name"]) == (
        "command_execution",
        "command_execution",
    )
    assert (review["reviewer"], review["trigger"], review["status"]) == (
        "user",
        "initial",
        "approved",
    )
    assert (review["started_at_ms"], review["completed_at_ms"], review["duration_ms"]) == (
        1000,
        1042,
        42,
    )


def test_permissions_reviews_emit_events_without_denormalizing_onto_tool_items(
    reducer: Reducer,
) -> None:
    assert run(reducer, permissions_approval(51)) == []
    empty = t.PermissionsRequestApprovalResponse(permissions=t.PermissionProfile(), scope="turn")
    review = one_review(run(reducer, answer(51, empty)))
    assert (review["review_id"], review["subject_kind"], review["reviewer"]) == (
        "user:51",
        "permissions",
        "user",
    )
    assert (review["status"], review["resolution"]) == ("denied", "none")
    (tool,) = completed_command_item(reducer, item_id="permissions-1")
    assert tool["event_params"]["item_id"] == "permissions-1"
    counts = [
        tool["event_params"][k]
        for k in ("review_count", "user_review_count", "guardian_review_count")
    ]
    assert counts == [0, 0, 0]


def test_effective_session_permissions_response_publishes_session_user_review_event(
    reducer: Reducer,
) -> None:
    run(reducer, permissions_approval(52))
    granted = t.PermissionsRequestApprovalResponse(
        permissions=t.PermissionProfile(network=t.NetworkPermissions(enabled=True)),
        scope="session",
    )
    review = one_review(run(reducer, answer(52, granted)))
    assert [
        review[k] for k in ("review_id", "subject_kind", "reviewer", "status", "resolution")
    ] == [
        "user:52",
        "permissions",
        "user",
        "approved",
        "session_approval",
    ]


def test_aborted_server_request_publishes_aborted_user_review_event_once(reducer: Reducer) -> None:
    run(reducer, command_approval(61))
    review = one_review(run(reducer, aborted(61, at=1042)))
    assert (review["review_id"], review["status"], review["resolution"]) == (
        "user:61",
        "aborted",
        "none",
    )
    assert run(reducer, answer(61, command_decision("accept"), at=1043)) == []
    assert reducer.state.drops["review: answer or abort after the review finished"] == 1


def test_guardian_completed_notification_publishes_review_event_with_thread_metadata(
    reducer: Reducer,
) -> None:
    review = one_review(run(reducer, guardian_completed("guardian-review-1", "item-1", "denied")))
    assert [review[k] for k in ("review_id", "item_id", "thread_source", "subject_kind")] == [
        "guardian-review-1",
        "item-1",
        "user",
        "command_execution",
    ]
    assert (review["reviewer"], review["status"], review["resolution"]) == (
        "guardian",
        "denied",
        "none",
    )
    assert (review["started_at_ms"], review["completed_at_ms"], review["duration_ms"]) == (
        1000,
        1042,
        42,
    )
    assert review["command_source"] == "shell"


def test_terminal_reviews_denormalize_counts_onto_tool_item_events(reducer: Reducer) -> None:
    run(reducer, command_approval(71), answer(71, command_decision("acceptForSession")))
    (tool,) = completed_command_item(reducer)
    p = tool["event_params"]
    assert (p["review_count"], p["user_review_count"], p["guardian_review_count"]) == (1, 1, 0)
    assert p["final_approval_outcome"] == "user_approved_for_session"


def test_item_review_summaries_do_not_cross_threads_with_reused_item_ids() -> None:
    r = Reducer(FAMILIES)
    review_prerequisites(r, "thread-1", "thread-2")
    run(r, command_approval(72), answer(72, command_decision("accept")))
    (tool,) = completed_command_item(r, "thread-2", "item-1")
    p = tool["event_params"]
    assert (p["thread_id"], p["item_id"]) == ("thread-2", "item-1")
    assert (p["review_count"], p["user_review_count"], p["guardian_review_count"]) == (0, 0, 0)
    assert p["final_approval_outcome"] == "unknown"


# --- decision tables (§5.2) ---------------------------------------------------------------------

_NETWORK = {"network_policy_amendment": {"action": "allow", "host": "example.com"}}
_NETWORK_DENY = {"network_policy_amendment": {"action": "deny", "host": "example.com"}}


@pytest.mark.parametrize(
    ("decision", "status", "resolution", "outcome"),
    [
        ("accept", "approved", "none", "user_approved"),
        ("acceptForSession", "approved", "session_approval", "user_approved_for_session"),
        (
            {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["ls"]}},
            "approved",
            "exec_policy_amendment",
            "user_approved",
        ),
        (
            {"applyNetworkPolicyAmendment": _NETWORK},
            "approved",
            "network_policy_amendment",
            "user_approved",
        ),
        (
            {"applyNetworkPolicyAmendment": _NETWORK_DENY},
            "denied",
            "network_policy_amendment",
            "user_denied",
        ),
        ("decline", "denied", "none", "user_denied"),
        ("cancel", "aborted", "none", "user_aborted"),
    ],
)
def test_command_decision_table(
    reducer: Reducer, decision: Any, status: str, resolution: str, outcome: str
) -> None:
    run(reducer, command_approval(1))
    review = one_review(run(reducer, answer(1, command_decision(decision))))
    assert (review["status"], review["resolution"]) == (status, resolution)
    (tool,) = completed_command_item(reducer)
    assert tool["event_params"]["final_approval_outcome"] == outcome


@pytest.mark.parametrize(
    ("decision", "status", "resolution", "outcome"),
    [
        ("accept", "approved", "none", "user_approved"),
        ("acceptForSession", "approved", "session_approval", "user_approved_for_session"),
        ("decline", "denied", "none", "user_denied"),
        ("cancel", "aborted", "none", "user_aborted"),
    ],
)
def test_file_change_decision_table(
    reducer: Reducer, decision: str, status: str, resolution: str, outcome: str
) -> None:
    run(reducer, file_change_approval(2))
    response = t.FileChangeRequestApprovalResponse(decision=decision)
    review = one_review(run(reducer, answer(2, response)))
    assert (review["subject_kind"], review["subject_name"]) == ("file_change", "apply_patch")
    assert (review["status"], review["resolution"], review["trigger"]) == (
        status,
        resolution,
        "initial",
    )
    assert review["command_source"] is None
    patch = t.FileChangeItem(id="item-1", status="completed")
    events = run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started("thread-1", "turn-1", "fileChange", patch),
        item_completed("thread-1", "turn-1", "fileChange", patch),
    )
    assert events[0]["event_params"]["final_approval_outcome"] == outcome
    assert events[0]["event_params"]["user_review_count"] == 1


@pytest.mark.parametrize(
    ("permissions", "scope", "status", "resolution"),
    [
        (t.PermissionProfile(), "turn", "denied", "none"),
        (t.PermissionProfile(), "session", "denied", "none"),
        (t.PermissionProfile(network=t.NetworkPermissions(enabled=None)), "turn", "denied", "none"),
        (
            t.PermissionProfile(network=t.NetworkPermissions(enabled=True)),
            "turn",
            "approved",
            "none",
        ),
        (
            t.PermissionProfile(network=t.NetworkPermissions(enabled=False)),
            "session",
            "approved",
            "session_approval",
        ),
        (
            t.PermissionProfile(
                file_system=t.FileSystemPermissions(write=[msgspec.Raw(b'"/repo"')])
            ),
            "session",
            "approved",
            "session_approval",
        ),
        (t.PermissionProfile(file_system=t.FileSystemPermissions()), "turn", "denied", "none"),
    ],
)
def test_permissions_decision_table(
    reducer: Reducer, permissions: t.PermissionProfile, scope: str, status: str, resolution: str
) -> None:
    run(reducer, permissions_approval(3))
    response = t.PermissionsRequestApprovalResponse(permissions=permissions, scope=scope)
    review = one_review(run(reducer, answer(3, response)))
    assert (review["status"], review["resolution"]) == (status, resolution)


def test_error_answer_is_an_aborted_review(reducer: Reducer) -> None:
    run(reducer, command_approval(4))
    review = one_review(run(reducer, answer(4, None, at=1500)))
    assert (review["status"], review["resolution"], review["completed_at_ms"]) == (
        "aborted",
        "none",
        1500,
    )


def test_unknown_decision_is_counted_and_ends_the_review(reducer: Reducer) -> None:
    run(reducer, command_approval(5))
    assert run(reducer, answer(5, command_decision("acceptTomorrow"))) == []
    assert reducer.state.drops["review: unknown approval decision"] == 1
    assert run(reducer, answer(5, command_decision("accept"))) == []
    assert reducer.state.drops["review: answer or abort after the review finished"] == 1


@pytest.mark.parametrize(
    ("action", "persist", "status", "resolution", "outcome"),
    [
        ("accept", None, "approved", "none", "user_approved"),
        ("accept", "session", "approved", "session_approval", "user_approved_for_session"),
        ("accept", "always", "approved", "session_approval", "user_approved_for_session"),
        ("decline", None, "denied", "none", "user_denied"),
        ("cancel", None, "aborted", "none", "user_aborted"),
    ],
)
def test_mcp_tool_call_approval_table(
    reducer: Reducer, action: str, persist: str | None, status: str, resolution: str, outcome: str
) -> None:
    call = t.McpToolCallItem(id="call-save", server="demo", tool="save_note", status="inProgress")
    done = t.McpToolCallItem(id="call-save", server="demo", tool="save_note", status="completed")
    other = t.McpToolCallItem(id="call-look", server="demo", tool="lookup", status="inProgress")
    run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started("thread-1", "turn-1", "mcpToolCall", call),
        item_started("thread-1", "turn-1", "mcpToolCall", other),
        mcp_approval(6, "save_note", started_at_ms=1010),
    )
    meta = t.McpElicitationResponseMeta(persist=persist) if persist else None
    response = t.McpServerElicitationRequestResponse(action=action, meta=meta)
    review = one_review(run(reducer, answer(6, response, at=1030)))
    assert [review[k] for k in ("item_id", "subject_kind", "subject_name", "trigger")] == [
        "call-save",
        "mcp_tool_call",
        "save_note",
        "initial",
    ]
    assert (review["status"], review["resolution"], review["duration_ms"]) == (
        status,
        resolution,
        20,
    )
    (tool,) = run(reducer, item_completed("thread-1", "turn-1", "mcpToolCall", done))
    assert tool["event_params"]["final_approval_outcome"] == outcome
    assert tool["event_params"]["review_count"] == 1


def test_mcp_approval_without_turn_finds_the_open_call(reducer: Reducer) -> None:
    call = t.McpToolCallItem(id="call-save", server="demo", tool="save_note")
    run(
        reducer,
        turn_started("thread-1", "turn-9"),
        item_started("thread-1", "turn-9", "mcpToolCall", call),
        mcp_approval(7, "save_note", turn_id=None),
    )
    review = one_review(run(reducer, answer(7, t.McpServerElicitationRequestResponse("accept"))))
    assert (review["turn_id"], review["item_id"]) == ("turn-9", "call-save")


def test_mcp_approval_with_no_matching_call_has_no_item(reducer: Reducer) -> None:
    run(reducer, mcp_approval(8, "save_note"))
    review = one_review(run(reducer, answer(8, t.McpServerElicitationRequestResponse("decline"))))
    assert (review["item_id"], review["subject_name"], review["status"]) == (
        None,
        "save_note",
        "denied",
    )
    run(reducer, mcp_approval(9, "save_note", turn_id=None))
    assert reducer.state.drops["review: MCP approval outside any turn"] == 1


# --- triggers and flags (§5.1) ------------------------------------------------------------------


def _review_of(reducer: Reducer, request: Any) -> dict[str, Any]:
    run(reducer, request)
    return one_review(run(reducer, answer(request.request_id, command_decision("accept"))))


@pytest.mark.parametrize(
    ("params", "kind", "name", "trigger", "additional", "network"),
    [
        ({}, "command_execution", "command_execution", "initial", False, False),
        (
            {"approval_id": "approval-1"},
            "command_execution",
            "command_execution",
            "execve_intercept",
            False,
            False,
        ),
        (
            {"network_approval_context": msgspec.Raw(b'{"host":"h","protocol":"http"}')},
            "network_access",
            "network_access",
            "network_policy_denial",
            False,
            True,
        ),
        (
            {"proposed_network_policy_amendments": [t.NetworkPolicyAmendment("allow")]},
            "command_execution",
            "command_execution",
            "network_policy_denial",
            False,
            True,
        ),
        (
            {"additional_permissions": t.PermissionProfile(file_system=t.FileSystemPermissions())},
            "command_execution",
            "command_execution",
            "sandbox_denial",
            True,
            False,
        ),
        (
            {
                "additional_permissions": t.PermissionProfile(
                    network=t.NetworkPermissions(enabled=True)
                )
            },
            "command_execution",
            "command_execution",
            "network_policy_denial",
            True,
            True,
        ),
        (
            {"kind": "writeStdin", "approval_id": "stdin-1"},
            "command_execution",
            "write_stdin",
            "initial",
            False,
            False,
        ),
    ],
)
def test_command_request_subject_trigger_and_flags(
    reducer: Reducer,
    params: dict[str, Any],
    kind: str,
    name: str,
    trigger: str,
    additional: bool,
    network: bool,
) -> None:
    review = _review_of(reducer, command_approval(10, **params))
    assert (review["subject_kind"], review["subject_name"], review["trigger"]) == (
        kind,
        name,
        trigger,
    )
    (tool,) = completed_command_item(reducer)
    p = tool["event_params"]
    counted = kind == "command_execution" and name == "command_execution"
    assert p["review_count"] == (1 if counted else 0)
    assert (p["requested_additional_permissions"], p["requested_network_access"]) == (
        (additional, network) if counted else (False, False)
    )


def test_file_change_grant_root_is_a_sandbox_denial(reducer: Reducer) -> None:
    run(reducer, file_change_approval(11, grant_root="/repo"))
    review = one_review(run(reducer, answer(11, t.FileChangeRequestApprovalResponse("accept"))))
    assert review["trigger"] == "sandbox_denial"
    patch = t.FileChangeItem(id="item-1", status="completed")
    (tool,) = run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started("thread-1", "turn-1", "fileChange", patch),
        item_completed("thread-1", "turn-1", "fileChange", patch),
    )
    assert tool["event_params"]["requested_additional_permissions"] is True
    assert tool["event_params"]["requested_network_access"] is False


@pytest.mark.parametrize(
    ("permissions", "trigger"),
    [
        (t.PermissionProfile(network=t.NetworkPermissions(enabled=True)), "network_policy_denial"),
        (t.PermissionProfile(file_system=t.FileSystemPermissions()), "sandbox_denial"),
        (t.PermissionProfile(), "initial"),
    ],
)
def test_permissions_request_trigger(
    reducer: Reducer, permissions: t.PermissionProfile, trigger: str
) -> None:
    run(reducer, permissions_approval(12, permissions))
    review = one_review(run(reducer, aborted(12)))
    assert (review["subject_name"], review["trigger"], review["status"]) == (
        "permissions",
        trigger,
        "aborted",
    )


def test_negative_started_at_is_ignored_and_negative_duration_is_null(reducer: Reducer) -> None:
    assert run(reducer, command_approval(13, started_at_ms=-1), aborted(13)) == []
    assert reducer.state.drops["review: negative startedAtMs"] == 1
    run(reducer, command_approval(14, started_at_ms=2000))
    review = one_review(run(reducer, answer(14, command_decision("accept"), at=1999)))
    assert (review["started_at_ms"], review["completed_at_ms"], review["duration_ms"]) == (
        2000,
        1999,
        None,
    )


# --- guardian (§5.2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected", "outcome"),
    [
        ("approved", "approved", "guardian_approved"),
        ("denied", "denied", "guardian_denied"),
        ("timedOut", "timed_out", "guardian_aborted"),
        ("aborted", "aborted", "guardian_aborted"),
    ],
)
def test_guardian_status_table(reducer: Reducer, status: str, expected: str, outcome: str) -> None:
    review = one_review(run(reducer, guardian_completed("g-1", "item-1", status)))
    assert (review["status"], review["resolution"]) == (expected, "none")
    (tool,) = completed_command_item(reducer)
    p = tool["event_params"]
    assert (p["review_count"], p["guardian_review_count"], p["user_review_count"]) == (1, 1, 0)
    assert p["final_approval_outcome"] == outcome


def test_guardian_in_progress_is_ignored(reducer: Reducer) -> None:
    assert run(reducer, guardian_completed("g-1", "item-1", "inProgress")) == []
    (tool,) = completed_command_item(reducer)
    assert tool["event_params"]["review_count"] == 0


_MCP_ACTION = {"type": "mcpToolCall", "server": "demo", "toolName": "save_note"}


@pytest.mark.parametrize(
    ("action", "kind", "name", "trigger", "source"),
    [
        (
            {"type": "command", "source": "unifiedExec", "command": "ls", "cwd": "/"},
            "command_execution",
            "command_execution",
            "initial",
            "unified_exec",
        ),
        (
            {"type": "execve", "source": "shell", "program": "git", "argv": [], "cwd": "/"},
            "command_execution",
            "command_execution",
            "execve_intercept",
            "shell",
        ),
        (
            {"type": "writeStdin", "approvalId": "a", "processId": "1", "stdin": "y", "cwd": "/"},
            "command_execution",
            "write_stdin",
            "initial",
            "unified_exec",
        ),
        (
            {"type": "applyPatch", "cwd": "/", "files": []},
            "file_change",
            "apply_patch",
            "sandbox_denial",
            None,
        ),
        (
            {"type": "networkAccess", "target": "t", "host": "h", "protocol": "https", "port": 443},
            "network_access",
            "network_access",
            "network_policy_denial",
            None,
        ),
        (_MCP_ACTION, "mcp_tool_call", "save_note", "initial", None),
        (
            {"type": "requestPermissions", "permissions": {"network": {"enabled": True}}},
            "permissions",
            "permissions",
            "network_policy_denial",
            None,
        ),
        (
            {"type": "requestPermissions", "permissions": {"fileSystem": {"write": ["/x"]}}},
            "permissions",
            "permissions",
            "sandbox_denial",
            None,
        ),
        (
            {"type": "requestPermissions", "permissions": {}},
            "permissions",
            "permissions",
            "initial",
            None,
        ),
    ],
)
def test_guardian_action_table(
    reducer: Reducer,
    action: dict[str, Any],
    kind: str,
    name: str,
    trigger: str,
    source: str | None,
) -> None:
    review = one_review(run(reducer, guardian_completed("g-2", None, "approved", action)))
    assert [review[k] for k in ("subject_kind", "subject_name", "trigger", "command_source")] == [
        kind,
        name,
        trigger,
        source,
    ]
    assert review["item_id"] is None


@pytest.mark.parametrize(
    ("action", "counted", "additional", "network"),
    [
        ({"type": "applyPatch", "cwd": "/", "files": []}, True, True, False),
        (
            {"type": "networkAccess", "target": "t", "host": "h", "protocol": "http", "port": 80},
            False,
            True,
            True,
        ),
        (
            {"type": "requestPermissions", "permissions": {"network": {"enabled": True}}},
            False,
            True,
            True,
        ),
        (
            {"type": "writeStdin", "approvalId": "a", "processId": "1", "stdin": "y", "cwd": "/"},
            False,
            False,
            False,
        ),
        (_MCP_ACTION, True, False, False),
    ],
)
def test_guardian_denormalization_and_flags(
    reducer: Reducer, action: dict[str, Any], counted: bool, additional: bool, network: bool
) -> None:
    """Only command, file-change and MCP guardian reviews with a target land on the item."""
    run(reducer, guardian_completed("g-3", "item-1", "approved", action))
    summary = reducer.state.item_reviews.get(("thread-1", "turn-1", "item-1"))
    if not counted:
        assert summary is None
        return
    assert summary is not None
    assert (summary.review_count, summary.guardian_review_count) == (1, 1)
    assert (summary.requested_additional_permissions, summary.requested_network_access) == (
        additional,
        network,
    )


def test_guardian_negative_timestamps_are_ignored(reducer: Reducer) -> None:
    assert run(reducer, guardian_completed("g-4", "item-1", "approved", completed_at_ms=-5)) == []
    assert reducer.state.item_reviews.get(("thread-1", "turn-1", "item-1")) is None


# --- ordering, lifetimes, isolation -------------------------------------------------------------


def test_command_review_waits_for_the_items_final_source(reducer: Reducer) -> None:
    """Codex answers before the command runs; the item's real source comes with its completion."""
    placeholder = command_item("item-1", "inProgress", source="agent")
    run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started("thread-1", "turn-1", "commandExecution", placeholder),
        command_approval(20),
    )
    assert run(reducer, answer(20, command_decision("accept"))) == []  # held: item still running
    done = command_item("item-1", source="unifiedExecStartup")
    events = run(reducer, item_completed("thread-1", "turn-1", "commandExecution", done, at=1100))
    assert [e["event_type"] for e in events] == [
        "codex_review_event",
        "codex_command_execution_event",
    ]
    assert events[0]["event_params"]["command_source"] == "unified_exec"
    assert events[0]["event_params"]["completed_at_ms"] == 1042  # the answer's time, not the item's
    assert events[1]["event_params"]["tool_name"] == "unified_exec"
    assert events[1]["event_params"]["review_count"] == 1


def test_held_review_is_released_by_its_turn_with_the_last_source(reducer: Reducer) -> None:
    running = command_item("item-1", "inProgress", source="userShell")
    run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started("thread-1", "turn-1", "commandExecution", running),
        command_approval(21),
        aborted(21, at=1300),
    )
    events = run(reducer, turn_completed("thread-1", "turn-1", "interrupted"))
    (review,) = reviews(events)
    assert (review["status"], review["command_source"], review["completed_at_ms"]) == (
        "aborted",
        "user_shell",
        1300,
    )


def test_held_reviews_are_released_when_the_connection_closes(reducer: Reducer) -> None:
    from agentlytics.facts import ConnectionClosed

    run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started(
            "thread-1", "turn-1", "commandExecution", command_item("item-1", "inProgress")
        ),
        command_approval(22),
        answer(22, command_decision("decline")),
        command_approval(23, item_id="item-2"),
    )
    events = run(reducer, ConnectionClosed(7))
    (review,) = reviews(events)
    assert (review["review_id"], review["status"]) == ("user:22", "denied")
    assert reducer.state.drops["review: request unanswered when its connection closed"] == 1
    assert not reducer.state.pending_reviews and not reducer.state.held_reviews


def test_held_reviews_are_bounded_and_emitted_not_dropped(reducer: Reducer) -> None:
    run(reducer, turn_started("thread-1", "turn-1"))
    emitted = 0
    for i in range(MAX_HELD_REVIEWS + 3):
        item = command_item(f"item-{i}", "inProgress")
        emitted += len(
            run(
                reducer,
                item_started("thread-1", "turn-1", "commandExecution", item),
                command_approval(i, item_id=f"item-{i}"),
                answer(i, command_decision("accept")),
            )
        )
    assert emitted == 3
    assert len(reducer.state.held_reviews) == MAX_HELD_REVIEWS
    assert reducer.state.evictions["held reviews (emitted early)"] == 3


def test_review_completed_after_its_turn_ended(reducer: Reducer) -> None:
    run(
        reducer,
        turn_started("thread-1", "turn-1"),
        item_started(
            "thread-1", "turn-1", "commandExecution", command_item("item-1", "inProgress")
        ),
        command_approval(30),
        turn_completed("thread-1", "turn-1"),
    )
    review = one_review(run(reducer, answer(30, command_decision("accept"), at=5000)))
    assert (
        review["turn_id"],
        review["status"],
        review["completed_at_ms"],
        review["duration_ms"],
    ) == (
        "turn-1",
        "approved",
        5000,
        4000,
    )
    assert review["command_source"] is None  # the item's record left with its turn


def test_two_threads_on_two_connections_with_interleaved_approvals() -> None:
    """Each connection numbers its server requests from 0: the ids must not collide."""
    r = Reducer(FAMILIES)
    run(
        r,
        initialize(conn=7),
        thread_response(7, 1, thread("thread-a")),
        initialize(conn=8, name="codex-web"),
        thread_response(8, 1, thread("thread-b")),
    )
    run(
        r,
        command_approval(0, thread_id="thread-a", turn_id="turn-a", item_id="item-1", conn=7),
        command_approval(0, thread_id="thread-b", turn_id="turn-b", item_id="item-1", conn=8),
    )
    b = one_review(run(r, answer(0, command_decision("decline"), at=1100, conn=8)))
    a = one_review(run(r, answer(0, command_decision("accept"), at=1200, conn=7)))
    assert (a["thread_id"], a["status"], a["app_server_client"]["client_name"]) == (
        "thread-a",
        "approved",
        "codex-tui",
    )
    assert (b["thread_id"], b["status"], b["app_server_client"]["client_name"]) == (
        "thread-b",
        "denied",
        "codex-web",
    )
    assert r.state.item_reviews[("thread-a", "turn-a", "item-1")].final_approval_outcome == (
        "user_approved"
    )
    assert r.state.item_reviews[("thread-b", "turn-b", "item-1")].final_approval_outcome == (
        "user_denied"
    )


def test_duplicate_and_out_of_order_answers_are_counted_never_emitted_twice(
    reducer: Reducer,
) -> None:
    # An answer before its request is unknown; the request then waits for a real answer.
    assert run(reducer, answer(40, command_decision("accept"))) == []
    assert reducer.state.drops["review: answer or abort without a pending request"] == 1
    run(reducer, command_approval(40))
    assert len(reviews(run(reducer, answer(40, command_decision("accept"))))) == 1
    assert run(reducer, answer(40, command_decision("accept"))) == []
    assert run(reducer, answer(40, command_decision("decline"))) == []
    assert run(reducer, aborted(40)) == []
    assert reducer.state.drops["review: answer or abort after the review finished"] == 3
    (tool,) = completed_command_item(reducer)
    assert tool["event_params"]["review_count"] == 1


def test_review_event_dropped_without_thread_context_still_counts_on_the_item() -> None:
    r = Reducer(FAMILIES)
    run(r, initialize())
    run(r, command_approval(50), answer(50, command_decision("accept")))
    assert r.state.drops["review: missing thread_connection"] == 1
    assert r.state.item_reviews[("thread-1", "turn-1", "item-1")].review_count == 1


def test_pending_reviews_leave_with_their_thread() -> None:
    from agentlytics.facts import ThreadClosed

    r = Reducer(FAMILIES)
    review_prerequisites(r)
    run(r, command_approval(60), ThreadClosed(7, "thread-1"))
    assert not r.state.pending_reviews
    assert r.state.drops["review: request unanswered when its thread closed"] == 1


def test_guardian_review_result_maps_terminal_statuses(reducer: Reducer) -> None:
    """Upstream's [G] reducer unit test (reducer.md §7.2): ``inProgress`` is no result (no
    event); ``timedOut`` → status ``timed_out``, resolution ``none``."""
    assert run(reducer, guardian_completed("guardian-review-0", "item-1", "inProgress")) == []
    review = one_review(run(reducer, guardian_completed("guardian-review-1", "item-1", "timedOut")))
    assert (review["reviewer"], review["status"], review["resolution"]) == (
        "guardian",
        "timed_out",
        "none",
    )
