"""``codex_turn_event`` (spec §4.10, V-main: 57 fields).

Deviation (decision 3): the eight turn-profile fields are nullable — no profile fact exists on
the wire, so they are null unless a host program tracks one.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from agentlytics.events.common import U64, AppServerClient, InitializationMode, Runtime, SubObject
from agentlytics.events.envelope import EventParams
from agentlytics.vocabulary import (
    CollaborationMode,
    SandboxPolicyName,
    SubmissionType,
    TurnStatus,
)


class ImagePreparation(SubObject):
    """One image prepared for the model (§3.3 ``ImagePreparationMetadata``)."""

    message_role: str | None
    item_id: str | None
    effective_detail: Literal["high", "original"]
    source_width: U64
    source_height: U64
    prepared_width: U64
    prepared_height: U64


class TurnEvent(EventParams):
    EVENT_TYPE: ClassVar[str] = "codex_turn_event"
    thread_id: str
    session_id: str
    turn_id: str
    submission_type: SubmissionType | None
    app_server_client: AppServerClient
    runtime: Runtime
    ephemeral: bool
    thread_source: str | None
    initialization_mode: InitializationMode
    subagent_source: str | None
    parent_thread_id: str | None
    model: str | None
    model_provider: str
    sandbox_policy: SandboxPolicyName | None
    reasoning_effort: str | None
    reasoning_summary: str | None
    service_tier: str
    approval_policy: str
    approvals_reviewer: str
    sandbox_network_access: bool
    collaboration_mode: CollaborationMode | None
    personality: str | None
    workspace_kind: str | None
    num_input_images: U64
    image_preparations: list[ImagePreparation]
    is_first_turn: bool
    status: TurnStatus | None
    explicit_client_interrupt_requested_at_ms: U64 | None
    turn_error: Any
    codex_error_kind: str | None
    codex_error_http_status_code: U64 | None
    steer_count: U64 | None
    total_tool_call_count: U64 | None
    shell_command_count: U64 | None
    file_change_count: U64 | None
    mcp_tool_call_count: U64 | None
    dynamic_tool_call_count: U64 | None
    subagent_tool_call_count: U64 | None
    web_search_count: U64 | None
    image_generation_count: U64 | None
    input_tokens: int | None
    cached_input_tokens: int | None
    cache_write_input_tokens: int | None
    output_tokens: int | None
    reasoning_output_tokens: int | None
    total_tokens: int | None
    before_first_sampling_ms: U64 | None
    sampling_ms: U64 | None
    compaction_ms: U64 | None
    between_sampling_overhead_ms: U64 | None
    tool_blocking_ms: U64 | None
    after_last_sampling_ms: U64 | None
    sampling_request_count: U64 | None
    sampling_retry_count: U64 | None
    duration_ms: U64 | None
    started_at: U64 | None
    completed_at: U64 | None
