"""Turn event (temporary)."""

from __future__ import annotations

from typing import Any, ClassVar

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import EventParams


class TurnEvent(EventParams):
    EVENT_TYPE: ClassVar[str] = "codex_turn_event"
    thread_id: str
    session_id: str
    turn_id: str
    submission_type: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    ephemeral: bool
    thread_source: str | None
    initialization_mode: str
    subagent_source: str | None
    parent_thread_id: str | None
    model: str | None
    model_provider: str
    sandbox_policy: str | None
    reasoning_effort: str | None
    reasoning_summary: str | None
    service_tier: str
    approval_policy: str
    approvals_reviewer: str
    sandbox_network_access: bool
    collaboration_mode: str | None
    personality: str | None
    workspace_kind: str | None
    num_input_images: int
    image_preparations: list[Any]
    is_first_turn: bool
    status: str | None
    explicit_client_interrupt_requested_at_ms: int | None
    turn_error: Any
    codex_error_kind: str | None
    codex_error_http_status_code: int | None
    steer_count: int | None
    total_tool_call_count: int | None
    shell_command_count: int | None
    file_change_count: int | None
    mcp_tool_call_count: int | None
    dynamic_tool_call_count: int | None
    subagent_tool_call_count: int | None
    web_search_count: int | None
    image_generation_count: int | None
    input_tokens: int | None
    cached_input_tokens: int | None
    cache_write_input_tokens: int | None
    output_tokens: int | None
    reasoning_output_tokens: int | None
    total_tokens: int | None
    before_first_sampling_ms: int | None
    sampling_ms: int | None
    compaction_ms: int | None
    between_sampling_overhead_ms: int | None
    tool_blocking_ms: int | None
    after_last_sampling_ms: int | None
    sampling_request_count: int | None
    sampling_retry_count: int | None
    duration_ms: int | None
    started_at: int | None
    completed_at: int | None
