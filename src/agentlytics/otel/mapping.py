"""One event → the content of one OTLP log record: name, time, attributes, resource.

Pure data, no OpenTelemetry import: the sink builds SDK records from it, and ``audit --otlp``
checks exactly these attributes, so what is audited is what is sent. The rules (the full table
is in docs/otlp.md):

* **name**: the record's ``event_name`` (and body) is the event's ``event_type``.
* **attributes**: ``event_params`` (and a ``skill_invocation``'s top-level ``skill_id`` /
  ``skill_name``) flattened with dotted keys (``reviewed_action.type``). Nulls are omitted (an
  OTLP attribute cannot be null). A list whose items are all strings, all booleans, all integers
  or all floats becomes an array attribute; any other list (of objects, of mixed types) is
  flattened per index (``image_preparations.0.source_width``); an empty list is an empty array.
  Integers beyond int64 become strings. ``agentlytics.event_id`` carries the event's id so a
  backend can de-duplicate.
* **GenAI names**: a field with an OpenTelemetry GenAI semantic-convention name is exported
  under that name instead (``RENAMES``, ``FAMILY_RENAMES``).
* **resource**: ``app_server_client`` and ``runtime`` become resource attributes
  (``codex.client.*``, ``codex.runtime.*``, ``os.type``, ``os.version``, ``host.arch``).
* **time**: from the event's own fields (``TIME_FIELDS``, first present wins); 0 (unset) when
  the event has none, so the receiver falls back to the observed time.
* **privacy**: hash fields (``line_hash``, ``path_hash``, ``repo_hash``) and an accepted-line
  fingerprint chunk's ``line_fingerprints`` are never exported (the chunk's record carries
  ``line_fingerprint_count`` instead). Every string value and map key passes the privacy audit's
  generic checks; one that fails is not exported, and its key is listed in
  ``agentlytics.redacted_attributes``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from agentlytics.fingerprints.audit import string_findings

Primitive = str | bool | int | float
#: An OTLP attribute value as exported: a primitive or a homogeneous array of one.
AttrValue = Primitive | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]

FINGERPRINTS: Final = "codex_accepted_line_fingerprints"
EVENT_ID_ATTRIBUTE: Final = "agentlytics.event_id"
REDACTED_ATTRIBUTE: Final = "agentlytics.redacted_attributes"
_INT64_MAX: Final = 2**63 - 1

#: Top-level params exported under their GenAI semantic-convention name, in every family.
RENAMES: Final[Mapping[str, str]] = {
    "thread_id": "gen_ai.conversation.id",
    "model": "gen_ai.request.model",
    "model_slug": "gen_ai.request.model",
    "model_provider": "gen_ai.provider.name",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_output_tokens": "gen_ai.usage.reasoning.output_tokens",
}

#: The seven tool-item families; their ``tool_name`` / ``item_id`` are the GenAI tool call's.
TOOL_FAMILIES: Final[Mapping[str, str]] = {
    "codex_command_execution_event": "command_execution",
    "codex_file_change_event": "file_change",
    "codex_mcp_tool_call_event": "mcp_tool_call",
    "codex_dynamic_tool_call_event": "dynamic_tool_call",
    "codex_collab_agent_tool_call_event": "collab_agent_tool_call",
    "codex_web_search_event": "web_search",
    "codex_image_generation_event": "image_generation",
}
_TOOL_RENAMES: Final = {"tool_name": "gen_ai.tool.name", "item_id": "gen_ai.tool.call.id"}

#: Family-specific renames (on top of ``RENAMES``).
FAMILY_RENAMES: Final[Mapping[str, Mapping[str, str]]] = {
    **{family: _TOOL_RENAMES for family in TOOL_FAMILIES},
    "codex_collab_agent_tool_call_event": {
        **_TOOL_RENAMES,
        "requested_model": "gen_ai.request.model",
    },
    "codex_guardian_review": {
        "guardian_model": "gen_ai.request.model",
        "guardian_model_provider_id": "gen_ai.provider.name",
    },
}

#: Where a record's time comes from: the first of these fields the event has (non-null).
TIME_FIELDS: Final = (
    ("completed_at_ms", 1_000_000),
    ("occurred_at_ms", 1_000_000),
    ("completed_at", 1_000_000_000),
    ("created_at", 1_000_000_000),
    ("started_at_ms", 1_000_000),
    ("started_at", 1_000_000_000),
)

#: ``app_server_client`` / ``runtime`` fields → resource attribute names.
CLIENT_RESOURCE: Final = {
    "product_client_id": "codex.client.product_client_id",
    "client_name": "codex.client.name",
    "client_version": "codex.client.version",
    "rpc_transport": "codex.client.rpc_transport",
    "experimental_api_enabled": "codex.client.experimental_api_enabled",
}
RUNTIME_RESOURCE: Final = {
    "codex_rs_version": "codex.runtime.version",
    "runtime_os": "codex.runtime.os",
    "runtime_os_version": "os.version",
    "runtime_arch": "codex.runtime.arch",
}
#: Rust's ``std::env::consts`` names → the semantic conventions' ``os.type`` / ``host.arch``.
_OS_TYPE: Final = {"macos": "darwin", "linux": "linux", "windows": "windows", "freebsd": "freebsd"}
_HOST_ARCH: Final = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "x86": "x86",
    "arm": "arm32",
    "powerpc64": "ppc64",
    "s390x": "s390x",
}
#: Never exported, in any event: hashes of local content (the hash-only rule stays local).
HASH_FIELDS: Final = frozenset({"line_hash", "path_hash", "repo_hash"})
_RESOURCE_PARAMS: Final = frozenset({"app_server_client", "runtime"})


class ExportedEvent(msgspec.Struct, frozen=True):
    """What one event becomes in OTLP. ``resource`` is sorted, so it can key a grouping."""

    event_name: str
    time_unix_nano: int
    attributes: dict[str, AttrValue]
    resource: tuple[tuple[str, AttrValue], ...]
    redacted: tuple[str, ...]


def event_time_ns(params: Mapping[str, Any]) -> int:
    """The event's own time in Unix nanoseconds (``TIME_FIELDS``), or 0 when it has none."""
    for name, scale in TIME_FIELDS:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value * scale
    return 0


