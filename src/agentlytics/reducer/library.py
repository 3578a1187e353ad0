"""Skill, app and plugin facts → their events (spec §2.8, §6.7; library API only, decision 1).

Stateless: each fact carries its tracking context, so no initialize, thread or turn is needed.
De-duplication (app used / plugin used per turn) happens in the client before the fact is
made (spec §2.2), and skill ids and repo URLs are resolved at the edge (they need git); the
reducer only shapes events.
"""

from __future__ import annotations

from typing import cast

from agentlytics.events.envelope import SkillInvocationEvent, TrackEvent, track
from agentlytics.events.library import (
    AppMentioned as AppMentionedEvent,
)
from agentlytics.events.library import (
    AppUsed as AppUsedEvent,
)
from agentlytics.events.library import (
    PluginDisabled,
    PluginEnabled,
    PluginInstalled,
    PluginUninstalled,
    SkillInvocationParams,
)
from agentlytics.events.library import (
    PluginUsed as PluginUsedEvent,
)
from agentlytics.facts import (
    AppInvocation,
    AppMentioned,
    AppUsed,
    Fact,
    PluginStateChanged,
    PluginUsed,
    SkillInvoked,
    TrackingContext,
)
from agentlytics.reducer.core import Handler
from agentlytics.reducer.state import ReducerState

_PLUGIN_STATE_EVENTS: dict[
    str, type[PluginInstalled | PluginUninstalled | PluginEnabled | PluginDisabled]
] = {
    "installed": PluginInstalled,
    "uninstalled": PluginUninstalled,
    "enabled": PluginEnabled,
    "disabled": PluginDisabled,
}


def on_skill_invoked(state: ReducerState, fact: SkillInvoked) -> list[TrackEvent]:
    """One ``skill_invocation`` per invocation (top-level ``skill_id`` / ``skill_name``)."""
    tracking = fact.tracking
    events = [
        SkillInvocationEvent(
            event_type=SkillInvocationParams.EVENT_TYPE,
            skill_id=skill.skill_id,
            skill_name=skill.skill_name,
            event_params=SkillInvocationParams(
                product_client_id=tracking.product_client_id,
                skill_scope=skill.skill_scope,
                plugin_id=skill.plugin_id,
                remote_plugin_id=skill.remote_plugin_id,
                repo_url=skill.repo_url,
                thread_id=tracking.thread_id,
                turn_id=tracking.turn_id,
                invoke_type=skill.invoke_type,
                model_slug=tracking.model_slug,
            ),
        )
        for skill in fact.invocations
    ]
    # The sealer and sinks take both envelope shapes; the reducer's signature names the common one.
    return cast(list[TrackEvent], events)


def _app(
    cls: type[AppMentionedEvent] | type[AppUsedEvent],
    tracking: TrackingContext,
    app: AppInvocation,
) -> TrackEvent:
    return track(
        cls(
            connector_id=app.connector_id,
            thread_id=tracking.thread_id,
            turn_id=tracking.turn_id,
            app_name=app.app_name,
            product_client_id=tracking.product_client_id,
            invoke_type=app.invocation_type,
            model_slug=tracking.model_slug,
        )
    )


def on_app_mentioned(state: ReducerState, fact: AppMentioned) -> list[TrackEvent]:
    return [_app(AppMentionedEvent, fact.tracking, mention) for mention in fact.mentions]


def on_app_used(state: ReducerState, fact: AppUsed) -> list[TrackEvent]:
    return [_app(AppUsedEvent, fact.tracking, fact.app)]


def _names(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


def on_plugin_used(state: ReducerState, fact: PluginUsed) -> list[TrackEvent]:
    plugin, tracking = fact.plugin, fact.tracking
    servers = plugin.mcp_server_names
    return [
        track(
            PluginUsedEvent(
                plugin_id=plugin.plugin_id,
                remote_plugin_id=plugin.remote_plugin_id,
                plugin_name=plugin.plugin_name,
                marketplace_name=plugin.marketplace_name,
                has_skills=plugin.has_skills,
                mcp_server_count=len(servers) if servers is not None else None,
                connector_ids=_names(plugin.connector_ids),
                product_client_id=tracking.product_client_id,
                mcp_server_names=_names(servers),
                thread_id=tracking.thread_id,
                turn_id=tracking.turn_id,
                model_slug=tracking.model_slug,
            )
        )
    ]


def on_plugin_state_changed(state: ReducerState, fact: PluginStateChanged) -> list[TrackEvent]:
    """Installed / uninstalled / enabled / disabled: plugin metadata only (§4.26–4.29)."""
    plugin = fact.plugin
    servers = plugin.mcp_server_names
    cls = _PLUGIN_STATE_EVENTS[fact.state]
    return [
        track(
            cls(
                plugin_id=plugin.plugin_id,
                remote_plugin_id=plugin.remote_plugin_id,
                plugin_name=plugin.plugin_name,
                marketplace_name=plugin.marketplace_name,
                has_skills=plugin.has_skills,
                mcp_server_count=len(servers) if servers is not None else None,
                connector_ids=_names(plugin.connector_ids),
                product_client_id=fact.product_client_id,
            )
        )
    ]


HANDLERS: dict[type[Fact], Handler] = {
    SkillInvoked: on_skill_invoked,
    AppMentioned: on_app_mentioned,
    AppUsed: on_app_used,
    PluginUsed: on_plugin_used,
    PluginStateChanged: on_plugin_state_changed,
}
