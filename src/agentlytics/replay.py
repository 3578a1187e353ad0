"""Replay capture files: capture → ``Pipeline`` → processors (the `agentlytics replay` job).

:func:`replay` writes the sealed events inline to its sinks (a :class:`SimpleProcessor`);
:func:`submit_captures` (``replay --send``) hands the facts to the library's background
delivery, whose worker runs the same pipeline in front of the spooling processor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentlytics.delivery.processor import SimpleProcessor
from agentlytics.delivery.send import SendResult
from agentlytics.drops import Drops
from agentlytics.events.envelope import Envelope
from agentlytics.families import FAMILIES
from agentlytics.library.delivery import Delivery
from agentlytics.observe.capture import not_a_capture, open_capture
from agentlytics.observe.edge import WireObserver
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink
from agentlytics.warehouse.projects import ProjectSink

if TYPE_CHECKING:
    from rich.console import Console

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
    #: Threads by where their repo hash came from: ``capture`` metadata or ``local git``.
    repo_sources: dict[str, int] = field(default_factory=dict)
    #: Threads with a recorded repo (``thread_repo`` metadata lines), over all captures.
    thread_repos: int = 0
    #: Files skipped because their first lines show they are not captures: (path, why).
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: Processes the files were replayed in (``replay --jobs``; 1 = this one).
    jobs: int = 1


def replay(
    captures: Sequence[Path | str],
    sinks: Sequence[Sink],
    on_file_done: Callable[[Path | str], None] | None = None,
) -> ReplayResult:
    """Replay each capture as its own connection; every event reaches every sink, in order."""
    pipeline = Pipeline()
    processor = SimpleProcessor(sinks)
    result = ReplayResult(drops=pipeline.drops)
    pending: list[Envelope] = []

    def flush() -> None:
        processor.emit(pending)
        pending.clear()

    for capture in captures:
        why = None if str(capture) == "-" else not_a_capture(capture)
        if why is not None:
            result.rejected.append((str(capture), why))
            continue
        observer = pipeline.connection()
        observer.source = Path(capture).name
        # The per-line loop: locals only, and events appended straight to the pending batch.
        observe, ingest_into = observer.observe_line, pipeline.ingest_into
        facts_seen = 0
        with open_capture(capture) as lines:
            for line in lines:
                facts = observe(line)
                if facts:
                    facts_seen += len(facts)
                    ingest_into(facts, pending)
                    if len(pending) >= BATCH:
                        flush()
        result.facts += facts_seen
        result.lines += observer.lineno
        pending += pipeline.close(observer)
        for source, n in observer.synth.repo_source_counts().items():
            result.repo_sources[source] = result.repo_sources.get(source, 0) + n
        repos = list(observer.synth.recorded_repos.values())
        if repos:
            result.thread_repos += len(repos)
            for sink in sinks:
                if isinstance(sink, ProjectSink):
                    sink.write_thread_projects(repos)
        result.files += 1
        if on_file_done is not None:
            on_file_done(capture)
    flush()
    result.events = pipeline.events
    state = pipeline.reducer.state
    result.reducer_drops = dict(state.drops)
    result.evictions = dict(state.evictions)
    return result


def submit_captures(captures: Sequence[Path | str], delivery: Delivery) -> SendResult:
    """``replay --send``: observe each capture as its own connection and submit every fact,
    in order, to a delivery (the library's background delivery with an HTTP sink)."""
    result = SendResult()
    for connection, capture in enumerate(captures):
        why = None if str(capture) == "-" else not_a_capture(capture)
        if why is not None:  # as a local replay does: one clear line, not "malformed line"s
            result.rejected.append((str(capture), why))
            continue
        observer = WireObserver(connection, result.drops, "stdio", families=FAMILIES)
        observer.source = Path(capture).name
        with open_capture(capture) as lines:
            for line in lines:
                for fact in observer.observe_line(line):
                    delivery.submit(fact)
                    result.facts += 1
        for fact in observer.close():
            delivery.submit(fact)
            result.facts += 1
        result.lines += observer.lineno
        result.files += 1
    return result


def repo_source_line(result: ReplayResult) -> str:
    """One report line: how many threads' repo hashes the captures recorded, and how many had
    to be looked up in this machine's git (which another machine may answer differently)."""
    recorded = result.repo_sources.get("capture", 0)
    local = result.repo_sources.get("local git", 0)
    if not recorded and not local:
        return ""
    parts = []
    if recorded:
        parts.append(f"{recorded} thread(s) from the capture's metadata")
    if local:
        parts.append(f"{local} thread(s) from this machine's git remote (no metadata recorded)")
    return "Repo hashes: " + "; ".join(parts) + "."


def print_repo_sources(console: Console, result: ReplayResult) -> None:
    """The replay report's line on where repo hashes came from (docs/attribution.md)."""
    line = repo_source_line(result)
    if line:
        console.print(line)
