"""Envelopes into a background delivery, with no second reduction.

A driver that runs its own ``Pipeline`` (the tap) already has sealed envelopes; to deliver them
durably it hands them to a :class:`BackgroundDelivery` whose pipeline is a
:class:`SealedPipeline`: the journal, the bounded queue, the spill file, the spool and the send
loop all apply, and each fact is reduced once, by the driver, whatever number of outputs it has.
:class:`SealedDelivery` is that delivery seen as a processor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any, cast

from agentlytics.config import DeliveryConfig
from agentlytics.events.envelope import Envelope
from agentlytics.facts import Fact
from agentlytics.observe.deferred import Deferred
from agentlytics.pipeline import Pipeline

from .worker import BackgroundDelivery


class SealedPipeline(Pipeline):
    """A pipeline for items that already are sealed events: passed through, in order."""

    def ingest_into(self, facts: Iterable[Fact | Deferred], out: list[Envelope]) -> None:
        start = len(out)
        try:
            for item in cast("Iterable[Envelope]", facts):
                out.append(item)
        finally:
            self.events += len(out) - start


class SealedDelivery:
    """A :class:`~agentlytics.delivery.processor.Processor` over a background delivery of
    sealed envelopes (its ``submit`` is a deque append: cheap on the emitting thread)."""

    def __init__(self, delivery: BackgroundDelivery) -> None:
        if delivery.pipeline_factory is not SealedPipeline:
            raise ValueError("a SealedDelivery needs a delivery whose pipeline is SealedPipeline")
        self.delivery = delivery

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> SealedDelivery:
        """The configured delivery (HTTP to ``config.endpoint``) for sealed envelopes."""
        return cls(BackgroundDelivery.from_config(config, pipeline_factory=SealedPipeline))

    def emit(self, batch: Sequence[Envelope]) -> bool:
        submit = self.delivery.submit
        for envelope in batch:
            submit(cast(Fact, envelope))  # a SealedPipeline passes it through unreduced
        return True

    def barrier(self, done: threading.Event) -> None:
        def wait() -> None:
            if self.delivery.flush():
                done.set()

        threading.Thread(target=wait, name="agentlytics-barrier", daemon=True).start()

    def flush(self, timeout: float | None = None) -> bool:
        return self.delivery.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        return self.delivery.close(timeout)

    def stats(self) -> dict[str, Any]:
        return self.delivery.stats()
