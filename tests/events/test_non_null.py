"""A field upstream's contract declares non-null is never null in an emitted event.

"Contract-non-null" is read off the event structs: a field whose annotation does not admit
``None`` (recursively, in sub-objects and in every ``reviewed_action`` variant). The structs
follow the spec (events-and-delivery.md §4); :data:`SPEC_NON_NULL` pins the fields that used
to be nullable here so they cannot quietly become Optional again, and :data:`EXCEPTIONS`
is the one documented deviation (spec decision 3).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentlytics.events.catalog import EVENT_TYPES
from agentlytics.families import FAMILIES
from tests.helpers import DATA, more_captures, replay_events

#: Spec §4.4 / §4.8 / the reviewed_action table: non-null fields the wire does not carry, so
#: their values are derived or upstream's defaults (docs/facts.md).
SPEC_NON_NULL: dict[str, tuple[str, ...]] = {
    "codex_guardian_review": (
        "approval_request_source",
        "reviewed_action",
        "reviewed_action_truncated",
        "decision",
        "terminal_status",
        "attempt_count",
        "review_timeout_ms",
        "started_at",
    ),
    "codex_compaction_event": (
        "trigger",
        "reason",
        "implementation",
        "phase",
        "strategy",
        "status",
        "active_context_tokens_before",
        "active_context_tokens_after",
        "started_at",
        "completed_at",
    ),
}

#: Spec decision 3 (no turn-profile gate): no profile fact on the wire and no upstream value
#: to fall back on, so the 8 profile fields stay nullable (docs/events.md).
EXCEPTIONS: dict[str, frozenset[str]] = {
    "codex_turn_event": frozenset(
        {
            "before_first_sampling_ms",
            "sampling_ms",
            "compaction_ms",
            "between_sampling_overhead_ms",
            "tool_blocking_ms",
            "after_last_sampling_ms",
            "sampling_request_count",
            "sampling_retry_count",
        }
    ),
}

BY_TYPE: dict[str, type[msgspec.Struct]] = {cls.EVENT_TYPE: cls for cls in EVENT_TYPES}


def real_captures() -> list[Path]:
    """Every recorded capture of every Codex version the repo keeps (the shared scenarios and
    ``more-captures/``)."""
    return sorted(DATA.glob("captures*/*.jsonl")) + more_captures()


def _strip(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    return tp


def nullable(tp: Any) -> bool:
    tp = _strip(tp)
    if tp is Any:
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return type(None) in typing.get_args(tp)
    return tp is type(None)


def _structs(tp: Any) -> list[type[msgspec.Struct]]:
    """The Struct types an annotation may hold (a union of variants, an Optional object)."""
    tp = _strip(tp)
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else ()
    candidates = [_strip(a) for a in args] if args else [tp]
    return [c for c in candidates if isinstance(c, type) and issubclass(c, msgspec.Struct)]


def null_violations(cls: type[msgspec.Struct], value: dict[str, Any], path: str) -> list[str]:
    """Paths of non-null-typed fields that hold null in ``value`` (recursing into objects)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out: list[str] = []
    for name in cls.__struct_fields__:
        tp = hints[name]
        got = value.get(name)
        if got is None:
            if not nullable(tp):
                out.append(f"{path}.{name}")
            continue
        if isinstance(got, dict):
            for sub in _structs(tp):
                tag_field = sub.__struct_config__.tag_field
                if tag_field is None or got.get(tag_field) == sub.__struct_config__.tag:
                    out.extend(null_violations(sub, got, f"{path}.{name}"))
    return out


def test_the_structs_declare_the_spec_non_null_fields_non_null() -> None:
    for event_type, fields in SPEC_NON_NULL.items():
        hints = typing.get_type_hints(BY_TYPE[event_type], include_extras=True)
        assert [f for f in fields if nullable(hints[f])] == [], event_type
    from agentlytics.events.reviews import ShellAction, UnifiedExecAction

    for cls, fields in ((ShellAction, ("sandbox_permissions",)), (UnifiedExecAction, ("sandbox_permissions", "tty"))):  # fmt: skip
        hints = typing.get_type_hints(cls, include_extras=True)
        assert [f for f in fields if nullable(hints[f])] == [], cls.__name__


def test_only_the_documented_exceptions_are_nullable_against_the_spec() -> None:
    hints = typing.get_type_hints(BY_TYPE["codex_turn_event"], include_extras=True)
    assert all(nullable(hints[f]) for f in EXCEPTIONS["codex_turn_event"])


def test_the_checker_finds_a_null_in_a_non_null_field() -> None:
    """The walk below is not vacuous: a null in a top-level or a nested non-null field is found."""
    guardian = BY_TYPE["codex_guardian_review"]
    params = {"attempt_count": None, "reviewed_action": {"type": "unified_exec", "tty": None}}
    found = null_violations(guardian, params, "p")
    assert "p.attempt_count" in found and "p.reviewed_action.tty" in found
    assert "p.target_item_id" not in found  # nullable in the spec


