"""Tool events (temporary)."""

from __future__ import annotations

from typing import ClassVar

from agentlytics.events.common import AppServerClient, Runtime
from agentlytics.events.envelope import EventParams


class ToolItemBase(EventParams):
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
    started_at_ms: int
    completed_at_ms: int
    duration_ms: int | None
    execution_duration_ms: int | None
    review_count: int
    guardian_review_count: int
    user_review_count: int
    final_approval_outcome: str
    terminal_status: str
    failure_kind: str | None
    requested_additional_permissions: bool
    requested_network_access: bool


class CommandExecutionEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_command_execution_event"
    plugin_id: str | None
    script_path: str | None
    command_execution_source: str
    exit_code: int | None
    command_total_action_count: int
    command_read_action_count: int
    command_list_files_action_count: int
    command_search_action_count: int
    command_unknown_action_count: int


class FileChangeEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_file_change_event"
    file_change_count: int
    file_add_count: int
    file_update_count: int
    file_delete_count: int
    file_move_count: int


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
    output_content_item_count: int | None
    output_text_item_count: int | None
    output_image_item_count: int | None


class CollabAgentToolCallEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_collab_agent_tool_call_event"
    sender_thread_id: str
    receiver_thread_count: int
    receiver_thread_ids: list[str] | None
    requested_model: str | None
    requested_reasoning_effort: str | None
    agent_state_count: int | None
    completed_agent_count: int | None
    failed_agent_count: int | None


class WebSearchEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_web_search_event"
    web_search_action: str | None
    query_present: bool
    query_count: int | None


class ImageGenerationEvent(ToolItemBase):
    EVENT_TYPE: ClassVar[str] = "codex_image_generation_event"
    revised_prompt_present: bool
    saved_path_present: bool
