"""What was observed: the reducer's whole input vocabulary.

Wire facts mirror upstream's ``AnalyticsFact`` (initialize, client requests/responses, server
requests/responses, notifications). Custom facts are what Codex makes in-process and we
synthesise at the edge from the wire (spec README decision 2), or what a host program hands the
library API. Every time a fact carries was read from the protocol or stamped once at the edge
(``observed_at_ms``); the reducer never reads a clock.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agentlytics.protocol.types import (
    ApprovalRequestParams,
    ApprovalResponse,
    ItemGuardianApprovalReviewCompletedNotification,
    ThreadStartResponse,
    ToolItem,
    Turn,
    TurnInterruptParams,
    TurnStartParams,
    TurnStartResponse,
    TurnSteerParams,
    TurnSteerResponse,
)
from agentlytics.protocol.wire import RequestId
from agentlytics.reviewed_actions import ReviewedAction
from agentlytics.vocabulary import (
    CollaborationMode,
    CompactionImplementation,
    CompactionPhase,
    CompactionReason,
    CompactionStatus,
    CompactionStrategy,
    CompactionTrigger,
    GoalEventKind,
    HookRunStatusName,
    HookSourceName,
    InvocationType,
    PluginState,
    RpcTransport,
    SandboxPolicyName,
    SkillScope,
    SteerRejectionReason,
    SubmissionType,
)

#: Upstream's ``GUARDIAN_REVIEW_TIMEOUT`` (``codex-rs/core`` guardian, 90 s), which every
#: ``GuardianReviewTrackContext`` gets as its ``review_timeout_ms``.
GUARDIAN_REVIEW_TIMEOUT_MS = 90_000


class Fact(msgspec.Struct, frozen=True):
    """Base of every fact."""


# --- connections ---------------------------------------------------------------------------------


class RuntimeMetadata(msgspec.Struct, frozen=True):
    codex_rs_version: str
    runtime_os: str
    runtime_os_version: str
    runtime_arch: str


class Initialize(Fact, frozen=True):
    """``initialize`` answered: who the client is and what runs the server."""

    connection_id: int
    client_name: str | None
    client_version: str | None
    experimental_api_enabled: bool | None
    product_client_id: str
    runtime: RuntimeMetadata
    rpc_transport: RpcTransport = "stdio"


class ConnectionClosed(Fact, frozen=True):
    """The transport closed (end of a capture, tap child exited): its state may leave."""

    connection_id: int


# --- client requests and their responses ---------------------------------------------------------


class TurnInterruptResponse(msgspec.Struct, frozen=True):
    """``turn/interrupt`` succeeded (its result is empty)."""


ClientRequestPayload = TurnStartParams | TurnSteerParams | TurnInterruptParams
ClientResponsePayload = (
    ThreadStartResponse | TurnStartResponse | TurnSteerResponse | TurnInterruptResponse
)


class ClientRequest(Fact, frozen=True):
    """A client request analytics pairs with its response (turn start, steer, interrupt)."""

    connection_id: int
    request_id: RequestId
    method: str
    params: ClientRequestPayload
    observed_at_ms: int


class ClientResponse(Fact, frozen=True):
    """A successful result to a client request, decoded with its request's type."""

    connection_id: int
    request_id: RequestId
    method: str
    response: ClientResponsePayload
    observed_at_ms: int


class ErrorResponse(Fact, frozen=True):
    """A JSON-RPC error answering a client request; ``error_type`` is pre-classified (§2.5)."""

    connection_id: int
    request_id: RequestId
    message: str
    error_type: SteerRejectionReason | None
    observed_at_ms: int


# --- server requests (approvals) -----------------------------------------------------------------


class ServerRequest(Fact, frozen=True):
    """A server→client approval request, with its params decoded by the request's type.

    Only approvals become facts (command, file change, permissions, MCP tool-call elicitations);
    other server requests are filtered at the edge. ``request_id`` is in the server→client id
    space of ``connection_id``.
    """

    connection_id: int
    request_id: RequestId
    method: str
    params: ApprovalRequestParams
    observed_at_ms: int


class ServerResponse(Fact, frozen=True):
    """The client's answer to a tracked approval request, decoded with the request's type.

    ``response`` is None when the client answered with a JSON-RPC error. ``completed_at_ms`` is
    when the answer was observed (Codex stamps its own clock there; decision 6).
    """

    connection_id: int
    request_id: RequestId
    method: str
    response: ApprovalResponse | None
    completed_at_ms: int


class ServerRequestAborted(Fact, frozen=True):
    """A tracked request resolved (``serverRequest/resolved``) or outlived by its turn."""

    connection_id: int
    request_id: RequestId
    completed_at_ms: int


# --- notifications -------------------------------------------------------------------------------


class TurnStarted(Fact, frozen=True):
    connection_id: int
    thread_id: str
    turn: Turn


class TurnCompleted(Fact, frozen=True):
    connection_id: int
    thread_id: str
    turn: Turn
    #: When the completion was observed: the accepted-line event's ``completed_at`` (decision 6).
    observed_at_ms: int = 0


