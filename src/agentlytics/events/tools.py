"""The seven tool-item events (spec §4.0 base, §4.13, §4.15–4.17, §4.19–4.21, V-main).

Every tool event starts with the same base fields, in this order; the kind's own fields follow.
``tool_name`` and ``command_execution_source`` pass through protocol values and stay strings.
"""

from __future__ import annotations

from typing import ClassVar

from agentlytics.events.common import U64, AppServerClient, Runtime
from agentlytics.events.envelope import EventParams
from agentlytics.vocabulary import (
    FailureKind,
    FinalApprovalOutcome,
    TerminalStatus,
    WebSearchActionName,
)


class ToolItemBase(EventParams):
    """§4.0 ``CodexToolItemEventBase``, flattened first into every tool event."""

    thread_id: str
    session_id: str
    turn_id: str
    item_id: str
    cell_id: str | None
    parent_call_id: str | None
    originating_response_id: str | None
    subsequent_response_id: str | None
    app_server_client: AppServerClient
    runtime: Runtime
    thread_source: str | None
    subagent_source: str | None
    parent_thread_id: str | None
    tool_name: str
    started_at_ms: U64
    completed_at_ms: U64
    duration_ms: U64 | None
    execution_duration_ms: U64 | None
    review_count: U64
    guardian_review_count: U64
    user_review_count: U64
    final_approval_outcome: FinalApprovalOutcome
    terminal_status: TerminalStatus
    failure_kind: FailureKind | None
    requested_additional_permissions: bool
    requested_network_access: bool


class CommandExecutionEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_command_execution_event"
    plugin_id: str | None
    script_path: str | None
    command_execution_source: str
    exit_code: int | None
    command_total_action_count: U64
    command_read_action_count: U64
    command_list_files_action_count: U64
    command_search_action_count: U64
    command_unknown_action_count: U64


class FileChangeEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_file_change_event"
    file_change_count: U64
    file_add_count: U64
    file_update_count: U64
    file_delete_count: U64
    file_move_count: U64


class McpToolCallEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_mcp_tool_call_event"
    mcp_server_name: str
    mcp_tool_name: str
    mcp_error_present: bool
    plugin_id: str | None
    connector_id: str | None


class DynamicToolCallEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_dynamic_tool_call_event"
    dynamic_tool_name: str
    success: bool | None
    output_content_item_count: U64 | None
    output_text_item_count: U64 | None
    output_image_item_count: U64 | None
    output_audio_item_count: U64 | None


class CollabAgentToolCallEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_collab_agent_tool_call_event"
    sender_thread_id: str
    receiver_thread_count: U64
    receiver_thread_ids: list[str] | None
    requested_model: str | None
    requested_reasoning_effort: str | None
    agent_state_count: U64 | None
    completed_agent_count: U64 | None
    failed_agent_count: U64 | None


class WebSearchEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_web_search_event"
    web_search_action: WebSearchActionName | None
    query_present: bool
    query_count: U64 | None


class ImageGenerationEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_image_generation_event"
    revised_prompt_present: bool
    saved_path_present: bool
