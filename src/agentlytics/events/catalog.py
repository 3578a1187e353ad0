"""The catalog: every event family by its ``event_type``, and strict decoding of wire events.

``decode_event`` / ``decode_batch`` are what a receiver (the collector) uses to accept or reject
what a client sent: unknown event types, missing or extra keys, wrong types and misspelt enum
values are rejected with a message naming the event and the field.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, Union

import msgspec

from agentlytics.events.envelope import EventParams, SkillInvocationEvent, TrackEvent
from agentlytics.events.fingerprints import AcceptedLineFingerprints
from agentlytics.events.library import (
    AppMentioned,
    AppUsed,
    ArtifactOperation,
    ExternalAgentImportComplete,
    ExternalAgentImportFailure,
    PluginDisabled,
    PluginEnabled,
    PluginInstalled,
    PluginInstallFailed,
    PluginInstallRequested,
    PluginMeasurement,
    PluginUninstalled,
    PluginUsed,
    SkillInvocationParams,
)
from agentlytics.events.lifecycle import (
    CompactionEvent,
    GoalEvent,
    HookRun,
    ThreadArchiveEvent,
    ThreadInitialized,
    TurnSteerEvent,
)
from agentlytics.events.reviews import GuardianReviewEvent, ReviewEvent
from agentlytics.events.tools import (
    CollabAgentToolCallEvent,
    CommandExecutionEvent,
    DynamicToolCallEvent,
    FileChangeEvent,
    ImageGenerationEvent,
    McpToolCallEvent,
    WebSearchEvent,
)
from agentlytics.events.turns import TurnEvent

EVENT_TYPES: tuple[type[EventParams], ...] = (
    SkillInvocationParams,
    ThreadInitialized,
    ThreadArchiveEvent,
    GuardianReviewEvent,
    AppMentioned,
    AppUsed,
    HookRun,
    CompactionEvent,
    GoalEvent,
    TurnEvent,
    TurnSteerEvent,
    ArtifactOperation,
    CommandExecutionEvent,
    PluginMeasurement,
    FileChangeEvent,
    McpToolCallEvent,
    DynamicToolCallEvent,
    CollabAgentToolCallEvent,
    WebSearchEvent,
    ImageGenerationEvent,
    AcceptedLineFingerprints,
    ReviewEvent,
    PluginUsed,
    PluginInstallRequested,
    PluginInstalled,
    PluginUninstalled,
    PluginEnabled,
    PluginDisabled,
    PluginInstallFailed,
    ExternalAgentImportComplete,
    ExternalAgentImportFailure,
)
"""Every family, in upstream's ``TrackEventRequest`` variant order (spec §4)."""

#: event type → its ``event_params`` struct.
CATALOG: dict[str, type[EventParams]] = {cls.EVENT_TYPE: cls for cls in EVENT_TYPES}


class EventValidationError(ValueError):
    """An event does not match the catalog; the message names the event and the field."""


class _Header(msgspec.Struct):
    event_type: str


@cache
def envelope_type(event_type: str) -> type[msgspec.Struct]:
    """The strict wire envelope of one event type (top-level keys included)."""
    params = CATALOG[event_type]
    if params is SkillInvocationParams:
        fields: list[Any] = [
            ("event_type", Literal[event_type]),
            ("skill_id", str),
            ("skill_name", str),
            ("event_params", params),
        ]
    else:
        fields = [
            ("event_type", Literal[event_type]),
            ("event_params", params),
        ]
    name = "".join(part.title() for part in event_type.split("_")) + "Envelope"
    return msgspec.defstruct(name, fields, forbid_unknown_fields=True)


@cache
def _decoder(event_type: str) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(envelope_type(event_type))


def _event_type(data: bytes | msgspec.Raw) -> str:
    try:
        header = msgspec.json.decode(data, type=_Header)
    except msgspec.DecodeError as err:
        raise EventValidationError(f"not an event object: {err}") from None
    if header.event_type not in CATALOG:
        raise EventValidationError(f"unknown event_type {header.event_type!r}")
    return header.event_type


@cache
def _tagged_decoder() -> msgspec.json.Decoder[Any]:
    """One decoder for every envelope, dispatching on ``event_type`` as a msgspec tag.

    A single pass over the bytes (no separate header decode): this is the collector's hot path.
    It accepts exactly what :func:`_decoder` accepts; only its error messages are less precise,
    so failures are re-decoded the slow way for the message.
    """
    variants = []
    for event_type, params in CATALOG.items():
        fields: list[Any] = [("event_params", params)]
        if params is SkillInvocationParams:
            fields = [("skill_id", str), ("skill_name", str), *fields]
        name = "".join(part.title() for part in event_type.split("_")) + "Tagged"
        variants.append(
            msgspec.defstruct(
                name, fields, tag_field="event_type", tag=event_type, forbid_unknown_fields=True
            )
        )
    return msgspec.json.Decoder(Union[tuple(variants)])  # noqa: UP007 - built at runtime


def decode_event(data: bytes | msgspec.Raw) -> TrackEvent | SkillInvocationEvent:
    """Validate one serialized event against the catalog and return it typed."""
    try:
        fast = _tagged_decoder().decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _decode_event_precisely(data)
    return _typed(type(fast).__struct_config__.tag, fast)


def _decode_event_precisely(data: bytes | msgspec.Raw) -> TrackEvent | SkillInvocationEvent:
    """The two-step decode (type, then its envelope), whose errors name the type and field."""
    event_type = _event_type(data)
    try:
        decoded = _decoder(event_type).decode(data)
    except msgspec.ValidationError as err:
        raise EventValidationError(f"{event_type}: {err}") from None
    except msgspec.DecodeError as err:
        raise EventValidationError(f"{event_type}: malformed JSON: {err}") from None
    return _typed(event_type, decoded)


def _typed(event_type: str, decoded: Any) -> TrackEvent | SkillInvocationEvent:
    """A decoded envelope as the event object (skill invocations keep their top-level keys)."""
    if event_type == SkillInvocationParams.EVENT_TYPE:
        return SkillInvocationEvent(
            event_type, decoded.skill_id, decoded.skill_name, decoded.event_params
        )
    return TrackEvent(event_type, decoded.event_params)


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw]


def decode_batch(body: bytes) -> list[TrackEvent | SkillInvocationEvent]:
    """Validate a ``{"events": [...]}`` request body; all events or an error naming the index."""
    try:
        batch = msgspec.json.decode(body, type=_Batch)
    except msgspec.DecodeError as err:
        raise EventValidationError(f"not an events batch: {err}") from None
    out: list[TrackEvent | SkillInvocationEvent] = []
    for index, raw in enumerate(batch.events):
        try:
            out.append(decode_event(raw))
        except EventValidationError as err:
            raise EventValidationError(f"events[{index}]: {err}") from None
    return out