class ItemStarted(Fact, frozen=True):
    """``item/started``. ``item`` is decoded for the kinds analytics tracks, else None."""

    connection_id: int
    thread_id: str
    turn_id: str
    item_type: str
    item_id: str
    item: Any
    started_at_ms: int | None


class ItemCompleted(Fact, frozen=True):
    connection_id: int
    thread_id: str
    turn_id: str
    item_type: str
    item_id: str
    item: Any
    completed_at_ms: int | None


class GuardianReviewCompleted(Fact, frozen=True):
    """``item/autoApprovalReview/completed``: the guardian finished reviewing an action."""

    connection_id: int
    notification: ItemGuardianApprovalReviewCompletedNotification


class TurnDiffUpdated(Fact, frozen=True):
    thread_id: str
    turn_id: str
    diff: str


class ThreadArchived(Fact, frozen=True):
    """``thread/archived`` / ``thread/unarchived``; ``action`` is ``archived``/``unarchived``."""

    connection_id: int
    thread_id: str
    action: str
    observed_at_ms: int


class ThreadClosed(Fact, frozen=True):
    connection_id: int
    thread_id: str


# --- custom facts synthesised at the edge --------------------------------------------------------


class TurnResolvedConfig(Fact, frozen=True):
    """The configuration a turn ran with: thread result + turn/start and settings overrides."""

    thread_id: str
    turn_id: str
    num_input_images: int
    submission_type: SubmissionType | None
    ephemeral: bool
    model: str
    model_provider: str
    sandbox_policy: SandboxPolicyName | None
    reasoning_effort: str | None
    reasoning_summary: str | None
    service_tier: str | None
    approval_policy: str
    approvals_reviewer: str
    sandbox_network_access: bool
    collaboration_mode: CollaborationMode
    personality: str | None
    workspace_kind: str | None
    is_first_turn: bool
    cwd: str | None = None
    #: Hash of the cwd's canonical git remote, looked up at the edge (None outside a repo).
    repo_hash: str | None = None


class TokenUsage(msgspec.Struct, frozen=True):
    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int


class TurnTokenUsage(Fact, frozen=True):
    """Tokens one turn used (the thread total's growth over the turn)."""

    thread_id: str
    turn_id: str
    usage: TokenUsage


class TurnCodexError(Fact, frozen=True):
    """The error category of a failed turn, derived from ``codexErrorInfo``."""

    thread_id: str
    turn_id: str
    kind: str
    http_status_code: int | None


class GuardianReview(Fact, frozen=True):
    """Core's guardian analytics for one review (upstream ``GuardianReviewEventParams``).

    Synthesised at the edge from ``item/autoApprovalReview/started`` + ``/completed``; a host
    program may hand a fully built one to the library API. ``approval_request_source`` None
    means "derive it from the thread" (a subagent thread's review was delegated).
    """

    thread_id: str
    turn_id: str
    review_id: str
    target_item_id: str | None
    approval_request_source: str | None
    reviewed_action: ReviewedAction
    reviewed_action_truncated: bool
    decision: str
    terminal_status: str
    failure_reason: str | None
    attempt_count: int
    risk_level: str | None
    user_authorization: str | None
    outcome: str | None
    started_at: int
    completed_at: int | None
    completion_latency_ms: int | None
    guardian_thread_id: str | None = None
    guardian_session_kind: str | None = None
    guardian_model: str | None = None
    guardian_reasoning_effort: str | None = None
    guardian_default_review_model_id: str | None = None
    guardian_catalog_contains_auto_review: bool | None = None
    guardian_review_model_overridden: bool | None = None
    guardian_review_model_override: str | None = None
    guardian_model_provider_id: str | None = None
    had_prior_review_context: bool | None = None
    #: Upstream passes ``GUARDIAN_REVIEW_TIMEOUT`` (90 s) for every review.
    review_timeout_ms: int = GUARDIAN_REVIEW_TIMEOUT_MS
    tool_call_count: int | None = None
    time_to_first_token_ms: int | None = None
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    total_tokens: int | None = None


class SubAgentThreadStarted(Fact, frozen=True):
    """A thread spawned by an agent (seen as a parent's ``subAgentActivity`` item, or tracked)."""

    thread_id: str
    session_id: str
    parent_thread_id: str | None
    forked_from_thread_id: str | None
    product_client_id: str
    client_name: str | None
    client_version: str | None
    model: str
    ephemeral: bool
    subagent_source: str
    created_at: int
    #: ThreadSpawn source's parent, used when ``parent_thread_id`` is absent (decision 4).
    spawn_parent_thread_id: str | None = None
    runtime: RuntimeMetadata | None = None


# --- custom facts: lifecycle families (edge-synthesised, or handed to the library API) -----------


class TrackingContext(msgspec.Struct, frozen=True):
    """Upstream's ``TrackEventsContext``: where a stateless event (hook, app, plugin, skill) ran.

    Optional here although upstream's are strings: a thread-scoped hook run has no turn on the
    wire, and a hook of a thread whose configuration was never seen has no model.
    """

    model_slug: str | None
    thread_id: str
    turn_id: str | None
    product_client_id: str | None


