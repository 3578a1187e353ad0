"""The subset of the app-server v2 protocol (Codex CLI 0.169.0, 0.171.0) analytics reads.

0.171.0 changed, of what is read here: ``ThreadItem`` ``mcpToolCall`` (and
``McpServerToolCallParams``) gained an optional ``environmentId``; ``CodexErrorInfo`` gained
the unit variant ``bioPolicy`` (its kind, like every variant's, is the snake_case name:
``bio_policy``). Nothing read here was removed or retyped, so both versions decode alike.

Every struct tolerates unknown fields and defaults what it can: the protocol grows with each
release, and a new or missing optional field must never stop ingestion. Enum-like values stay
plain strings here; the reducer maps them (an unknown value is data, not a decode error).
Payloads the reducer never inspects (command output, diffs of single files, message text) are
not declared, so they are skipped by the decoder instead of copied.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Camel(msgspec.Struct, rename="camel"):
    """Base for wire structs: camelCase keys, unknown keys ignored."""


# --- initialize ----------------------------------------------------------------------------------


class ClientInfo(_Camel):
    name: str
    version: str
    title: str | None = None


class InitializeCapabilities(_Camel):
    experimental_api: bool = False


class InitializeParams(_Camel):
    """Who the client is: required, so an initialize without it leaves the connection unknown."""

    client_info: ClientInfo
    capabilities: InitializeCapabilities | None = None


class InitializeResponse(_Camel):
    user_agent: str = ""
    platform_os: str | None = None
    platform_family: str | None = None
    codex_home: str | None = None


# --- threads and turns ---------------------------------------------------------------------------


class Thread(_Camel):
    id: str
    session_id: str | None = None
    forked_from_id: str | None = None
    parent_thread_id: str | None = None
    ephemeral: bool = False
    model: str | None = None
    model_provider: str | None = None
    created_at: int | None = None
    cwd: str | None = None
    source: Any = None
    thread_source: str | None = None
    turns: list[msgspec.Raw] = msgspec.field(default_factory=list)


class ThreadStartResponse(_Camel):
    """Result of ``thread/start``, ``thread/resume`` and ``thread/fork`` (same fields we read)."""

    thread: Thread
    model: str | None = None
    model_provider: str | None = None
    service_tier: str | None = None
    cwd: str | None = None
    approval_policy: Any = None
    approvals_reviewer: str | None = None
    sandbox: Any = None
    reasoning_effort: str | None = None
    collaboration_mode: Any = None


class TurnError(_Camel):
    message: str = ""
    codex_error_info: Any = None


class Turn(_Camel):
    id: str
    status: str | None = None
    error: TurnError | None = None
    started_at: int | None = None
    completed_at: int | None = None
    duration_ms: int | None = None
    root_turn_id: str | None = None


class UserInput(msgspec.Struct):
    type: str = ""


_IMAGE_INPUTS = frozenset({"image", "localImage"})


def count_images(inputs: list[UserInput]) -> int:
    """Images in a turn/start or turn/steer input (``image`` and ``localImage`` entries)."""
    return sum(1 for item in inputs if item.type in _IMAGE_INPUTS)


class TurnStartParams(_Camel):
    thread_id: str
    input: list[UserInput] = msgspec.field(default_factory=list)
    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    approval_policy: Any = None
    approvals_reviewer: str | None = None
    sandbox_policy: Any = None
    service_tier: str | None = None
    personality: str | None = None
    cwd: str | None = None
    collaboration_mode: Any = None


class TurnStartResponse(_Camel):
    turn: Turn


class TurnSteerParams(_Camel):
    thread_id: str
    expected_turn_id: str | None = None
    input: list[UserInput] = msgspec.field(default_factory=list)


class TurnSteerResponse(_Camel):
    turn_id: str


class TurnInterruptParams(_Camel):
    thread_id: str
    turn_id: str = ""


class ThreadIdParams(_Camel):
    """Params of requests that only name a thread (``thread/compact/start``, …)."""

    thread_id: str


# --- notifications -------------------------------------------------------------------------------


class ThreadStartedNotification(_Camel):
    thread: Thread


class TurnNotification(_Camel):
    """``turn/started`` and ``turn/completed``."""

    thread_id: str
    turn: Turn


class TurnDiffUpdatedNotification(_Camel):
    thread_id: str
    turn_id: str
    diff: str


class TokenUsageBreakdown(_Camel):
    total_tokens: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0


class ThreadTokenUsage(_Camel):
    total: TokenUsageBreakdown
    last: TokenUsageBreakdown | None = None


class ThreadTokenUsageUpdatedNotification(_Camel):
    thread_id: str
    token_usage: ThreadTokenUsage
    turn_id: str | None = None


class ThreadSettings(_Camel):
    model: str | None = None
    model_provider: str | None = None
    service_tier: str | None = None
    cwd: str | None = None
    approval_policy: Any = None
    approvals_reviewer: str | None = None
    sandbox_policy: Any = None
    effort: str | None = None
    summary: str | None = None
    personality: str | None = None
    collaboration_mode: Any = None


class ThreadSettingsUpdatedNotification(_Camel):
    thread_id: str
    thread_settings: ThreadSettings


class ThreadIdNotification(_Camel):
    """``thread/archived``, ``thread/unarchived``, ``thread/closed``."""

    thread_id: str


class ServerRequestResolvedNotification(_Camel):
    thread_id: str | None = None
    request_id: int | str | None = None


# --- thread items --------------------------------------------------------------------------------


class _Item(msgspec.Struct, rename="camel", tag_field="type"):
    """A ThreadItem: tagged by ``type`` so one decode picks the right struct."""

    id: str = ""


class ItemHeader(msgspec.Struct):
    """Just enough of a ThreadItem of a type this protocol version does not define."""

    type: str = ""
    id: str = ""


class CommandAction(msgspec.Struct):
    type: str = "unknown"


class CommandExecutionItem(_Item, tag="commandExecution"):
    status: str = "inProgress"
    source: str = "agent"
    exit_code: int | None = None
    duration_ms: int | None = None
    plugin_id: str | None = None
    script_path: str | None = None
    command_actions: list[CommandAction] = msgspec.field(default_factory=list)


class PatchChangeKind(msgspec.Struct):
    type: str
    move_path: str | None = None


class FileUpdateChange(msgspec.Struct):
    kind: PatchChangeKind


class FileChangeItem(_Item, tag="fileChange"):
    status: str = "inProgress"
    changes: list[FileUpdateChange] = msgspec.field(default_factory=list)


class McpToolCallError(msgspec.Struct):
    message: str = ""


class McpToolCallAppContext(_Camel):
    connector_id: str | None = None


class McpToolCallItem(_Item, tag="mcpToolCall"):
    server: str = ""
    tool: str = ""
    status: str = "inProgress"
    error: McpToolCallError | None = None
    duration_ms: int | None = None
    plugin_id: str | None = None
    app_context: McpToolCallAppContext | None = None
    #: 0.171.0+: the environment the server ran in (absent before; not part of any event).
    environment_id: str | None = None


class DynamicToolCallContentItem(msgspec.Struct):
    type: str = ""


class DynamicToolCallItem(_Item, tag="dynamicToolCall"):
    tool: str = ""
    status: str = "inProgress"
    success: bool | None = None
    content_items: list[DynamicToolCallContentItem] | None = None
    duration_ms: int | None = None


class CollabAgentState(msgspec.Struct):
    status: str = ""


class CollabAgentToolCallItem(_Item, tag="collabAgentToolCall"):
    tool: str = ""
    status: str = "inProgress"
    sender_thread_id: str = ""
    receiver_thread_ids: list[str] = msgspec.field(default_factory=list)
    model: str | None = None
    reasoning_effort: str | None = None
    agents_states: dict[str, CollabAgentState] = msgspec.field(default_factory=dict)


class WebSearchAction(msgspec.Struct):
    type: str = "other"
    query: str | None = None
    queries: list[str] | None = None


class WebSearchItem(_Item, tag="webSearch"):
    query: str = ""
    action: WebSearchAction | None = None


class ImageGenerationItem(_Item, tag="imageGeneration"):
    status: str = ""
    revised_prompt: str | None = None
    saved_path: str | None = None


class SubAgentActivityItem(_Item, tag="subAgentActivity"):
    kind: str = ""
    agent_thread_id: str | None = None
    agent_path: str | None = None
    model: str | None = None
    reasoning_effort: str | None = None


class ContextCompactionItem(_Item, tag="contextCompaction"):
    started_at_ms: int | None = None
    completed_at_ms: int | None = None


# Item kinds analytics neither counts nor times: decoded to their id only (content skipped).
class UserMessageItem(_Item, tag="userMessage"):
    pass


class HookPromptItem(_Item, tag="hookPrompt"):
    pass


class AgentMessageItem(_Item, tag="agentMessage"):
    pass


class FunctionCallOutputItem(_Item, tag="functionCallOutput"):
    pass


class PlanItem(_Item, tag="plan"):
    pass


class ReasoningItem(_Item, tag="reasoning"):
    pass


class ImageViewItem(_Item, tag="imageView"):
    pass


class SleepItem(_Item, tag="sleep"):
    pass


class EnteredReviewModeItem(_Item, tag="enteredReviewMode"):
    pass


class ExitedReviewModeItem(_Item, tag="exitedReviewMode"):
    pass


ThreadItem = (
    CommandExecutionItem
    | FileChangeItem
    | McpToolCallItem
    | DynamicToolCallItem
    | CollabAgentToolCallItem
    | WebSearchItem
    | ImageGenerationItem
    | SubAgentActivityItem
    | ContextCompactionItem
    | UserMessageItem
    | HookPromptItem
    | AgentMessageItem
    | FunctionCallOutputItem
    | PlanItem
    | ReasoningItem
    | ImageViewItem
    | SleepItem
    | EnteredReviewModeItem
    | ExitedReviewModeItem
)


class ItemNotification(_Camel):
    """``item/started`` / ``item/completed`` with the item decoded by its ``type`` tag."""

    thread_id: str
    turn_id: str
    item: ThreadItem
    started_at_ms: int | None = None
    completed_at_ms: int | None = None


class UnknownItemNotification(_Camel):
    """Fallback for an item ``type`` newer than this protocol version."""

    thread_id: str
    turn_id: str
    item: ItemHeader


ToolItem = (
    CommandExecutionItem
    | FileChangeItem
    | McpToolCallItem
    | DynamicToolCallItem
    | CollabAgentToolCallItem
    | WebSearchItem
    | ImageGenerationItem
)

#: The item kinds the pipeline turns into facts (tool items, subagent activity, compaction).
FACT_ITEMS: tuple[type[msgspec.Struct], ...] = (
    CommandExecutionItem,
    FileChangeItem,
    McpToolCallItem,
    DynamicToolCallItem,
    CollabAgentToolCallItem,
    WebSearchItem,
    ImageGenerationItem,
    SubAgentActivityItem,
    ContextCompactionItem,
)


def item_type(item: msgspec.Struct) -> str:
    """The wire ``type`` tag of a decoded item."""
    tag: str = type(item).__struct_config__.tag  # type: ignore[assignment]
    return tag


# --- approvals: server requests, the client's answers, guardian reviews -----------------------
#
# Only what the review reducer reads is declared: command text, cwd, reasons, MCP arguments and
# form content are skipped by the decoder, never copied.


class NetworkPermissions(_Camel):
    enabled: bool | None = None


class FileSystemPermissions(_Camel):
    """A file-system grant or request; only whether it names anything matters to analytics."""

    entries: list[msgspec.Raw] | None = None
    read: list[msgspec.Raw] | None = None
    write: list[msgspec.Raw] | None = None

    def is_empty(self) -> bool:
        return not (self.entries or self.read or self.write)


class PermissionProfile(_Camel):
    """Request/granted/additional permission profile: a network and a file-system part."""

    network: NetworkPermissions | None = None
    file_system: FileSystemPermissions | None = None

    @property
    def network_enabled(self) -> bool:
        return self.network is not None and self.network.enabled is True

    @property
    def has_file_system(self) -> bool:
        return self.file_system is not None

    def is_empty(self) -> bool:
        """No network and no file-system entry (a ``{"enabled": null}`` network counts as none)."""
        no_network = self.network is None or self.network.enabled is None
        no_fs = self.file_system is None or self.file_system.is_empty()
        return no_network and no_fs


class NetworkPolicyAmendment(msgspec.Struct):
    action: str = ""


class CommandExecutionRequestApprovalParams(_Camel):
    """``item/commandExecution/requestApproval``."""

    thread_id: str
    turn_id: str
    item_id: str
    started_at_ms: int
    approval_id: str | None = None
    kind: str = "command"
    network_approval_context: msgspec.Raw | None = None
    proposed_network_policy_amendments: list[NetworkPolicyAmendment] | None = None
    additional_permissions: PermissionProfile | None = None


class FileChangeRequestApprovalParams(_Camel):
    """``item/fileChange/requestApproval``."""

    thread_id: str
    turn_id: str
    item_id: str
    started_at_ms: int
    grant_root: str | None = None


class PermissionsRequestApprovalParams(_Camel):
    """``item/permissions/requestApproval``."""

    thread_id: str
    turn_id: str
    item_id: str
    started_at_ms: int
    permissions: PermissionProfile = msgspec.field(default_factory=PermissionProfile)


class McpApprovalMeta(msgspec.Struct):
    """``_meta`` of an MCP elicitation: Codex marks tool-call approvals with their tool."""

    codex_approval_kind: str | None = None
    tool_name: str | None = None
    tool_title: str | None = None


class McpServerElicitationRequestParams(_Camel):
    """``mcpServer/elicitation/request`` (only the correlation fields and ``_meta``)."""

    thread_id: str
    server_name: str
    turn_id: str | None = None
    meta: McpApprovalMeta | None = msgspec.field(default=None, name="_meta")


class McpToolCallApprovalParams(msgspec.Struct, frozen=True):
    """An MCP elicitation that asks the user to approve a tool call (``codex_approval_kind``).

    The elicitation has no ``startedAtMs`` and no item id: the request's observation time
    stands in for the start, and the reducer finds the reviewed ``mcpToolCall`` item by server
    and tool among the turn's open items.
    """

    thread_id: str
    turn_id: str | None
    server_name: str
    tool_name: str | None
    started_at_ms: int


ApprovalRequestParams = (
    CommandExecutionRequestApprovalParams
    | FileChangeRequestApprovalParams
    | PermissionsRequestApprovalParams
    | McpToolCallApprovalParams
)


class ExecpolicyAmendmentDecision(msgspec.Struct):
    execpolicy_amendment: list[msgspec.Raw] = msgspec.field(default_factory=list)


class NetworkPolicyAmendmentDecision(msgspec.Struct):
    network_policy_amendment: NetworkPolicyAmendment = msgspec.field(
        default_factory=NetworkPolicyAmendment
    )


class CommandDecisionObject(_Camel, forbid_unknown_fields=True):
    """The object-shaped ``CommandExecutionApprovalDecision`` variants (exactly one key set)."""

    accept_with_execpolicy_amendment: ExecpolicyAmendmentDecision | None = None
    apply_network_policy_amendment: NetworkPolicyAmendmentDecision | None = None


class CommandExecutionRequestApprovalResponse(_Camel):
    """``accept`` | ``acceptForSession`` | ``decline`` | ``cancel`` | one of the object variants."""

    decision: str | CommandDecisionObject


class FileChangeRequestApprovalResponse(_Camel):
    decision: str


class PermissionsRequestApprovalResponse(_Camel):
    permissions: PermissionProfile = msgspec.field(default_factory=PermissionProfile)
    scope: str = "turn"


class McpElicitationResponseMeta(msgspec.Struct):
    persist: str | None = None


class McpServerElicitationRequestResponse(_Camel):
    action: str
    meta: McpElicitationResponseMeta | None = msgspec.field(default=None, name="_meta")


ApprovalResponse = (
    CommandExecutionRequestApprovalResponse
    | FileChangeRequestApprovalResponse
    | PermissionsRequestApprovalResponse
    | McpServerElicitationRequestResponse
)


class GuardianApprovalReview(_Camel):
    status: str
    risk_level: str | None = None
    user_authorization: str | None = None


class _GuardianAction(msgspec.Struct, rename="camel", tag_field="type"):
    """``GuardianApprovalReviewAction``: tagged by ``type``; command text and paths skipped."""


class GuardianCommandAction(_GuardianAction, tag="command"):
    source: str = "shell"


class GuardianExecveAction(_GuardianAction, tag="execve"):
    """``program`` (an absolute path, often a user's own script) is skipped like the command
    text: upstream's newest protocol no longer sends it, and the event carries ``""``."""

    source: str = "shell"


class GuardianWriteStdinAction(_GuardianAction, tag="writeStdin"):
    pass


class GuardianApplyPatchAction(_GuardianAction, tag="applyPatch"):
    pass


class GuardianNetworkAccessAction(_GuardianAction, tag="networkAccess"):
    protocol: str = ""
    port: int = 0


class GuardianMcpToolCallAction(_GuardianAction, tag="mcpToolCall"):
    server: str = ""
    tool_name: str = ""
    connector_id: str | None = None
    connector_name: str | None = None
    tool_title: str | None = None


class GuardianRequestPermissionsAction(_GuardianAction, tag="requestPermissions"):
    permissions: PermissionProfile = msgspec.field(default_factory=PermissionProfile)


GuardianAction = (
    GuardianCommandAction
    | GuardianExecveAction
    | GuardianWriteStdinAction
    | GuardianApplyPatchAction
    | GuardianNetworkAccessAction
    | GuardianMcpToolCallAction
    | GuardianRequestPermissionsAction
)


class ItemGuardianApprovalReviewStartedNotification(_Camel):
    thread_id: str
    turn_id: str
    review_id: str
    started_at_ms: int | None = None


class ItemGuardianApprovalReviewCompletedNotification(_Camel):
    """``item/autoApprovalReview/completed`` (rationale and action text are not copied)."""

    thread_id: str
    turn_id: str
    review_id: str
    review: GuardianApprovalReview
    action: GuardianAction
    started_at_ms: int | None = None
    completed_at_ms: int | None = None
    target_item_id: str | None = None
