"""The one small interface every sink implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentlytics.events.envelope import Envelope


class SinkError(Exception):
    """A batch could not be written. ``retryable`` says whether trying again may succeed.

    ``retry_after`` (seconds) is the server's own hint (HTTP ``Retry-After``); delivery waits at
    least that long. ``split`` says the failure may be caused by some events of the batch only
    (a 400 or 413), so delivery bisects the batch to quarantine just the culprits.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        split: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.split = split
        self.status = status


class Sink(Protocol):
    """Writes batches of sealed events. A batch is acknowledged only when ``write`` returns.

    Sinks must be idempotent on ``Envelope.event_id``: delivery is at-least-once. A sink whose
    ``write`` may run on several threads at once says so with a ``concurrent = True`` attribute
    (optional; delivery then keeps several requests in flight at once).
    """

    def write(self, batch: Sequence[Envelope]) -> None: ...

    def close(self) -> None: ...