class HookRunFact(Fact, frozen=True):
    """A hook finished (``hook/completed``, or ``track_hook_run``). Values are wire strings of
    the event: ``hook_name`` PascalCase, ``hook_source`` / ``status`` snake_case."""

    tracking: TrackingContext
    hook_name: str
    hook_source: HookSourceName
    status: HookRunStatusName


class GoalFact(Fact, frozen=True):
    """Upstream's ``CodexGoalEvent``: one change of a thread goal (spec §4.9).

    ``turn_id`` is the turn that caused it, null for external or idle changes; the cumulative
    counters are set only on ``usage_accounted``.
    """

    thread_id: str
    turn_id: str | None
    goal_id: str
    event_kind: GoalEventKind
    goal_status: str
    has_token_budget: bool
    cumulative_tokens_accounted: int | None = None
    cumulative_time_accounted_seconds: int | None = None


class CompactionFact(Fact, frozen=True):
    """Upstream's ``CodexCompactionEvent`` (spec §3.3).

    ``reason`` None means "upstream's reason for the trigger" (``user_requested`` for a manual
    compaction, ``context_limit`` for an automatic one); the other defaults are upstream's
    constants where it has one (strategy ``memento``) and its local implementation.
    """

    thread_id: str
    turn_id: str
    trigger: CompactionTrigger
    phase: CompactionPhase
    status: CompactionStatus
    started_at: int
    completed_at: int
    duration_ms: int | None = None
    reason: CompactionReason | None = None
    implementation: CompactionImplementation = "responses"
    strategy: CompactionStrategy = "memento"
    codex_error_kind: str | None = None
    codex_error_http_status_code: int | None = None
    active_context_tokens_before: int = 0
    active_context_tokens_after: int = 0
    retained_image_count: int | None = None
    compaction_summary_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None


# --- custom facts only the library API makes (no source on the wire, decision 1) ----------------


class SkillInvocationResolved(msgspec.Struct, frozen=True):
    """One skill invocation with its id and repo URL already resolved at the edge (git is I/O)."""

    skill_id: str
    skill_name: str
    skill_scope: SkillScope | None
    plugin_id: str | None
    remote_plugin_id: str | None
    repo_url: str | None
    invoke_type: InvocationType


class SkillInvoked(Fact, frozen=True):
    tracking: TrackingContext
    invocations: tuple[SkillInvocationResolved, ...]


class AppInvocation(msgspec.Struct, frozen=True):
    """An app (connector) a turn mentioned or used."""

    connector_id: str | None = None
    app_name: str | None = None
    invocation_type: InvocationType | None = None


class AppMentioned(Fact, frozen=True):
    tracking: TrackingContext
    mentions: tuple[AppInvocation, ...]


class AppUsed(Fact, frozen=True):
    tracking: TrackingContext
    app: AppInvocation


class PluginMetadata(msgspec.Struct, frozen=True):
    """Upstream's ``PluginTelemetryMetadata``: ``plugin_name@marketplace_name`` plus capabilities.

    ``has_skills`` / ``mcp_server_names`` / ``connector_ids`` are None when no capability
    summary is known.
    """

    plugin_name: str | None = None
    marketplace_name: str | None = None
    remote_plugin_id: str | None = None
    has_skills: bool | None = None
    mcp_server_names: tuple[str, ...] | None = None
    connector_ids: tuple[str, ...] | None = None

    @property
    def plugin_id(self) -> str | None:
        """``<plugin_name>@<marketplace_name>`` (upstream ``PluginId::as_key``)."""
        if self.plugin_name is None or self.marketplace_name is None:
            return None
        return f"{self.plugin_name}@{self.marketplace_name}"


class PluginUsed(Fact, frozen=True):
    tracking: TrackingContext
    plugin: PluginMetadata


class PluginStateChanged(Fact, frozen=True):
    """A plugin was installed, uninstalled, enabled or disabled (no thread, no turn)."""

    plugin: PluginMetadata
    state: PluginState
    product_client_id: str | None


__all__ = [
    "AppInvocation",
    "AppMentioned",
    "AppUsed",
    "ClientRequest",
    "ClientRequestPayload",
    "ClientResponse",
    "ClientResponsePayload",
    "CompactionFact",
    "ConnectionClosed",
    "ErrorResponse",
    "Fact",
    "GoalFact",
    "GuardianReview",
    "GuardianReviewCompleted",
    "HookRunFact",
    "Initialize",
    "ItemCompleted",
    "ItemStarted",
    "PluginMetadata",
    "PluginStateChanged",
    "PluginUsed",
    "RuntimeMetadata",
    "ServerRequest",
    "ServerRequestAborted",
    "ServerResponse",
    "SkillInvocationResolved",
    "SkillInvoked",
    "SubAgentThreadStarted",
    "ThreadArchived",
    "ThreadClosed",
    "TokenUsage",
    "ToolItem",
    "TrackingContext",
    "TurnCodexError",
    "TurnCompleted",
    "TurnDiffUpdated",
    "TurnInterruptResponse",
    "TurnResolvedConfig",
    "TurnStarted",
    "TurnTokenUsage",
]
