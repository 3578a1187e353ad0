"""Events with no source on the wire, reachable through the library API only (decision 1).

Skill invocations, app mentions and uses, plugin usage and management, artifact operations,
plugin measurements and external-agent config imports (spec §4.1, §4.5–4.6, §4.12, §4.14,
§4.24–4.31, V-main shapes).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from agentlytics.events.common import U64, Runtime, SubObject
from agentlytics.events.envelope import EventParams
from agentlytics.vocabulary import InvocationType, SkillScope


class SkillInvocationParams(EventParams):
    """``event_params`` of ``skill_invocation`` (its envelope adds ``skill_id``/``skill_name``)."""

    EVENT_TYPE: ClassVar[str] = "skill_invocation"

    product_client_id: str | None
    skill_scope: SkillScope | None
    plugin_id: str | None
    remote_plugin_id: str | None
    repo_url: str | None
    thread_id: str | None
    turn_id: str | None
    invoke_type: InvocationType | None
    model_slug: str | None


class _AppMetadata(EventParams):
    """``CodexAppMetadata`` (§4.5/4.6)."""

    connector_id: str | None
    thread_id: str | None
    turn_id: str | None
    app_name: str | None
    product_client_id: str | None
    invoke_type: InvocationType | None
    model_slug: str | None


class AppMentioned(_AppMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_app_mentioned"


class AppUsed(_AppMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_app_used"


class _PluginMetadata(EventParams):
    """The first eight fields of §4.24, shared by every plugin event."""

    plugin_id: str | None
    remote_plugin_id: str | None
    plugin_name: str | None
    marketplace_name: str | None
    has_skills: bool | None
    mcp_server_count: U64 | None
    connector_ids: list[str] | None
    product_client_id: str | None


class PluginUsed(_PluginMetadata):
    """``codex_plugin_used`` (§4.24)."""

    EVENT_TYPE: ClassVar[str] = "codex_plugin_used"

    mcp_server_names: list[str] | None
    thread_id: str | None
    turn_id: str | None
    model_slug: str | None


class PluginInstalled(_PluginMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_plugin_installed"


class PluginUninstalled(_PluginMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_plugin_uninstalled"


class PluginEnabled(_PluginMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_plugin_enabled"


class PluginDisabled(_PluginMetadata):
    EVENT_TYPE: ClassVar[str] = "codex_plugin_disabled"


class PluginInstallFailed(_PluginMetadata):
    """``codex_plugin_install_failed`` (§4.30)."""

    EVENT_TYPE: ClassVar[str] = "codex_plugin_install_failed"

    source: Literal["manual", "external_agent_migration"]
    error_type: str
    sub_error_type: str | None


class RequestedPlugin(SubObject):
    plugin_id: str
    remote_plugin_id: str | None
    plugin_name: str
    connector_ids: list[str]


class PluginInstallRequested(EventParams):
    """``codex_plugin_install_requested`` (§4.25)."""

    EVENT_TYPE: ClassVar[str] = "codex_plugin_install_requested"

    suggestion_id: str
    plugins: list[RequestedPlugin]
    source: Literal["endpoint_recommendation", "legacy_discovery"]
    thread_id: str
    turn_id: str
    model_slug: str
    product_client_id: str | None


class PluginMeasurement(EventParams):
    """``codex_plugin_measurement_event`` (§4.14): one per valid measurement row."""

    EVENT_TYPE: ClassVar[str] = "codex_plugin_measurement_event"

    thread_id: str
    turn_id: str
    item_id: str
    plugin_id: str
    execution_id: str
    operation: str
    measurement_name: str
    number_value: float
    dimensions: dict[str, str] | None


class ArtifactOperation(EventParams):
    """``codex_artifact_operation`` (§4.12): no nulls."""

    EVENT_TYPE: ClassVar[str] = "codex_artifact_operation"

    thread_id: str
    turn_id: str
    item_id: str
    lifecycle: Literal["started"]
    occurred_at_ms: U64
    product_client_id: str
    runtime: Runtime
    model_slug: str
    plugin_id: str
    script_path: str
    skill: str
    artifact_type: str
    operation_kind: str
    expected_output_count: U64
    output_format: str
    execution_backend: str


class ExternalAgentImportComplete(EventParams):
    """``codex_onboarding_external_agent_import_complete`` (§4.31)."""

    EVENT_TYPE: ClassVar[str] = "codex_onboarding_external_agent_import_complete"

    import_id: str
    source: str
    provider_id: str
    item_type: str = msgspec.field(name="type")
    success_count: U64
    failed_count: U64
    product_client_id: str | None


class ExternalAgentImportFailure(EventParams):
    """``codex_onboarding_external_agent_import_failure`` (§4.31)."""

    EVENT_TYPE: ClassVar[str] = "codex_onboarding_external_agent_import_failure"

    import_id: str
    source: str
    provider_id: str
    item_type: str = msgspec.field(name="type")
    failure_stage: str
    error_type: str
    sub_error_type: str | None
    product_client_id: str | None