@pytest.mark.parametrize("capture", real_captures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_contract_non_null_field_is_null_in_a_real_capture(capture: Path) -> None:
    events = replay_events(capture)
    assert events
    problems: list[str] = []
    for event in events:
        event_type = event["event_type"]
        found = null_violations(BY_TYPE[event_type], event["event_params"], event_type)
        allowed = EXCEPTIONS.get(event_type, frozenset())
        problems.extend(p for p in found if p.rsplit(".", 1)[1] not in allowed)
    assert problems == []


def test_a_compaction_fact_without_the_optional_fields_gets_upstreams_values() -> None:
    """A host's ``track_compaction`` may leave them out; the event still has all of them."""
    from agentlytics.facts import CompactionFact
    from agentlytics.reducer.core import Reducer
    from tests.reducer.builders import initialize, run, thread, thread_response

    reducer = Reducer(FAMILIES)
    run(reducer, initialize(), thread_response(7, 1, thread("thread-1")))
    events = [
        run(reducer, CompactionFact("thread-1", "turn-1", trigger, phase, "completed", 1, 2))[0]
        for trigger, phase in (("auto", "pre_turn"), ("manual", "standalone_turn"))
    ]
    fields = ("reason", "implementation", "strategy")
    tokens = ("active_context_tokens_before", "active_context_tokens_after")
    assert [[e["event_params"][f] for f in fields + tokens] for e in events] == [
        ["context_limit", "responses", "memento", 0, 0],
        ["user_requested", "responses", "memento", 0, 0],
    ]


#: Spec decision 1's families that come from the wire (the rest are library-only).
WIRE_FAMILIES = frozenset(
    {
        "codex_thread_initialized", "codex_turn_event", "codex_turn_steer_event",
        "codex_command_execution_event", "codex_file_change_event", "codex_mcp_tool_call_event",
        "codex_dynamic_tool_call_event", "codex_collab_agent_tool_call_event",
        "codex_web_search_event", "codex_image_generation_event", "codex_review_event",
        "codex_guardian_review", "codex_accepted_line_fingerprints", "codex_hook_run",
        "codex_goal_event", "codex_compaction_event", "codex_thread_archive_event",
    }
)  # fmt: skip


def test_the_real_captures_reach_every_wire_family_but_image_generation() -> None:
    """What the walk above covers: every family the wire feeds appears in some real capture,
    except image generation, which no recorded scenario makes Codex do (its event is walked
    from the wire's item below)."""
    seen = {e["event_type"] for p in real_captures() for e in replay_events(p)}
    assert set(BY_TYPE) >= WIRE_FAMILIES
    assert WIRE_FAMILIES - seen == {"codex_image_generation_event"}


def test_an_image_generation_event_from_the_wire_has_no_null_in_a_non_null_field() -> None:
    """The one wire family no real capture reaches: an ``imageGeneration`` item (the 0.171.0
    schema's fields, nothing optional sent) through the edge and reducer."""
    from agentlytics.observe.edge import WireObserver
    from agentlytics.reducer.core import Reducer

    def line(direction: str, msg: dict[str, Any]) -> bytes:
        return msgspec.json.encode({"seq": 0, "ts_ms": 5_000, "dir": direction, "msg": msg})

    thread = {"id": "th", "sessionId": "th", "createdAt": 1, "ephemeral": False}
    item = {"type": "imageGeneration", "id": "ig", "status": "completed", "result": ""}
    at = {"threadId": "th", "turnId": "tu"}
    lines = [
        line(
            "client_to_server",
            {
                "method": "initialize",
                "id": 0,
                "params": {"clientInfo": {"name": "c", "version": "1"}},
            },
        ),
        line(
            "server_to_client",
            {
                "id": 0,
                "result": {"userAgent": "c/0.171.0 (Debian 12; x86_64)", "platformOs": "linux"},
            },
        ),
        line("client_to_server", {"method": "thread/start", "id": 1, "params": {}}),
        line(
            "server_to_client",
            {
                "id": 1,
                "result": {
                    "thread": thread,
                    "model": "gpt-5.5",
                    "modelProvider": "openai",
                    "cwd": "/nowhere",
                },
            },
        ),
        line(
            "server_to_client",
            {
                "method": "turn/started",
                "params": {"threadId": "th", "turn": {"id": "tu", "status": "inProgress"}},
            },
        ),
        line(
            "server_to_client",
            {
                "method": "item/started",
                "params": {**at, "item": {**item, "status": "inProgress"}, "startedAtMs": 4_000},
            },
        ),
        line(
            "server_to_client",
            {"method": "item/completed", "params": {**at, "item": item, "completedAtMs": 4_500}},
        ),
    ]
    observer, reducer = WireObserver(0, families=FAMILIES), Reducer(FAMILIES)
    events = [
        msgspec.json.decode(msgspec.json.encode(e))
        for raw in lines
        for fact in observer.observe_line(raw)
        for e in reducer.ingest(fact)
    ]
    (image,) = [e for e in events if e["event_type"] == "codex_image_generation_event"]
    cls = BY_TYPE["codex_image_generation_event"]
    assert null_violations(cls, image["event_params"], "image") == []
    assert observer.drops.counts == {}
