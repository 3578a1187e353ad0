"""Processors: what happens to sealed events after the pipeline, in the OpenTelemetry style.

A source (capture file, live tap, library client) feeds a ``Pipeline``; the envelopes it seals
are emitted to processors, and processors drive sinks (:class:`~agentlytics.sinks.base.Sink`).
Delivery only ever sees envelopes: nothing here knows about facts, observers or the reducer.

- :class:`SimpleProcessor` writes each batch to its sinks inline, on the emitting thread
  (replay, tests, scripts, the tap's local sinks).
- :class:`~agentlytics.delivery.spooling.SpoolingProcessor` spools each batch durably and sends
  it from its own thread with batching, retries and quarantine (``--send``, the library).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agentlytics.events.envelope import Envelope
from agentlytics.sinks.base import Sink


class Processor(Protocol):
    """Takes batches of sealed envelopes; gets them to its sinks."""

    def emit(self, batch: Sequence[Envelope]) -> bool:
        """Take one batch (in emission order). False: not taken, the processor is aborting."""
        ...

    def barrier(self, done: threading.Event) -> None:
        """Set ``done`` once everything emitted before is delivered or set aside, without
        waiting for it here (a worker thread must not block on the network)."""
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for everything emitted so far; False if the timeout expired first."""
        ...

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded), then release the sinks. Further emits are rejected."""
        ...

    def stats(self) -> dict[str, Any]: ...


class SimpleProcessor:
    """Writes each batch to every sink on the emitting thread.

    ``on_error`` decides what a failing sink does (the tap counts it and relays on); without it
    the error propagates to the emitter.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        on_error: Callable[[Sink, Exception], None] | None = None,
    ) -> None:
        self.sinks = list(sinks)
        self.on_error = on_error
        self.emitted = 0
        self._closed = False

    def emit(self, batch: Sequence[Envelope]) -> bool:
        if self._closed:
            raise RuntimeError("processor is closed")
        if not batch:
            return True
        self.emitted += len(batch)
        for sink in self.sinks:
            if self.on_error is None:
                sink.write(batch)
                continue
            try:
                sink.write(batch)
            except Exception as exc:  # the caller chose to carry on past a failing sink
                self.on_error(sink, exc)
        return True

    def barrier(self, done: threading.Event) -> None:
        done.set()

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        if self._closed:
            return True
        self._closed = True
        for sink in self.sinks:
            sink.close()
        return True

    def stats(self) -> dict[str, Any]:
        return {"emitted": self.emitted, "sinks": [type(s).__name__ for s in self.sinks]}
