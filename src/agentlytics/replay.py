"""Replay capture files through the pipeline into sinks (the `agentlytics replay` job)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentlytics.drops import Drops
from agentlytics.events.envelope import Envelope
from agentlytics.observe.capture import not_a_capture, open_capture
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink

#: Events are handed to sinks in batches of this many (one DuckDB insert per batch).
BATCH = 2_000


@dataclass(slots=True)
class ReplayResult:
    files: int = 0
    lines: int = 0
    facts: int = 0
    events: int = 0
    drops: Drops = field(default_factory=Drops)
    reducer_drops: dict[str, int] = field(default_factory=dict)
    evictions: dict[str, int] = field(default_factory=dict)
    #: Files skipped because their first lines show they are not captures: (path, why).
    rejected: list[tuple[str, str]] = field(default_factory=list)


def replay(
    captures: Sequence[Path | str],
    sinks: Sequence[Sink],
    on_file_done: Callable[[Path | str], None] | None = None,
) -> ReplayResult:
    """Replay each capture as its own connection; every event reaches every sink, in order."""
    pipeline = Pipeline()
    result = ReplayResult(drops=pipeline.drops)
    pending: list[Envelope] = []

    def flush() -> None:
        for sink in sinks:
            sink.write(pending)
        pending.clear()

    for capture in captures:
        why = None if str(capture) == "-" else not_a_capture(capture)
        if why is not None:
            result.rejected.append((str(capture), why))
            continue
        observer = pipeline.connection()
        observer.source = Path(capture).name
        observe, ingest = observer.observe_line, pipeline.ingest
        with open_capture(capture) as lines:
            for line in lines:
                facts = observe(line)
                if facts:
                    result.facts += len(facts)
                    events = ingest(facts)
                    if events:
                        pending += events
                        if len(pending) >= BATCH:
                            flush()
        result.lines += observer.lineno
        pending += pipeline.close(observer)
        result.files += 1
        if on_file_done is not None:
            on_file_done(capture)
    flush()
    result.events = pipeline.events
    state = pipeline.reducer.state
    result.reducer_drops = dict(state.drops)
    result.evictions = dict(state.evictions)
    return result
