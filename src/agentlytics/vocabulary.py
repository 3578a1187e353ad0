"""The closed value sets shared by facts, the reducer and the event catalog (exact wire strings).

A leaf module: it imports nothing of the pipeline, so every stage can use the same ``Literal``
types and mypy checks that a value computed in the reducer is one the catalog accepts.
"""

from __future__ import annotations

from typing import Literal

RpcTransport = Literal["stdio", "websocket", "in_process"]
InitializationMode = Literal["new", "forked", "resumed"]
SandboxPolicyName = Literal["full_access", "external_sandbox", "read_only", "workspace_write"]
CollaborationMode = Literal["plan", "default"]
SubmissionType = Literal["default", "queued"]
TurnStatus = Literal["completed", "failed", "interrupted"]
SteerRejectionReason = Literal[
    "no_active_turn",
    "expected_turn_mismatch",
    "non_steerable_review",
    "non_steerable_compact",
    "empty_input",
    "input_too_large",
]
WebSearchActionName = Literal["search", "open_page", "find_in_page", "other"]
TerminalStatus = Literal["completed", "failed", "rejected", "interrupted"]
FailureKind = Literal[
    "tool_error", "approval_denied", "approval_aborted", "sandbox_denied", "policy_forbidden"
]
FinalApprovalOutcome = Literal[
    "unknown",
    "not_needed",
    "config_allowed",
    "policy_forbidden",
    "guardian_approved",
    "guardian_denied",
    "guardian_aborted",
    "user_approved",
    "user_approved_for_session",
    "user_denied",
    "user_aborted",
]
