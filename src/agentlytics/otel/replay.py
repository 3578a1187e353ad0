"""``agentlytics replay --otlp URL``: captures → facts → the OTLP delivery → an OTLP endpoint.

It accounts for everything as ``replay --send`` does (``delivery.send.outcome``): delivered,
quarantined, pending in the spool (read back from it), and input dropped on the wire or in the
reducer, which the CLI shows in the same table and which ``--strict`` makes fatal.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentlytics.config import Config
from agentlytics.delivery.send import outcome
from agentlytics.delivery.spool import SpoolError
from agentlytics.errors import UserError, os_reason
from agentlytics.otel.delivery import otlp_delivery
from agentlytics.replay import submit_captures


@dataclass(slots=True)
class OtlpReplay:
    """What a ``replay --otlp`` did, for the CLI to print (``lines[0]`` first, then the drops
    table, then the rest) and to pick its exit code from."""

    lines: list[str]
    wire_drops: dict[str, int] = field(default_factory=dict)
    reducer_drops: dict[str, int] = field(default_factory=dict)
    evictions: dict[str, int] = field(default_factory=dict)
    delivery_drops: dict[str, int] = field(default_factory=dict)
    #: Every event delivered (none pending, quarantined or lost on the way).
    complete: bool = False
    #: Files refused whole (not captures), with why: never read, so never exported.
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def input_dropped(self) -> int:
        """Input lost before it became events: what ``--strict`` fails on."""
        return sum(self.wire_drops.values()) + sum(self.reducer_drops.values())


def replay_otlp(
    captures: Sequence[Path], endpoint: str, config: Config, *, spool: Path | None = None
) -> OtlpReplay:
    """Export every event of the captures and account for them.

    Without ``spool`` a temporary one is used and removed when everything was delivered;
    otherwise what is left stays there (the report says where) for the next run to send.
    """
    temp = tempfile.mkdtemp(prefix="agentlytics-otlp-") if spool is None else None
    where = str(spool) if spool is not None else str(temp)
    try:
        # the captures are the journal: a killed replay is simply run again
        delivery, holder = otlp_delivery(config, endpoint, spool=where, journal=False)
    except (OSError, SpoolError, sqlite3.Error) as exc:
        raise UserError(
            f"cannot use the spool {where}: {os_reason(exc)}; pass --spool a writable directory"
        ) from exc
    try:
        result = submit_captures(captures, delivery)
        flushed = delivery.flush(config.delivery.flush_timeout)
    finally:
        delivery.close(1.0)
    stats = {**delivery.stats(), "flushed": flushed}
    report = outcome(result, stats, Path(where))
    sinks = holder.sinks
    records = sum(s.records for s in sinks)
    metric_requests = sum(s.metric_requests for s in sinks)
    lines = [
        f"Exported {result.files} capture(s), {result.lines} lines → {result.facts} facts → "
        f"{stats['spooled_events']} events to {endpoint}: {stats['delivered']} delivered "
        f"({records} log records, {metric_requests} metrics request(s)), "
        f"{stats['quarantined']} quarantined, {stats['retries']} retr(ies)."
    ]
    redacted = sum(s.redacted for s in sinks)
    if redacted:
        lines.append(f"{redacted} attribute(s) withheld by the privacy checks")
    rejected = sum(s.rejected for s in sinks)
    if rejected:
        lines.append(f"the receiver rejected {rejected} record(s) (partial success)")
    refused = [s.last_metric_error for s in sinks if s.metric_errors]
    if refused:
        lines.append(f"metrics were refused ({refused[-1]}); [otlp] metrics = false turns them off")
    lines += report.lines[1:]
    if temp is not None and report.left_in_spool:
        lines.append(f"`agentlytics replay --otlp {endpoint} --spool {temp} …` sends them.")
    if temp is not None and report.complete:
        shutil.rmtree(temp, ignore_errors=True)
    return OtlpReplay(
        lines=lines,
        wire_drops=dict(result.drops.counts),
        reducer_drops=dict(stats["reducer_drops"]),
        evictions=dict(stats["evictions"]),
        delivery_drops=report.delivery_drops,
        complete=report.complete,
        refused=list(result.rejected),
    )
