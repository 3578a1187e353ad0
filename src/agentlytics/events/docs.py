"""Render docs/events.md from the catalog itself, so the documented shapes cannot drift.

``python -m agentlytics.events.docs > docs/events.md``; a test checks the file is current.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec

from agentlytics.events.catalog import EVENT_TYPES

SOURCES: dict[str, str] = {
    "skill_invocation": "library API `track_skill_invocations` (top level also has `skill_id`, `skill_name`)",
    "codex_thread_initialized": "`thread/start|resume|fork` result; a spawned subagent thread",
    "codex_thread_archive_event": "`thread/archived` / `thread/unarchived` (time observed at the edge)",
    "codex_guardian_review": "`item/autoApprovalReview/started` + `/completed`",
    "codex_app_mentioned": "library API `track_app_mentioned`",
    "codex_app_used": "library API `track_app_used` (deduplicated per turn and connector)",
    "codex_hook_run": "`hook/completed`",
    "codex_compaction_event": "a `contextCompaction` item and `thread/compact/start`",
    "codex_goal_event": "`thread/goal/updated` / `thread/goal/cleared`",
    "codex_turn_event": "`turn/completed` with the turn's synthesised config, token usage and tool counts",
    "codex_turn_steer_event": "`turn/steer` and its result or error",
    "codex_artifact_operation": "library API",
    "codex_command_execution_event": "`item/started` + `item/completed` of a `commandExecution` item",
    "codex_plugin_measurement_event": "library API",
    "codex_file_change_event": "`item/started` + `item/completed` of a `fileChange` item",
    "codex_mcp_tool_call_event": "`item/started` + `item/completed` of an `mcpToolCall` item",
    "codex_dynamic_tool_call_event": "`item/started` + `item/completed` of a `dynamicToolCall` item",
    "codex_collab_agent_tool_call_event": "`item/started` + `item/completed` of a `collabAgentToolCall` item",
    "codex_web_search_event": "`item/started` + `item/completed` of a `webSearch` item",
    "codex_image_generation_event": "`item/started` + `item/completed` of an `imageGeneration` item",
    "codex_accepted_line_fingerprints": "the turn's last `turn/diff/updated`, after its turn event; each chunk sent alone",
    "codex_review_event": "approval requests and their answers (user), or the guardian's review",
    "codex_plugin_used": "library API `track_plugin_used` (deduplicated per turn and plugin)",
    "codex_plugin_install_requested": "library API",
    "codex_plugin_installed": "library API `track_plugin_installed`",
    "codex_plugin_uninstalled": "library API `track_plugin_uninstalled`",
    "codex_plugin_enabled": "library API `track_plugin_enabled`",
    "codex_plugin_disabled": "library API `track_plugin_disabled`",
    "codex_plugin_install_failed": "library API",
    "codex_onboarding_external_agent_import_complete": "library API",
    "codex_onboarding_external_agent_import_failure": "library API",
}

DEVIATIONS = """\
## Non-null fields, the one deviation, and our extension

We emit V-main shapes (spec README). **A field the spec marks non-null is never null.** Where
the wire carries the value it is derived from the wire; where it does not, the value is the
one upstream itself uses when it lacks the information (`docs/facts.md` lists every
derivation with its source in upstream's code).

| event | field | spec | here | why |
|---|---|---|---|---|
| `codex_turn_event` | `before_first_sampling_ms` … `sampling_retry_count` (8 profile fields) | u64/u32, non-null | nullable | decision 3: no profile fact on the wire and no upstream default; a turn event is emitted without one |
| `codex_review_event` | `command_source` | — | **extension**, last field: `"shell"` \\| `"unified_exec"` \\| `"user_shell"` \\| null | decision 7: tell shell from unified exec in review analytics |
| every event | unknown keys | — | rejected by `decode_event` | we own both ends of this wire |

Fields whose values pass through from the protocol (`tool_name`, `command_execution_source`,
`goal_status`, `risk_level`, …) are plain strings, not closed enums, so a newer Codex adding a
value never makes its events invalid. Values the reducer computes from fixed tables are closed
(`Literal`) and validated.
"""


def _type_name(tp: Any) -> tuple[str, bool]:
    """(readable type, nullable) of an annotation."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        name, nullable = _type_name(inner)
        if any(getattr(m, "ge", None) == 0 for m in meta):
            name = "u64" if name == "int" else name
        return name, nullable
    if origin in (typing.Union, __import__("types").UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        names = [_type_name(a)[0] for a in args]
        return " \\| ".join(names), len(args) < len(typing.get_args(tp))
    if origin is typing.Literal:
        return " \\| ".join(f'`"{v}"`' for v in typing.get_args(tp)), False
    if origin is list:
        return f"array of {_type_name(typing.get_args(tp)[0])[0]}", False
    if origin is dict:
        return "object", False
    if tp is Any:
        return "any JSON", True
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return f"object ({tp.__name__})", False
    return getattr(tp, "__name__", str(tp)), False


def render_markdown() -> str:
    out = [
        "# The event catalog",
        "",
        "Generated from `src/agentlytics/events/` by `python -m agentlytics.events.docs`; a test",
        'keeps this file current. Every event is `{"event_type": …, "event_params": {…}}` with',
        "the keys below in this order, null keys present. `agentlytics schema` prints the same",
        "catalog as JSON Schema.",
        "",
        DEVIATIONS,
    ]
    for cls in EVENT_TYPES:
        hints = typing.get_type_hints(cls, include_extras=True)
        out += [f"## `{cls.EVENT_TYPE}`", "", f"Source: {SOURCES.get(cls.EVENT_TYPE, '—')}.", ""]
        if cls.ISOLATED:
            out += ["Sent in an HTTP request of its own.", ""]
        out += ["| field | type | nullable |", "|---|---|---|"]
        for name, wire_name in zip(
            cls.__struct_fields__, cls.__struct_encode_fields__, strict=True
        ):
            type_name, nullable = _type_name(hints[name])
            out.append(f"| `{wire_name}` | {type_name} | {'yes' if nullable else ''} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
