"""The wire envelope of one analytics event, and its deterministic identity.

Every event is ``{"event_type": ..., "event_params": {...}}`` (spec §0.2). Once the reducer has
built an event it is *sealed* into an :class:`Envelope`: the canonical JSON bytes (key order =
struct declaration order, null keys present) plus an id that is a hash of those bytes. Sinks and
the collector de-duplicate on the id (spec decision 8), so replaying a capture twice, or a retried
HTTP batch, never stores a row twice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, ClassVar

import msgspec

_encoder = msgspec.json.Encoder()


class EventParams(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every ``event_params`` struct. Subclasses set ``EVENT_TYPE``.

    Unknown keys are rejected on decode: we own both ends of this wire, so an unexpected key is
    a bug to report, not a field to ignore.
    """

    EVENT_TYPE: ClassVar[str] = ""
    #: Sent in an HTTP request of its own (only accepted-line fingerprints, spec §5.3).
    ISOLATED: ClassVar[bool] = False


class TrackEvent(msgspec.Struct):
    """``{"event_type", "event_params"}``: the shape of every event on the wire."""

    event_type: str
    event_params: Any


class SkillInvocationEvent(msgspec.Struct):
    """``skill_invocation``: the one event with top-level keys besides its params (§4.1)."""

    event_type: str
    skill_id: str
    skill_name: str
    event_params: Any


def track(params: EventParams) -> TrackEvent:
    """Wrap params in the envelope with their event type."""
    return TrackEvent(event_type=type(params).EVENT_TYPE, event_params=params)


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """A sealed event: canonical JSON bytes plus the fields sinks index on.

    (A msgspec struct rather than a frozen dataclass: one is built per event on the replay's
    hot path, and a frozen dataclass's ``__init__`` costs several times more.)
    """

    event_id: str
    event_type: str
    body: bytes
    thread_id: str | None
    turn_id: str | None
    isolated: bool

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON data (decoded from the canonical bytes)."""
        result: dict[str, Any] = msgspec.json.decode(self.body)
        return result


def encode(event: TrackEvent | SkillInvocationEvent) -> bytes:
    """Canonical JSON of an event: declaration key order, nulls kept, no whitespace."""
    return _encoder.encode(event)


def event_id_for(body: bytes, ordinal: int = 0) -> str:
    """The id of the ``ordinal``-th identical copy of ``body`` within one stream."""
    if not ordinal:
        return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(body + b"\x00%d" % ordinal).hexdigest()


class Sealer:
    """Seals events into envelopes with deterministic ids.

    Some events are legitimately identical byte for byte inside one stream (two PreToolUse hook
    runs of one turn, say). The first copy's id is the plain hash; a repeat among the last
    ``window`` distinct bodies gets an ordinal mixed in, so it is not mistaken for a replayed
    duplicate. The same stream of facts therefore always gives the same ids, and replaying it
    again stores nothing new. The window bounds memory; repeats that far apart are not expected.
    """

    def __init__(self, window: int = 4_096) -> None:
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._window = window

    def seal(self, event: TrackEvent | SkillInvocationEvent) -> Envelope:
        body = _encoder.encode(event)
        digest = hashlib.sha256(body)
        key = digest.digest()
        seen = self._seen
        previous = seen.get(key)
        if previous is None:
            ordinal = 0
            if len(seen) >= self._window:
                seen.popitem(last=False)
        else:
            ordinal = previous + 1
        seen[key] = ordinal
        params = event.event_params
        return Envelope(
            event_id=digest.hexdigest() if not ordinal else event_id_for(body, ordinal),
            event_type=event.event_type,
            body=body,
            thread_id=getattr(params, "thread_id", None),
            turn_id=getattr(params, "turn_id", None),
            isolated=params.ISOLATED,
        )
