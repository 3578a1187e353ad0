"""Render docs/otlp-attributes.md — every event field and the OTLP attribute it becomes — from
the catalog and the mapping tables, so the documented mapping cannot drift.

``python -m agentlytics.otel.docs > docs/otlp-attributes.md``; a test checks the file is current.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec

from agentlytics.events.catalog import EVENT_TYPES
from agentlytics.otel.mapping import (
    CLIENT_RESOURCE,
    FAMILY_RENAMES,
    FINGERPRINTS,
    HASH_FIELDS,
    RENAMES,
    RUNTIME_RESOURCE,
)


def _unwrap(tp: Any) -> Any:
    """The annotation without ``Annotated`` and without ``| None``."""
    if typing.get_origin(tp) is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
        return tuple(_unwrap(a) for a in args)  # a tagged union of structs
    return tp


def _struct_fields(cls: type[msgspec.Struct]) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return [
        (wire, hints[name])
        for name, wire in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True)
    ]


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _keys(name: str, tp: Any) -> list[str]:
    """The attribute keys a value of annotation ``tp`` under ``name`` flattens to."""
    tp = _unwrap(tp)
    if isinstance(tp, tuple):  # tagged union: the tag, then every variant's fields
        out = [f"`{name}.type`"]
        for variant in tp:
            out += [k for sub, t in _struct_fields(variant) for k in _keys(f"{name}.{sub}", t)]
        return list(dict.fromkeys(out))
    if _is_struct(tp):
        return [k for sub, t in _struct_fields(tp) for k in _keys(f"{name}.{sub}", t)]
    origin = typing.get_origin(tp)
    if origin is list:
        item = _unwrap(typing.get_args(tp)[0])
        if _is_struct(item):
            keys = [k for sub, t in _struct_fields(item) for k in _keys(f"{name}.N.{sub}", t)]
            return [*keys, f"`{name}` (an empty array, when the list is empty)"]
        return [f"`{name}` (array)"]
    if origin is dict:
        return [f"`{name}.<key>`"]
    if tp is Any:
        return [f"`{name}` (an object: `{name}.<key>…`)"]
    return [f"`{name}`"]


def _row(event_type: str, field: str, tp: Any) -> str:
    if field == "app_server_client":
        attrs = ", ".join(f"`{v}`" for v in CLIENT_RESOURCE.values())
        return f"| `{field}` | resource: {attrs} |"
    if field == "runtime":
        attrs = ", ".join(f"`{v}`" for v in RUNTIME_RESOURCE.values())
        return f"| `{field}` | resource: {attrs}, `os.type`, `host.arch` |"
    if field in HASH_FIELDS:
        return f"| `{field}` | not exported (hash) |"
    if event_type == FINGERPRINTS and field == "line_fingerprints":
        return f"| `{field}` | not exported; `line_fingerprint_count` = its length |"
    renames = {**RENAMES, **FAMILY_RENAMES.get(event_type, {})}
    name = renames.get(field, field)
    keys = ", ".join(_keys(name, tp))
    return f"| `{field}` | {keys}{' (GenAI)' if name != field else ''} |"


def render_markdown() -> str:
    out = [
        "# OTLP attributes, event by event",
        "",
        "Generated from the event catalog and `src/agentlytics/otel/mapping.py` by",
        "`python -m agentlytics.otel.docs`; a test keeps this file current. The rules behind it",
        "are in [otlp.md](otlp.md). Every record also has `agentlytics.event_id`; null fields",
        "are omitted; `N` is a list index; (GenAI) marks a semantic-convention name.",
        "",
    ]
    for cls in EVENT_TYPES:
        out += [f"## `{cls.EVENT_TYPE}`", "", "| field | OTLP |", "|---|---|"]
        if cls.EVENT_TYPE == "skill_invocation":
            out += ["| `skill_id` (top level) | `skill_id` |"]
            out += ["| `skill_name` (top level) | `skill_name` |"]
        out += [_row(cls.EVENT_TYPE, field, tp) for field, tp in _struct_fields(cls)]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
