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

# --- lifecycle families (hooks, goals, compaction) and the library-only families ---------------

HookSourceName = Literal[
    "system",
    "user",
    "project",
    "mdm",
    "session_flags",
    "plugin",
    "cloud_requirements",
    "cloud_managed_config",
    "legacy_managed_config_file",
    "legacy_managed_config_mdm",
    "unknown",
]
HookRunStatusName = Literal["completed", "failed", "blocked", "stopped"]
GoalEventKind = Literal["created", "usage_accounted", "status_changed", "cleared"]
CompactionTrigger = Literal["manual", "auto"]
CompactionReason = Literal[
    "user_requested", "context_limit", "model_downshift", "comp_hash_changed"
]
CompactionImplementation = Literal["responses", "responses_compaction_v2", "responses_compact"]
CompactionPhase = Literal["standalone_turn", "pre_turn", "mid_turn"]
CompactionStrategy = Literal["memento", "prefix_compaction"]
CompactionStatus = Literal["completed", "failed", "interrupted"]
InvocationType = Literal["explicit", "implicit"]
SkillScope = Literal["user", "repo", "system", "admin"]
PluginState = Literal["installed", "uninstalled", "enabled", "disabled"]
