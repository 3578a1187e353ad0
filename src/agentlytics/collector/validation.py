"""Validation of one ``{"events": [...]}`` request: accepted whole or rejected with a reason.

The body must be exactly ``{"events": [...]}``; each event is then decoded once, strictly, by the
catalog (every field of its event type, with its type, enum strings and nullability; no unknown
key). Each event's raw bytes are kept as sent: their hash is the event's id (spec decision 8).

Valid events take one typed msgspec pass each. Only a failing event is looked at again, first
structurally (``{"event_type": <str>, "event_params": {...}}`` with string-or-null
``thread_id``/``turn_id``), then by the catalog, so that the reason names the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from agentlytics.events.catalog import EventValidationError, decode_event
from agentlytics.events.envelope import encode, event_id_for
from agentlytics.protocol.depth import MAX_DEPTH, too_deep
from agentlytics.protocol.ingest import IDS_HEADER

_HEX64 = re.compile(r"[0-9a-f]{64}")
#: An entry without its ordinal (senders before the ordinal was sent) is matched against the
#: first this many repeats.
MAX_UNNAMED_ORDINAL = 64
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


class ValidEvent(msgspec.Struct, frozen=True, gc=False):
    """One validated event (a struct, not a frozen dataclass: one is built per event, and a
    frozen dataclass's ``__init__`` costs several times more)."""

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
    except (msgspec.DecodeError, RecursionError):
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
    """Every event of a request body, validated, with what storage indexes on (``raw``: the
    event's canonical JSON).

    Depth is checked per event, not on the whole body: the body's own brackets number in the
    thousands, so a whole-body check measured every request (a seventh of the collector's CPU
    at 500 events a request), while an event's are few and counted in C. A body nested deep
    enough to stop the decoder is a ``RecursionError`` here, the same 400."""
    try:
        batch = _batch_decoder.decode(body)
    except RecursionError:
        raise ValidationFailed(f"nested deeper than {MAX_DEPTH} levels") from None
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
        if too_deep(data):
            raise ValidationFailed(f"nested deeper than {MAX_DEPTH} levels", index=index)
        try:
            event = decode_event(data)
            # The id is the hash of the canonical JSON (what the sealer made), whatever the
            # client's spacing or key order: the same event always gets the same id.
            canonical = encode(event)
        except EventValidationError as exc:
            raise _reject(index, data, exc) from None
        except RecursionError:
            raise ValidationFailed(f"nested deeper than {MAX_DEPTH} levels", index=index) from None
        params = event.event_params
        out.append(
            ValidEvent(
                canonical,
                event.event_type,
                getattr(params, "thread_id", None),
                getattr(params, "turn_id", None),
            )
        )
    return out


def event_ids(events: list[ValidEvent], header: str | None) -> list[str]:
    """The id of every event: the hash of its canonical JSON, or for the n-th repeat of an
    identical event within the sender's stream, the Sealer's ``event_id_for(body, n)``.

    The header (``<index>=<id>/<ordinal>,...``) only says which events are repeats; each id it
    names is recomputed here and must match, so no client can store a body under an id of its
    choosing (and so pre-empt the real event, then dropped as a duplicate).
    """
    ids = [hashlib.sha256(e.raw).hexdigest() for e in events]
    if not header:
        return ids
    parts = header.split(",")
    if len(parts) > len(events):
        raise ValidationFailed(f"{IDS_HEADER} names {len(parts)} ids for {len(events)} events")
    for part in parts:
        index_text, sep, value = part.strip().partition("=")
        claimed, slash, ordinal_text = value.partition("/")
        if (
            not sep
            or not index_text.isdigit()
            or not _HEX64.fullmatch(claimed)
            or (slash and not (ordinal_text.isdigit() and len(ordinal_text) <= 9))
        ):
            raise ValidationFailed(f"malformed {IDS_HEADER} entry {part.strip()[:80]!r}")
        index = int(index_text)
        if index >= len(events):
            raise ValidationFailed(f"{IDS_HEADER} names event {index} of {len(events)}")
        body = events[index].raw
        ordinals = (int(ordinal_text),) if slash else range(MAX_UNNAMED_ORDINAL + 1)
        if not any(event_id_for(body, n) == claimed for n in ordinals):
            raise ValidationFailed(
                f"{IDS_HEADER} entry {part.strip()[:80]!r} is not an id of that event (a repeat's "
                "id is the hash of its canonical JSON and its ordinal)",
                index=index,
            )
        ids[index] = claimed
    return ids