class _Flattener:
    """Collects dotted attributes, checking every string and map key on the way."""

    __slots__ = ("event_type", "out", "redacted")

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        self.out: dict[str, AttrValue] = {}
        self.redacted: list[str] = []

    def allowed(self, key: str, audit_path: str, text: str, is_key: bool = False) -> bool:
        if not passes_audit(self.event_type, audit_path, text, is_key):
            self.redacted.append(key)
            return False
        return True

    def add(self, key: str, audit_path: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool | float):
            self.out[key] = value
        elif isinstance(value, int):
            self.out[key] = value if -_INT64_MAX - 1 <= value <= _INT64_MAX else str(value)
        elif isinstance(value, str):
            if self.allowed(key, audit_path, value):
                self.out[key] = value
        elif isinstance(value, Mapping):
            for name, item in value.items():
                name = str(name)
                if name in HASH_FIELDS:
                    continue
                if not self.allowed(f"{key}.*", f"{audit_path}.{name}", name, is_key=True):
                    continue
                self.add(f"{key}.{name}", f"{audit_path}.{name}", item)
        elif isinstance(value, list):
            kind = _homogeneous(value)
            if kind is str:
                texts = [str(v) for v in value]
                if all(self.allowed(key, f"{audit_path}[{i}]", v) for i, v in enumerate(texts)):
                    self.out[key] = texts
            elif kind is not None:
                self.out[key] = list(value)
            else:
                for i, item in enumerate(value):
                    self.add(f"{key}.{i}", f"{audit_path}[{i}]", item)
        else:  # not JSON data: nothing else can come out of a decoded event
            self.add(key, audit_path, str(value))


@functools.lru_cache(maxsize=1 << 16)
def passes_audit(event_type: str, audit_path: str, text: str, is_key: bool) -> bool:
    """The audit's generic checks, remembered: most strings repeat (enum values, the ids of a
    thread and turn, client names), and the checks are a dozen regex searches each."""
    return not string_findings(event_type, audit_path, text, is_key)


def _homogeneous(items: list[Any]) -> type | None:
    """The one primitive type of every item (``str`` for an empty list), else None."""
    if not items:
        return str
    first = type(items[0])
    if first not in (str, bool, int, float) or any(type(v) is not first for v in items):
        return None
    if first is int and any(not -_INT64_MAX - 1 <= v <= _INT64_MAX for v in items):
        return None
    return first


def resource_attributes(
    params: Mapping[str, Any], event_type: str = "", flat: _Flattener | None = None
) -> dict[str, AttrValue]:
    """Resource attributes from the event's ``app_server_client`` and ``runtime`` (if any)."""
    flat = _Flattener(event_type) if flat is None else flat
    client = params.get("app_server_client")
    if isinstance(client, Mapping):
        for field, name in CLIENT_RESOURCE.items():
            flat.add(name, f"event_params.app_server_client.{field}", client.get(field))
    runtime = params.get("runtime")
    if isinstance(runtime, Mapping):
        for field, name in RUNTIME_RESOURCE.items():
            flat.add(name, f"event_params.runtime.{field}", runtime.get(field))
        os_name, arch = runtime.get("runtime_os"), runtime.get("runtime_arch")
        if isinstance(os_name, str) and os_name in _OS_TYPE:
            flat.out["os.type"] = _OS_TYPE[os_name]
        if isinstance(arch, str) and arch in _HOST_ARCH:
            flat.out["host.arch"] = _HOST_ARCH[arch]
    return flat.out


def export_event(event: Mapping[str, Any], event_id: str | None = None) -> ExportedEvent:
    """The OTLP form of one ``{"event_type", "event_params", ...}`` event."""
    event_type = str(event.get("event_type", ""))
    raw_params = event.get("event_params")
    params: Mapping[str, Any] = raw_params if isinstance(raw_params, Mapping) else {}
    renames = {**RENAMES, **FAMILY_RENAMES.get(event_type, {})}
    flat = _Flattener(event_type)
    for key, value in event.items():
        if key not in ("event_type", "event_params"):
            flat.add(key, key, value)
    for key, value in params.items():
        if key in _RESOURCE_PARAMS or key in HASH_FIELDS:
            continue
        if event_type == FINGERPRINTS and key == "line_fingerprints":
            count = len(value) if isinstance(value, list) else 0
            flat.out["line_fingerprint_count"] = count
            continue
        name = renames.get(key, key)
        if name != key and name in flat.out:
            name = key  # two fields would share one semantic name: keep the second's own
        flat.add(name, f"event_params.{key}", value)
    if event_id is not None:
        flat.out[EVENT_ID_ATTRIBUTE] = event_id
    resource_flat = _Flattener(event_type)
    resource = resource_attributes(params, event_type, resource_flat)
    flat.redacted += [f"resource.{key}" for key in resource_flat.redacted]
    if flat.redacted:
        flat.out[REDACTED_ATTRIBUTE] = sorted(set(flat.redacted))
    return ExportedEvent(
        event_name=event_type,
        time_unix_nano=event_time_ns(params),
        attributes=flat.out,
        resource=tuple(sorted(resource.items())),
        redacted=tuple(sorted(set(flat.redacted))),
    )
