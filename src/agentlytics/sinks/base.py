"""The one small interface every sink implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentlytics.events.envelope import Envelope


class SinkError(Exception):
    """A batch could not be written. ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    """Writes batches of sealed events. A batch is acknowledged only when ``write`` returns.

    Sinks must be idempotent on ``Envelope.event_id``: delivery is at-least-once.
    """

    def write(self, batch: Sequence[Envelope]) -> None: ...

    def close(self) -> None: ...
