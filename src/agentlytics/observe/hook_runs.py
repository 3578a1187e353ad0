"""Hook runs at the edge: ``hook/completed`` → one :class:`HookRunFact` per completed run.

The notification carries a ``HookRunSummary`` (event name, where the hook was loaded from,
final status); no state is kept.
"""

from __future__ import annotations

import msgspec

from agentlytics.facts import Fact, HookRunFact, TrackingContext
from agentlytics.observe.decode import decode_as
from agentlytics.observe.edge import WireObserver
from agentlytics.vocabulary import HookRunStatusName, HookSourceName

# --- wire shapes (0.169.0 schema: HookCompletedNotification) ------------------------------------


class _Camel(msgspec.Struct, rename="camel"):
    pass


class HookRunSummary(_Camel):
    event_name: str
    status: str
    id: str = ""
    handler_type: str | None = None
    execution_mode: str | None = None
    scope: str | None = None
    source_path: str | None = None
    #: Absent on older servers; the schema's default is ``unknown``.
    source: str | None = None


class HookCompletedNotification(_Camel):
    thread_id: str
    run: HookRunSummary
    turn_id: str | None = None


#: ``HookSource`` (camelCase on the wire) → the event's snake_case ``hook_source``.
HOOK_SOURCES: dict[str, HookSourceName] = {
    "system": "system",
    "user": "user",
    "project": "project",
    "mdm": "mdm",
    "sessionFlags": "session_flags",
    "plugin": "plugin",
    "cloudRequirements": "cloud_requirements",
    "cloudManagedConfig": "cloud_managed_config",
    "legacyManagedConfigFile": "legacy_managed_config_file",
    "legacyManagedConfigMdm": "legacy_managed_config_mdm",
    "unknown": "unknown",
}

#: ``HookRunStatus`` → the event's ``status``; a run still ``running`` at completion failed.
HOOK_STATUSES: dict[str, HookRunStatusName] = {
    "completed": "completed",
    "failed": "failed",
    "blocked": "blocked",
    "stopped": "stopped",
    "running": "failed",
}


def hook_name(event_name: str) -> str:
    """``HookEventName`` (camelCase) → upstream's exact PascalCase name (``preToolUse`` →
    ``PreToolUse``). Names newer than the spec's list keep the same rule."""
    return event_name[:1].upper() + event_name[1:]


def classify_hook_source(
    source: str | None, source_path: str | None, codex_home: str | None
) -> HookSourceName:
    """Where a hook was loaded from.

    The wire's ``source`` wins when it names a layer. Older servers omit it (the schema default
    is ``unknown``); then the ``sourcePath`` tells: under ``CODEX_HOME`` → ``plugin`` for the
    plugin cache, else ``user``; under ``/etc/codex`` → ``system``; a ``.codex`` directory
    anywhere else → ``project``; otherwise ``unknown``.
    """
    named = HOOK_SOURCES.get(source or "unknown", "unknown")
    if named != "unknown" or not source_path:
        return named
    path = source_path.replace("\\", "/")
    if codex_home:
        home = codex_home.replace("\\", "/").rstrip("/") + "/"
        if path.startswith(home):
            return "plugin" if path[len(home) :].startswith("plugins/") else "user"
    if path.startswith("/etc/codex/"):
        return "system"
    if "/.codex/" in path:
        return "project"
    return "unknown"


def on_hook_completed(observer: WireObserver, params: msgspec.Raw | None, ts_ms: int) -> list[Fact]:
    n = decode_as(params, HookCompletedNotification)
    run = n.run
    synth = observer.synth
    view = synth.threads.get(n.thread_id)
    status = HOOK_STATUSES.get(run.status)
    if status is None:
        observer._drop("hook run with an unknown status", run.status)
        return []
    return [
        HookRunFact(
            tracking=TrackingContext(
                model_slug=view.model if view is not None else None,
                thread_id=n.thread_id,
                turn_id=n.turn_id,
                product_client_id=synth.client_name,
            ),
            hook_name=hook_name(run.event_name),
            hook_source=classify_hook_source(run.source, run.source_path, synth.codex_home),
            status=status,
        )
    ]
