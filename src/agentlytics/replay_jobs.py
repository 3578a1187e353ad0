"""``replay --jobs N``: one worker process per capture file, output identical to one core.

Each worker replays one file through a fresh :class:`Pipeline` whose connection number is the
one the single-process replay would give that file, and hands back its sealed events, drops and
counters. The parent writes the events to the sinks in file order, so every sink sees the same
events in the same order as ``--jobs 1``.

What one pipeline carries from one file into the next is made the same:

* event ids — the :class:`Sealer`'s window of recent bodies spans files, so the parent re-runs
  it over the events in order (a body repeated across files gets the same ordinal as on one
  core);
* reducer state — a file's connection closes at its end, taking its threads, turns, requests
  and reviews with it, so files that share no thread or turn id cannot see each other's state.
  Workers report the thread and turn ids of their facts; if two files share one (the same
  capture passed twice, a thread resumed in a later capture), the whole run is replayed on one
  core instead, so the output never depends on ``--jobs``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from agentlytics.drops import Drop, Drops
from agentlytics.events.envelope import Envelope, event_id_for
from agentlytics.observe.capture import not_a_capture, open_capture
from agentlytics.observe.meta import ThreadRepo
from agentlytics.pipeline import Pipeline
from agentlytics.replay import BATCH, ReplayResult, replay
from agentlytics.sinks.base import Sink
from agentlytics.warehouse.projects import ProjectSink

_envelopes = msgspec.msgpack.Decoder(list[Envelope])


@dataclass(slots=True)
class FileReplay:
    """What one worker hands back for one capture file (events msgpack-encoded: cheap to ship)."""

    events: bytes
    lines: int
    facts: int
    drops: Counter[str]
    samples: list[Drop]
    reducer_drops: Counter[str]
    evictions: Counter[str]
    repo_sources: dict[str, int]
    repos: list[ThreadRepo]
    ids: set[str] = field(default_factory=set)


def default_jobs() -> int:
    """All the cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


#: Below this many bytes of captures in all, ``--jobs`` left to its default replays on one core:
#: starting a worker process (~0.5 s of imports) costs more than it saves.
AUTO_MIN_BYTES = 8 << 20


def auto_jobs(captures: Sequence[Path | str]) -> int:
    """``--jobs`` left to its default: every core, if the captures are big enough to pay."""
    total = 0
    for capture in captures:
        if str(capture) != "-":
            with contextlib.suppress(OSError):  # a missing file is reported by the replay
                total += os.path.getsize(capture)
    return default_jobs() if total >= AUTO_MIN_BYTES else 1


def _init_worker(key: bytes | None) -> None:
    from agentlytics.fingerprints.diff import set_fingerprint_key

    set_fingerprint_key(key)


def replay_file(connection: int, capture: str) -> FileReplay:
    """Replay one capture as connection number ``connection`` (in a worker process)."""
    pipeline = Pipeline()
    pipeline._next_connection = connection
    observer = pipeline.connection()
    observer.source = Path(capture).name
    observe, ingest_into = observer.observe_line, pipeline.ingest_into
    out: list[Envelope] = []
    ids: set[str] = set()
    add = ids.add
    facts_seen = 0
    with open_capture(capture) as lines:
        for line in lines:
            facts = observe(line)
            if facts:
                facts_seen += len(facts)
                for fact in facts:
                    thread_id = getattr(fact, "thread_id", None)
                    if thread_id.__class__ is str:
                        add(thread_id)
                    turn_id = getattr(fact, "turn_id", None)
                    if turn_id.__class__ is str:
                        add("turn:" + turn_id)
                ingest_into(facts, out)
    out += pipeline.close(observer)
    sources = observer.synth.repo_source_counts()
    state = pipeline.reducer.state
    return FileReplay(
        events=msgspec.msgpack.encode(out),
        lines=observer.lineno,
        facts=facts_seen,
        drops=pipeline.drops.counts,
        samples=pipeline.drops.samples,
        reducer_drops=state.drops,
        evictions=state.evictions,
        repo_sources=dict(sources),
        repos=list(observer.synth.recorded_repos.values()),
        ids=ids,
    )


