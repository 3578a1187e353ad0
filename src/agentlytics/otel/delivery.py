"""The OTLP sink behind the project's background delivery: spool, retries, quarantine.

Every entry point (``replay --otlp``, ``tap --otlp``, ``collect --otlp``, a program calling
:func:`otlp_delivery`) exports through a :class:`BackgroundDelivery` whose sink is an
:class:`OtlpSink`, so the HTTP sink's guarantees hold (docs/delivery.md): an event is in the
durable spool before it is sent, a retryable failure (connection refused, timeout, 429, 502,
503, 504) keeps it there and retries with backoff, a final one quarantines it with the
receiver's reason, and nothing is acknowledged before the receiver answered 2xx.

The OTLP delivery has a spool directory of its own (``[otlp] spool``, default ``otlp`` under
the delivery spool): a spool slot is drained by whichever process opens it next, with that
process's sink, so events meant for an OTLP endpoint must never share a slot with events meant
for a collector.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import cast

import msgspec

from agentlytics.config import Config, OtlpConfig, PricingConfig
from agentlytics.delivery.spool import pending_events
from agentlytics.events.envelope import Envelope
from agentlytics.facts import Fact
from agentlytics.library.sealed import SealedPipeline
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink
from agentlytics.sinks.config import OtlpSinkConfig, from_config
from agentlytics.sinks.otlp import OtlpSink


def otlp_spool_dir(config: Config) -> str:
    """``[otlp] spool``, else ``otlp`` under ``[delivery] spool``."""
    return config.otlp.spool or os.path.join(config.delivery.spool, "otlp")


class SinkHolder:
    """A sink factory that remembers the sinks it made (to report their statistics)."""

    def __init__(self, otlp: OtlpConfig, pricing: PricingConfig | None = None) -> None:
        self.config = otlp
        self.pricing = pricing
        self.sinks: list[OtlpSink] = []

    def __call__(self) -> Sink:
        sink = from_config(OtlpSinkConfig(otlp=self.config, pricing=self.pricing))
        self.sinks.append(sink)
        return sink


def otlp_delivery(
    config: Config,
    endpoint: str | None = None,
    *,
    spool: str | None = None,
    pipeline_factory: Callable[[], Pipeline] = Pipeline,
    journal: bool | None = None,
) -> tuple[BackgroundDelivery, SinkHolder]:
    """A background delivery to the OTLP endpoint (``endpoint`` or ``[otlp] endpoint``), with
    ``[delivery]``'s settings; ``journal`` overrides ``[delivery] journal`` (a replay needs
    none: its captures are the journal)."""
    otlp = config.otlp
    if endpoint is not None:
        otlp = msgspec.structs.replace(otlp, endpoint=endpoint)
    if not otlp.endpoint:
        raise ValueError("no OTLP endpoint: --otlp URL, [otlp] endpoint, AGENTLYTICS_OTLP_ENDPOINT")
    holder = SinkHolder(otlp, config.pricing)
    d = config.delivery
    delivery = BackgroundDelivery(
        holder,
        spool_dir=spool or otlp_spool_dir(config),
        queue_size=d.queue_size,
        full_policy=d.full_policy,
        block_timeout=d.block_timeout,
        batch_max_events=d.batch_max_events,
        batch_max_bytes=d.batch_max_bytes,
        linger_ms=d.linger_ms,
        backoff_initial=d.backoff_initial,
        backoff_max=d.backoff_max,
        flush_timeout=d.flush_timeout,
        exit_timeout=d.exit_timeout,
        spool_sync=d.spool_sync,
        journal=d.journal if journal is None else journal,
        journal_ms=d.journal_ms,
        journal_records=d.journal_records,
        journal_max_bytes=d.journal_max_bytes,
        pipeline_factory=pipeline_factory,
    )
    return delivery, holder


class EventForwarder:
    """Sealed events → the OTLP delivery (``collect --otlp``): what the collector stored."""

    def __init__(self, config: Config, endpoint: str | None = None) -> None:
        self.delivery, self.sinks = otlp_delivery(config, endpoint, pipeline_factory=SealedPipeline)

    def __call__(self, events: Sequence[Envelope]) -> None:
        submit = self.delivery.submit
        for event in events:
            submit(cast(Fact, event))  # a SealedPipeline passes it through unreduced

    def backlog(self) -> float:
        """Stored events not yet exported: waiting in the delivery's queue, or pending in its
        spool slot. The slot is counted, not this process's own tally, because a restarted
        collector sends what the previous one left there (NaN if the slot cannot be read)."""
        stats = self.delivery.stats()
        pending = 0
        if stats["spool"] is not None and stats["spool_exists"]:
            try:
                pending = pending_events(stats["spool"])
            except sqlite3.Error:
                return math.nan
        return float(stats["queued"] + pending)

    def close(self, timeout: float | None = None) -> bool:
        return self.delivery.close(timeout)
