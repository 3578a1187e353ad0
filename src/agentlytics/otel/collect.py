"""``agentlytics collect --otlp URL``: the collector also exports what it stores over OTLP.

Each batch the collector committed is handed to the OTLP delivery (``otel.delivery``): its
events go to the export spool at once and are sent from there, so a slow or absent OTLP
endpoint never slows ingestion, and what was stored but not yet exported survives a restart
(the next ``collect --otlp`` with the same spool sends it). ``GET /metrics`` then also shows the
export backlog.
"""

from __future__ import annotations

from agentlytics.collector.metrics import CollectorMetrics
from agentlytics.collector.serve import serve
from agentlytics.config import CollectorConfig, Config
from agentlytics.otel.delivery import EventForwarder


def serve_exporting(
    collector: CollectorConfig, config: Config, endpoint: str, *, allow_no_auth: bool = False
) -> None:
    """Run the collector with an OTLP export of every accepted batch, until interrupted."""
    forwarder = EventForwarder(config, endpoint)
    metrics = CollectorMetrics()
    metrics.gauge(
        "agentlytics_collector_otlp_backlog_events",
        "Stored events not yet exported over OTLP (queued or pending in the export spool).",
        forwarder.backlog,
    )
    try:
        serve(collector, allow_no_auth=allow_no_auth, metrics=metrics, on_stored=forwarder)
    finally:
        forwarder.close(config.delivery.exit_timeout)
