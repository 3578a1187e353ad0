"""Review fields of every capture with approvals, derived by reading the capture by hand.

``started_at_ms`` is the request's ``startedAtMs`` (guardian: the notification's), and
``completed_at_ms`` the ``ts_ms`` of the client's answer line (aborts: of the line that ended the
request; guardian: ``completedAtMs``). Each capture has exactly one approval, request id 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentlytics.query import Filters, open_store
from agentlytics.query.reports import approvals
from tests.helpers import capture_path, replay_events

FIELDS = (
    "review_id",
    "item_id",
    "subject_kind",
    "subject_name",
    "reviewer",
    "trigger",
    "status",
    "resolution",
    "started_at_ms",
    "completed_at_ms",
    "duration_ms",
    "command_source",
)

#: capture → (review fields, final_approval_outcome on the reviewed item's tool event or None).
EXPECTED: dict[str, tuple[tuple[Any, ...], str | None]] = {
    # request seq 19 startedAtMs …117; answer seq 20 ts …120 "accept"; item completes as
    # unifiedExecStartup.
    "shell_accept": (
        ("user:0", "call-shell-1", "command_execution", "command_execution", "user", "initial",
         "approved", "none", 1795415223117, 1795415223120, 3, "unified_exec"),
        "user_approved",
    ),
    # answer seq 20 ts …094 "decline"; the declined item keeps source agent.
    "shell_decline": (
        ("user:0", "call-shell-1", "command_execution", "command_execution", "user", "initial",
         "denied", "none", 1795415224091, 1795415224094, 3, "shell"),
        "user_denied",
    ),
    # answer seq 20 ts …412 "cancel".
    "shell_cancel": (
        ("user:0", "call-note-1", "command_execution", "command_execution", "user", "initial",
         "aborted", "none", 1795421807410, 1795421807412, 2, "shell"),
        "user_aborted",
    ),
    # answer seq 20 ts …333 "acceptForSession"; the item completes as unifiedExecStartup.
    "shell_accept_for_session": (
        ("user:0", "call-note-1", "command_execution", "command_execution", "user", "initial",
         "approved", "session_approval", 1795421808331, 1795421808333, 2, "unified_exec"),
        "user_approved_for_session",
    ),
    # fileChange request seq 25 startedAtMs …085, grantRoot null; answer seq 26 ts …085.
    "apply_patch_accept": (
        ("user:0", "call-patch-1", "file_change", "apply_patch", "user", "initial", "approved",
         "none", 1795415226085, 1795415226085, 0, None),
        "user_approved",
    ),
    # never answered: turn/completed (seq 22, ts …490) precedes serverRequest/resolved.
    "interrupt_pending_approval": (
        ("user:0", "call-shell-int", "command_execution", "command_execution", "user",
         "initial", "aborted", "none", 1795415228177, 1795415228490, 313, "shell"),
        None,
    ),
    # elicitation seq 24 ts …102 (no startedAtMs: observation time), _meta.tool_name
    # save_note; answer seq 25 ts …102 "accept"; open item call-mcp-save (demo/save_note).
    "mcp_tool_call": (
        ("user:0", "call-mcp-save", "mcp_tool_call", "save_note", "user", "initial",
         "approved", "none", 1795415250102, 1795415250102, 0, None),
        "user_approved",
    ),
    # guardian: startedAtMs …461, completedAtMs …503, command action source unifiedExec.
    "auto_review_allow": (
        ("1d2d5bb0-90c8-4df6-ada1-db5a5b88930f", "call-guarded", "command_execution",
         "command_execution", "guardian", "initial", "approved", "none", 1795415245461,
         1795415245503, 42, "unified_exec"),
        "guardian_approved",
    ),
    # guardian applyPatch: startedAtMs …810, completedAtMs …850.
    "auto_review_patch": (
        ("723033c4-485d-4d09-97b8-5f5bf67b9c3a", "call-patch-guarded", "file_change",
         "apply_patch", "guardian", "sandbox_denial", "approved", "none", 1795415257810,
         1795415257850, 40, None),
        "guardian_approved",
    ),
}  # fmt: skip

TOOL_EVENTS = (
    "codex_command_execution_event",
    "codex_file_change_event",
    "codex_mcp_tool_call_event",
)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_review_fields_read_off_the_capture(name: str) -> None:
    events = replay_events(capture_path(name))
    (review,) = [e["event_params"] for e in events if e["event_type"] == "codex_review_event"]
    expected, outcome = EXPECTED[name]
    assert tuple(review[k] for k in FIELDS) == expected
    assert review["app_server_client"]["client_name"] in (
        "agentlytics-capture",
        "agentlytics-tests",
    )
    tools = [
        e["event_params"]
        for e in events
        if e["event_type"] in TOOL_EVENTS and e["event_params"]["item_id"] == review["item_id"]
    ]
    if outcome is None:  # the interrupted command never completed: no tool event
        assert tools == []
        return
    (tool,) = tools
    is_guardian = review["reviewer"] == "guardian"
    assert (tool["review_count"], tool["guardian_review_count"], tool["user_review_count"]) == (
        1,
        int(is_guardian),
        int(not is_guardian),
    )
    assert tool["final_approval_outcome"] == outcome
    # The review event comes before the tool event it is counted on.
    positions = {
        e["event_type"]: i
        for i, e in enumerate(events)
        if e["event_params"].get("item_id") == review["item_id"]
    }
    assert positions["codex_review_event"] < min(
        positions[k] for k in TOOL_EVENTS if k in positions
    )


def test_shell_accept_for_session_second_command_needs_no_review() -> None:
    events = replay_events(capture_path("shell_accept_for_session"))
    second = next(
        e["event_params"]
        for e in events
        if e["event_type"] == "codex_command_execution_event"
        and e["event_params"]["item_id"] == "call-note-2"
    )
    assert (second["review_count"], second["final_approval_outcome"]) == (0, "unknown")


def test_auto_review_patch_requests_additional_permissions() -> None:
    events = replay_events(capture_path("auto_review_patch"))
    (patch,) = [e for e in events if e["event_type"] == "codex_file_change_event"]
    assert patch["event_params"]["requested_additional_permissions"] is True


@pytest.mark.parametrize(
    ("name", "action", "latency", "risk"),
    [
        ("auto_review_allow", {"type": "unified_exec", "sandbox_permissions": "use_default",
                               "additional_permissions": None, "tty": False}, 42, "low"),
        ("auto_review_patch", {"type": "apply_patch"}, 40, "low"),
    ],
)  # fmt: skip
def test_guardian_review_events(name: str, action: dict[str, Any], latency: int, risk: str) -> None:
    events = replay_events(capture_path(name))
    kinds = [e["event_type"] for e in events]
    assert kinds.count("codex_guardian_review") == 1
    (g,) = [e["event_params"] for e in events if e["event_type"] == "codex_guardian_review"]
    assert g["reviewed_action"] == action
    assert (g["decision"], g["terminal_status"], g["failure_reason"], g["outcome"]) == (
        "approved",
        "approved",
        None,
        "allow",
    )
    assert (g["risk_level"], g["user_authorization"]) == (risk, "unknown")
    assert g["approval_request_source"] == "main_turn"
    review = next(e["event_params"] for e in events if e["event_type"] == "codex_review_event")
    assert g["review_id"] == review["review_id"] and g["target_item_id"] == review["item_id"]
    # seconds from the same millisecond timestamps as the review event
    assert (g["started_at"], g["completed_at"]) == (
        review["started_at_ms"] // 1000,
        review["completed_at_ms"] // 1000,
    )
    assert g["completion_latency_ms"] == latency == review["duration_ms"]


def test_guardian_review_exact_json() -> None:
    """The whole ``codex_guardian_review`` of auto_review_allow, read off its seq 15/17 lines:
    non-null fields the notifications do not carry hold upstream's own values
    (``without_session()``: attempt 1, not truncated; ``GUARDIAN_REVIEW_TIMEOUT`` 90 s; a
    command action's default sandbox permissions and no tty)."""
    events = replay_events(capture_path("auto_review_allow"))
    (g,) = [e for e in events if e["event_type"] == "codex_guardian_review"]
    thread = "01a20716-81ea-75c0-a0c1-297917135299"
    nulls = dict.fromkeys(
        [
            "guardian_thread_id", "guardian_session_kind", "guardian_model",
            "guardian_reasoning_effort", "guardian_default_review_model_id",
            "guardian_catalog_contains_auto_review", "guardian_review_model_overridden",
            "guardian_review_model_override", "guardian_model_provider_id",
            "had_prior_review_context",
        ]
    )  # fmt: skip
    tokens = dict.fromkeys(
        [
            "input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
            "reasoning_output_tokens", "total_tokens",
        ]
    )  # fmt: skip
    assert g == {
        "event_type": "codex_guardian_review",
        "event_params": {
            "session_id": thread,
            "app_server_client": {
                "product_client_id": "agentlytics-capture",
                "client_name": "agentlytics-capture",
                "client_version": "0.1.0",
                "rpc_transport": "stdio",
                "experimental_api_enabled": None,
            },
            "runtime": {
                "codex_rs_version": "0.169.0",
                "runtime_os": "linux",
                "runtime_os_version": "12.0.0",
                "runtime_arch": "x86_64",
            },
            "thread_id": thread,
            "turn_id": "01a20716-8210-79d1-ae32-14761b6f99e5",
            "review_id": "1d2d5bb0-90c8-4df6-ada1-db5a5b88930f",
            "target_item_id": "call-guarded",
            "approval_request_source": "main_turn",
            "reviewed_action": {
                "type": "unified_exec",  # action source unifiedExec
                "sandbox_permissions": "use_default",
                "additional_permissions": None,
                "tty": False,
            },
            "reviewed_action_truncated": False,
            "decision": "approved",
            "terminal_status": "approved",
            "failure_reason": None,
            "attempt_count": 1,
            "risk_level": "low",
            "user_authorization": "unknown",
            "outcome": "allow",
            **nulls,
            "review_timeout_ms": 90_000,
            "tool_call_count": None,
            "time_to_first_token_ms": None,
            "completion_latency_ms": 42,  # completedAtMs 1795415245503 - startedAtMs …461
            "started_at": 1795415245,
            "completed_at": 1795415245,
            **tokens,
        },
    }


def test_report_reviews_section(tmp_path: Path) -> None:
    """Every approval capture into one warehouse: counts, approval rate and latency by hand."""
    from agentlytics.replay import replay
    from agentlytics.sinks.duckdb import DuckDBSink

    path = tmp_path / "w.duckdb"
    sink = DuckDBSink(path)
    replay([capture_path(n) for n in sorted(EXPECTED)], [sink])
    sink.close()
    with open_store(str(path)) as store:
        rows = {
            (r.subject, r.reviewer): (
                r.reviews,
                r.approved,
                r.approved / r.reviews,
                r.p50_ms,
                r.p95_ms,
            )
            for r in approvals(store, Filters())
        }
    # user command reviews: accept, decline, cancel, acceptForSession, aborted → 2 of 5 approved;
    # durations 3, 3, 2, 2, 313 → p50 3, p95 = 3 + 0.8 * 310 = 251.
    assert rows[("command_execution", "user")] == (5, 2, 0.4, 3, pytest.approx(251))
    assert rows[("command_execution", "guardian")] == (1, 1, 1.0, 42, 42)
    assert rows[("file_change", "user")] == (1, 1, 1.0, 0, 0)
    assert rows[("file_change", "guardian")] == (1, 1, 1.0, 40, 40)
    assert rows[("mcp_tool_call", "user")] == (1, 1, 1.0, 0, 0)
