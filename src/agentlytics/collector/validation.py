"""Validation of one ``{"events": [...]}`` request: accepted whole or rejected with a reason.

The body must be exactly ``{"events": [...]}``; each event is then decoded once, strictly, by the
catalog (every field of its event type, with its type, enum strings and nullability; no unknown
key). Each event's raw bytes are kept as sent: their hash is the event's id (spec decision 8).

Valid events take one typed msgspec pass each. Only a failing event is looked at again, first
structurally (``{"event_type": <str>, "event_params": {...}}`` with string-or-null
``thread_id``/``turn_id``), then by the catalog, so that the reason names the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics.events.catalog import EventValidationError, decode_event

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


def _reject(index: int, data: bytes, error: Exception) -> ValidationFailed:
    """The most precise reason for an event that the catalog rejected."""
    try:
        event = _event_decoder.decode(data)
    except msgspec.ValidationError as exc:
        detail, field = _split(str(exc))
        return ValidationFailed(
            detail, index=index, event_type=_loose_event_type(data), field=field
        )
    except msgspec.DecodeError as exc:
        return ValidationFailed(f"malformed JSON: {exc}", index=index)
    if not _EVENT_TYPE.fullmatch(event.event_type):
        return ValidationFailed(
            f"not an event type: {event.event_type[:80]!r}", index=index, field="$.event_type"
        )
    detail, field = _split(str(error))
    detail = detail.removeprefix(f"{event.event_type}: ")  # the reason names the type already
    return ValidationFailed(detail, index=index, event_type=event.event_type, field=field)


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
    for index, raw in enumerate(batch.events):
        data = bytes(raw)
        try:
            event = decode_event(data)
        except EventValidationError as exc:
            raise _reject(index, data, exc) from None
        params = event.event_params
        out.append(
            ValidEvent(
                data,
                event.event_type,
                getattr(params, "thread_id", None),
                getattr(params, "turn_id", None),
            )
        )
    return out