class _Resealer:
    """The single-process :class:`Sealer`'s window, re-run over already sealed envelopes."""

    def __init__(self, window: int = 4_096) -> None:
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._window = window

    def reseal(self, envelope: Envelope) -> Envelope:
        key = hashlib.sha256(envelope.body).digest()
        seen = self._seen
        previous = seen.get(key)
        if previous is None:
            ordinal = 0
            if len(seen) >= self._window:
                seen.popitem(last=False)
        else:
            ordinal = previous + 1
        seen[key] = ordinal
        event_id = key.hex() if not ordinal else event_id_for(envelope.body, ordinal)
        if event_id == envelope.event_id:
            return envelope
        return msgspec.structs.replace(envelope, event_id=event_id)


def replay_parallel(
    captures: Sequence[Path | str],
    sinks: Sequence[Sink],
    jobs: int,
    on_file_done: Callable[[Path | str], None] | None = None,
) -> ReplayResult:
    """:func:`replay` with one process per capture file; the same result, events and order."""
    accepted: list[tuple[int, Path | str]] = []
    rejected: list[tuple[str, str]] = []
    for capture in captures:
        why = None if str(capture) == "-" else not_a_capture(capture)
        if why is not None:
            rejected.append((str(capture), why))
        else:
            accepted.append((len(accepted), capture))
    if jobs <= 1 or len(accepted) <= 1 or any(str(c) == "-" for _, c in accepted):
        return replay(captures, sinks, on_file_done)

    import multiprocessing

    from agentlytics.fingerprints import diff

    # Fork on Linux: a worker starts in milliseconds with the modules already imported (a
    # spawned one re-imports the CLI, ~0.5 s each). Workers touch no DuckDB or thread the
    # parent may hold. Elsewhere (macOS: fork is unsafe there) spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(min(jobs, len(accepted)), _init_worker, (diff._KEY,)) as pool:
        results = pool.starmap(replay_file, [(n, str(c)) for n, c in accepted], chunksize=1)
    seen: set[str] = set()
    for part in results:
        if not seen.isdisjoint(part.ids):
            # Two files share a thread or turn: one pipeline's state would join them.
            return replay(captures, sinks, on_file_done)
        seen |= part.ids

    result = ReplayResult(jobs=min(jobs, len(accepted)))
    result.rejected = rejected
    resealer = _Resealer()
    kept: Counter[str] = Counter()
    for (_, capture), part in zip(accepted, results, strict=True):
        events = [resealer.reseal(e) for e in _envelopes.decode(part.events)]
        for start in range(0, len(events), BATCH):
            for sink in sinks:
                sink.write(events[start : start + BATCH])
        result.events += len(events)
        result.lines += part.lines
        result.facts += part.facts
        for drop in part.samples:
            if kept[drop.reason] < result.drops.samples_per_reason:
                kept[drop.reason] += 1
                result.drops.samples.append(drop)
        result.drops.counts.update(part.drops)
        for name, value in part.reducer_drops.items():
            result.reducer_drops[name] = result.reducer_drops.get(name, 0) + value
        for name, value in part.evictions.items():
            result.evictions[name] = result.evictions.get(name, 0) + value
        for source, value in part.repo_sources.items():
            result.repo_sources[source] = result.repo_sources.get(source, 0) + value
        if part.repos:
            result.thread_repos += len(part.repos)
            for sink in sinks:
                if isinstance(sink, ProjectSink):
                    sink.write_thread_projects(part.repos)
        result.files += 1
        if on_file_done is not None:
            on_file_done(capture)
    return result


__all__ = ["Drops", "FileReplay", "auto_jobs", "default_jobs", "replay_file", "replay_parallel"]
