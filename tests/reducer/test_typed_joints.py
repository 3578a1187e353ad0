"""The typed joints between layers: the tool base fields, the thread scope, facts ↛ events."""

from __future__ import annotations

import ast
from pathlib import Path

import agentlytics.facts
from agentlytics.events import lifecycle, reviews, tools, turns
from agentlytics.events.envelope import EventParams
from agentlytics.reducer.state import ThreadScope
from agentlytics.reducer.tools import ToolBaseFields

TOOL_EVENTS = (
    tools.CommandExecutionEvent,
    tools.FileChangeEvent,
    tools.McpToolCallEvent,
    tools.DynamicToolCallEvent,
    tools.CollabAgentToolCallEvent,
    tools.WebSearchEvent,
    tools.ImageGenerationEvent,
)
#: Events built from a resolved :class:`ThreadScope` (tool events through their base fields).
SCOPED_EVENTS: tuple[type[EventParams], ...] = (
    lifecycle.ThreadInitialized,
    lifecycle.TurnSteerEvent,
    lifecycle.GoalEvent,
    lifecycle.CompactionEvent,
    turns.TurnEvent,
    reviews.ReviewEvent,
    reviews.GuardianReviewEvent,
    *TOOL_EVENTS,
)


def test_tool_base_fields_are_the_base_struct_in_order() -> None:
    # Kind events take the base positionally: the names and order must be ToolItemBase's.
    assert ToolBaseFields._fields == tools.ToolItemBase.__struct_fields__
    for event in TOOL_EVENTS:
        assert event.__struct_fields__[: len(ToolBaseFields._fields)] == ToolBaseFields._fields


def test_every_scoped_event_takes_its_scope_fields_from_the_scope() -> None:
    # Every scoped event carries the thread, its client and runtime under the scope's names
    # (it copies them from one ThreadScope); the rest of the scope each carries as it needs.
    scope = set(ThreadScope.__struct_fields__)
    for event in SCOPED_EVENTS:
        carried = scope & set(event.__struct_fields__)
        assert {"thread_id", "app_server_client", "runtime"} <= carried, event


def test_facts_do_not_import_events() -> None:
    tree = ast.parse(Path(agentlytics.facts.__file__).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert [m for m in imported if m.startswith("agentlytics.events")] == []
