"""The seam between the library API (``track_*``) and whatever delivers its facts.

``AnalyticsClient`` (the library API) builds facts and hands each one to a :class:`Delivery`.
A delivery runs them through the pipeline (reducer → sealed events) and emits the events to a
processor (``agentlytics.delivery``). :class:`InlineDelivery` does it on the caller's thread
with a :class:`SimpleProcessor` (tests, replays, scripts); the background delivery
(``worker.py``: bounded queue, reduce thread, spooling processor) does it off the caller's
thread so ``track_*`` never waits on I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentlytics.delivery.processor import Processor, SimpleProcessor
from agentlytics.facts import Fact
from agentlytics.observe.deferred import Deferred
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink


class Delivery(Protocol):
    """Accepts facts; gets the events they produce to storage."""

    def submit(self, fact: Fact | Deferred) -> None:
        """Hand over one fact (or a library call's deferred edge work). Must not block on I/O."""
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything submitted so far; False if the timeout expired first."""
        ...

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then release resources. Further submits are rejected."""
        ...


class InlineDelivery:
    """Reduces and writes on the caller's thread: simple, synchronous, for tests and scripts."""

    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        pipeline: Pipeline | None = None,
        processor: Processor | None = None,
    ) -> None:
        self.pipeline = pipeline if pipeline is not None else Pipeline()
        self.processor: Processor = processor if processor is not None else SimpleProcessor(sinks)
        self._closed = False

    def submit(self, fact: Fact | Deferred) -> None:
        if self._closed:
            raise RuntimeError("delivery is closed")
        events = self.pipeline.ingest([fact])
        if events:
            self.processor.emit(events)

    def flush(self, timeout: float | None = None) -> bool:
        return self.processor.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        self._closed = True
        return self.processor.close(timeout)
