"""``agentlytics replay --otlp URL``: captures → facts → the OTLP delivery → an OTLP endpoint."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from agentlytics.config import Config
from agentlytics.otel.delivery import otlp_delivery
from agentlytics.replay import submit_captures


def replay_otlp(
    captures: Sequence[Path],
    endpoint: str,
    config: Config,
    *,
    spool: Path | None = None,
    quiet: bool = False,
) -> int:
    """Export every event of the captures; the exit code (1 if anything was not delivered).

    Without ``spool`` a temporary one is used and removed when everything was delivered;
    otherwise what is left stays there (its path is printed) for the next run to send.
    """
    console = Console(stderr=True)
    temp = tempfile.mkdtemp(prefix="agentlytics-otlp-") if spool is None else None
    where = str(spool) if spool is not None else temp
    delivery, holder = otlp_delivery(config, endpoint, spool=where)
    try:
        result = submit_captures(captures, delivery)
        flushed = delivery.flush(config.delivery.flush_timeout)
        stats = delivery.stats()
    finally:
        delivery.close(1.0)
    records = sum(s.records for s in holder.sinks)
    rejected = sum(s.rejected for s in holder.sinks)
    redacted = sum(s.redacted for s in holder.sinks)
    metric_requests = sum(s.metric_requests for s in holder.sinks)
    if not quiet:
        console.print(
            f"[bold]Exported[/bold] {result.files} capture(s), {result.lines} lines → "
            f"{result.facts} facts → {stats['spooled_events']} events to {endpoint}: "
            f"{stats['delivered']} delivered ({records} log records, {metric_requests} metrics "
            f"request(s)), {stats['quarantined']} quarantined, {stats['retries']} retr(ies)."
        )
        if redacted:
            console.print(f"{redacted} attribute(s) withheld by the privacy checks")
        if rejected:
            console.print(f"the receiver rejected {rejected} record(s) (partial success)")
        refused = [s.last_metric_error for s in holder.sinks if s.metric_errors]
        if refused:
            console.print(
                f"metrics were refused ({refused[-1]}); [otlp] metrics = false turns them off"
            )
        if stats["last_error"]:
            console.print(f"last error: {stats['last_error']}")
    complete = flushed and not stats["quarantined"]
    if temp is not None and complete:
        shutil.rmtree(temp, ignore_errors=True)
    elif not complete:
        console.print(f"Undelivered or quarantined events are kept in {where}")
    return 0 if complete else 1
