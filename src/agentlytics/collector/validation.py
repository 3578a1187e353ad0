"""Validation of one ``{"events": [...]}`` request: accepted whole or rejected with a reason.

Two layers. The structural layer (here, always on) checks what storage relies on: the body is
exactly ``{"events": [...]}``; every event is exactly ``{"event_type": <str>, "event_params":
{...}}``; ``thread_id``/``turn_id`` in the params, when present, are strings or null. It also
returns each event's raw bytes as sent, whose hash is the event's id (spec decision 8).

The strict layer is the event catalog's ``decode_batch`` (every field of every event type, with
its type, enum strings and nullability). It plugs in at :func:`_strict_check` — the single
call-site — as soon as ``agentlytics.events.catalog`` provides it.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec

_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,127}")
_AT = re.compile(r" - at `([^`]*)`$")


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw]


class _Params(msgspec.Struct):
    thread_id: str | None = None
    turn_id: str | None = None


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    event_type: str
    event_params: _Params


_batch_decoder = msgspec.json.Decoder(_Batch)
_event_decoder = msgspec.json.Decoder(_Event)


@dataclass(slots=True)
class ValidationFailed(Exception):
    """Why a batch was rejected, naming the event (index, type) and the field."""

    detail: str
    index: int | None = None
    event_type: str | None = None
    field: str | None = None
    status: int = 400

    def __str__(self) -> str:
        where = f"events[{self.index}]" if self.index is not None else "body"
        kind = f" ({self.event_type})" if self.event_type else ""
        at = f" at {self.field}" if self.field else ""
        return f"{where}{kind}{at}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "error": "invalid_batch" if self.status == 400 else "too_large",
            "reason": str(self),
            "index": self.index,
            "event_type": self.event_type,
            "field": self.field,
        }


@dataclass(frozen=True, slots=True)
class ValidEvent:
    raw: bytes
    event_type: str
    thread_id: str | None
    turn_id: str | None


def _split(message: str, prefix: str = "$") -> tuple[str, str | None]:
    """msgspec's ``"Expected `str`, got `int` - at `$.x`"`` → (detail, field)."""
    match = _AT.search(message)
    if not match:
        return message, None
    field = match.group(1)
    return message[: match.start()], prefix + field[1:] if field.startswith("$") else field


def _loose_event_type(raw: bytes) -> str | None:
    """Best-effort event type of an event that failed validation, for the error message."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    value = obj.get("event_type") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def validate_events(body: bytes, max_events: int | None = None) -> list[ValidEvent]:
    """Every event of a request body, validated, with what storage indexes on."""
    try:
        batch = _batch_decoder.decode(body)
    except msgspec.ValidationError as exc:
        detail, field = _split(str(exc))
        raise ValidationFailed(detail, field=field) from None
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"malformed JSON: {exc}") from None
    if max_events is not None and len(batch.events) > max_events:
        raise ValidationFailed(
            f"{len(batch.events)} events in one request; the limit is {max_events}", status=413
        )
    out: list[ValidEvent] = []
    decode = _event_decoder.decode
    for index, raw in enumerate(batch.events):
        data = bytes(raw)
        try:
            event = decode(data)
        except msgspec.ValidationError as exc:
            detail, field = _split(str(exc))
            raise ValidationFailed(
                detail, index=index, event_type=_loose_event_type(data), field=field
            ) from None
        if not _EVENT_TYPE.fullmatch(event.event_type):
            raise ValidationFailed(
                f"not an event type: {event.event_type[:80]!r}",
                index=index,
                field="$.event_type",
            )
        params = event.event_params
        out.append(ValidEvent(data, event.event_type, params.thread_id, params.turn_id))
    _strict_check(body, out)
    return out


def validate_batch(body: bytes) -> list[bytes]:
    """The raw bytes of every event of a valid batch; :class:`ValidationFailed` otherwise."""
    return [e.raw for e in validate_events(body)]


@cache
def _catalog_decode_batch() -> Any:
    # Imported by name so this module works (structural checks only) before the catalog lands.
    try:
        catalog = importlib.import_module("agentlytics.events.catalog")
    except ImportError:
        return None
    return getattr(catalog, "decode_batch", None)


def _strict_check(body: bytes, events: list[ValidEvent]) -> None:
    """THE call-site of the catalog's strict validation (field types, enums, nullability)."""
    decode_batch = _catalog_decode_batch()
    if decode_batch is None:
        return
    try:
        decode_batch(body)
    except Exception as exc:
        if type(exc).__name__ != "EventValidationError" and not isinstance(
            exc, (msgspec.ValidationError, msgspec.DecodeError, ValueError)
        ):
            raise
        index = getattr(exc, "index", None)
        event_type = getattr(exc, "event_type", None)
        if event_type is None and isinstance(index, int) and 0 <= index < len(events):
            event_type = events[index].event_type
        raise ValidationFailed(
            str(exc), index=index, event_type=event_type, field=getattr(exc, "field", None)
        ) from None
