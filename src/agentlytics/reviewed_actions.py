"""V-main's ``reviewed_action`` variants: shared by the ``GuardianReview`` fact and the
``codex_guardian_review`` event, so neither layer imports the other (facts never import events).

The JSON is the event's: tagged by ``type``, strict on decode like every event sub-object.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

U16 = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
SandboxPermissions = Literal["use_default", "require_escalated", "with_additional_permissions"]


class _Action(msgspec.Struct, forbid_unknown_fields=True, tag_field="type"):
    """Base of ``reviewed_action`` variants, tagged by ``type``."""


class ShellAction(_Action, tag="shell"):
    sandbox_permissions: SandboxPermissions
    additional_permissions: Any


class UnifiedExecAction(_Action, tag="unified_exec"):
    sandbox_permissions: SandboxPermissions
    additional_permissions: Any
    tty: bool


class ExecveAction(_Action, tag="execve"):
    source: Literal["shell", "unified_exec"]
    program: str
    additional_permissions: Any


class ApplyPatchAction(_Action, tag="apply_patch"):
    pass


class NetworkAccessAction(_Action, tag="network_access"):
    protocol: Literal["http", "https", "socks5_tcp", "socks5_udp"]
    port: U16


class McpToolCallAction(_Action, tag="mcp_tool_call"):
    server: str
    tool_name: str
    connector_id: str | None
    connector_name: str | None
    tool_title: str | None


class RequestPermissionsAction(_Action, tag="request_permissions"):
    pass


ReviewedAction = (
    ShellAction
    | UnifiedExecAction
    | ExecveAction
    | ApplyPatchAction
    | NetworkAccessAction
    | McpToolCallAction
    | RequestPermissionsAction
)
