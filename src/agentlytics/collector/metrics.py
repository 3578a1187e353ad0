"""The collector's own Prometheus metrics, served on ``GET /metrics`` (prometheus-client).

One :class:`CollectorMetrics` per app, on a registry of its own (not the process-global one),
so two apps in one process (the tests) never share or clash over counters.

What is there: ingest requests by status; events accepted and stored (accepted minus stored =
repeats of events stored before); rejected requests by reason (the error code of the answer)
and the events they held; events per accepted batch; batch bytes; request and writer latency;
events waiting for the writer. The collector has no spool of its own — it answers 200 only once
the batch is committed, and clients keep unacknowledged batches in theirs — so the only backlog
is the OTLP export's (``collect --otlp``), shown when that is on.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

#: Latency buckets (seconds): sub-millisecond commits up to stalled writers.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_EVENT_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000)
BATCH_BYTE_BUCKETS = tuple(float(2**k) for k in range(8, 27, 2))  # 256 B … 64 MiB


class _Count(msgspec.Struct):
    events: list[msgspec.Raw]


class CollectorMetrics:
    """Counters, histograms and gauges of one collector app."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "agentlytics_collector_requests", "Ingest requests by HTTP status.", ["status"],
            registry=r,
        )  # fmt: skip
        self.events_accepted = Counter(
            "agentlytics_collector_events_accepted", "Events in accepted batches.", registry=r
        )
        self.events_stored = Counter(
            "agentlytics_collector_events_stored", "Events stored as new rows.", registry=r
        )
        self.rejected_requests = Counter(
            "agentlytics_collector_rejected_requests",
            "Rejected ingest requests by reason (the answer's error code).",
            ["reason"],
            registry=r,
        )
        self.rejected_events = Counter(
            "agentlytics_collector_rejected_events",
            "Events in rejected batches, by reason (0 for a body that could not be read).",
            ["reason"],
            registry=r,
        )
        self.batch_events = Histogram(
            "agentlytics_collector_batch_events", "Events per accepted batch.",
            buckets=BATCH_EVENT_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_bytes = Histogram(
            "agentlytics_collector_batch_bytes", "Bytes of event JSON per accepted batch.",
            buckets=BATCH_BYTE_BUCKETS, registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "agentlytics_collector_request_seconds", "Ingest request handling time.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.write_seconds = Histogram(
            "agentlytics_collector_write_seconds",
            "Writer latency: a batch handed to the writer until its group committed.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._gauge = Gauge

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read at scrape time (queue depth, export backlog)."""
        self._gauge(name, documentation, registry=self.registry).set_function(read)

    def observe(
        self,
        *,
        status: int,
        error: str | None,
        events: int,
        stored: int,
        body: bytes,
        seconds: float,
        write_seconds: float | None,
    ) -> None:
        """Account for one finished ingest request."""
        self.requests.labels(str(status)).inc()
        self.request_seconds.observe(seconds)
        if status == 200:
            self.events_accepted.inc(events)
            self.events_stored.inc(stored)
            self.batch_events.observe(events)
            self.batch_bytes.observe(len(body))
        else:
            reason = error or "error"
            self.rejected_requests.labels(reason).inc()
            self.rejected_events.labels(reason).inc(events or _count_events(body))
        if write_seconds is not None:
            self.write_seconds.observe(write_seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _count_events(body: bytes) -> int:
    """Events in a rejected body, if it is a readable ``{"events": [...]}`` (else 0)."""
    if not body:
        return 0
    try:
        return len(msgspec.json.decode(body, type=_Count).events)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return 0  # a body nested too deep is rejected for it (400); it counts no events
