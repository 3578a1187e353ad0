"""``replay --jobs N``: one worker process per capture file, output identical to one core.

Each worker replays one file through a fresh :class:`Pipeline` whose connection number is the
one the single-process replay would give that file, and hands back its sealed events, drops and
counters — and, for a warehouse sink, the Arrow tables of the insert (the Python share of
storing: building columns and typed rows). The parent writes the events to the sinks in file
order, so every sink sees the same events in the same order as ``--jobs 1``; what is left to it
per event is DuckDB's own insert, a few large statements.

What one pipeline carries from one file into the next is made the same:

* event ids — the :class:`Sealer`'s window of recent bodies spans files. A worker seals its file
  with a fresh window, which gives the one-core ids unless one of the file's first ``window``
  distinct bodies is still in the one-core window where the file starts (only those can be:
  after that many new bodies, everything from before has left the window). So a worker also
  reports those first bodies' hashes and its final window; the parent keeps the one-core
  window from the final windows alone (no hashing, no per-event work) and re-seals a file only
  if its first hashes meet it (a body repeated across files, which real captures rarely do);
* reducer state — a file's connection closes at its end, taking its threads, turns, requests
  and reviews with it, so files that share no thread or turn id cannot see each other's state.
  Workers report the thread and turn ids of their facts; if two files share one (the same
  capture passed twice, a thread resumed in a later capture), the run goes on on one core from
  there (the files before it are replayed again for the pipeline's state, but what they
  stored is not written twice), so the output never depends on ``--jobs``.

Files are stored as their results arrive, in order, while the workers replay the next ones.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import msgspec
import pyarrow as pa

from agentlytics.drops import Drop, Drops
from agentlytics.events.envelope import Envelope, event_id_for
from agentlytics.observe.capture import not_a_capture, open_capture
from agentlytics.observe.meta import ThreadRepo
from agentlytics.pipeline import Pipeline
from agentlytics.replay import BATCH, ReplayResult, replay
from agentlytics.sinks.base import Sink
from agentlytics.warehouse.projects import ProjectSink
from agentlytics.warehouse.store import Prepared, batch_columns, prepare_columns

_envelopes = msgspec.msgpack.Decoder(list[Envelope])

#: The Sealer's window (distinct bodies an ordinal is counted over); see events/envelope.py.
WINDOW = 4_096

#: Events the parent stores in one group of statements: few statements (each has a fixed cost
#: of milliseconds), stored while the workers go on with the next files.
GROUP_EVENTS = 10_000


@dataclass(slots=True)
class FileReplay:
    """What one worker hands back for one capture file (events msgpack-encoded: cheap to ship)."""

    events: bytes
    count: int
    lines: int
    facts: int
    drops: Counter[str]
    samples: list[Drop]
    reducer_drops: Counter[str]
    evictions: Counter[str]
    repo_sources: dict[str, int]
    repos: list[ThreadRepo]
    ids: set[str] = field(default_factory=set)
    #: SHA-256 digests of the file's first ``WINDOW`` distinct bodies.
    head: set[bytes] = field(default_factory=set)
    #: The worker's Sealer window at the end of the file: (body digest, last ordinal), in order.
    window: list[tuple[bytes, int]] = field(default_factory=list)
    #: The warehouse insert's Arrow tables as IPC streams: ("events" or a typed table, bytes).
    tables: list[tuple[str, bytes]] | None = None

    def envelopes(self) -> list[Envelope]:
        """The events (rebuilt from the Arrow table if only that was shipped: it lacks
        ``isolated``, which the warehouse, the one sink that takes tables, does not read)."""
        if self.events or not self.tables:
            return _envelopes.decode(self.events) if self.events else []
        events = pa.ipc.open_stream(self.tables[0][1]).read_all()
        return [
            Envelope(i, t, p.encode(), th, tu, False)
            for i, t, th, tu, p in zip(*(c.to_pylist() for c in events.columns), strict=True)
        ]


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


def replay_file(
    connection: int, capture: str, prepare: bool = False, envelopes: bool = True
) -> FileReplay:
    """Replay one capture as connection number ``connection`` (in a worker process);
    ``prepare``: build the warehouse insert's Arrow tables; ``envelopes``: ship the events."""
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
        events=msgspec.msgpack.encode(out) if envelopes or not prepare else b"",
        count=len(out),
        lines=observer.lineno,
        facts=facts_seen,
        drops=pipeline.drops.counts,
        samples=pipeline.drops.samples,
        reducer_drops=state.drops,
        evictions=state.evictions,
        repo_sources=dict(sources),
        repos=list(observer.synth.recorded_repos.values()),
        ids=ids,
        head=first_bodies(out),
        window=list(pipeline.sealer._seen.items()),
        tables=_tables(prepare_columns(*batch_columns(out))) if prepare and out else None,
    )


def first_bodies(events: Sequence[Envelope], window: int = WINDOW) -> set[bytes]:
    """Digests of the first ``window`` distinct bodies: the only ones of a file that the
    one-core Sealer's window can hold from before the file (see :meth:`_Resealer.follow`)."""
    head: set[bytes] = set()
    for envelope in events:
        if len(head) >= window:
            break
        head.add(hashlib.sha256(envelope.body).digest())
    return head


def _tables(prepared: Prepared) -> list[tuple[str, bytes]]:
    """The tables as Arrow IPC streams (one copy each way, no per-row work)."""
    out = []
    for name, table in [("events", prepared.events), *prepared.typed]:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append((name, sink.getvalue().to_pybytes()))
    return out


def _prepared(parts: list[list[tuple[str, bytes]]]) -> Prepared:
    """Several files' tables as one batch (each table concatenated, in file order)."""
    tables: dict[str, list[pa.Table]] = {}
    for part in parts:
        for name, data in part:
            tables.setdefault(name, []).append(pa.ipc.open_stream(data).read_all())
    events = pa.concat_tables(tables.pop("events"))
    return Prepared(events, [(name, pa.concat_tables(t)) for name, t in tables.items()])


class _Resealer:
    """The single-process :class:`Sealer`'s window, re-run over already sealed envelopes."""

    def __init__(self, window: int = WINDOW) -> None:
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._window = window

    def follow(self, part: FileReplay) -> bool:
        """Advance the window past a file a worker sealed, if its ids are the one-stream ids
        (none of its first bodies is in the window); False, unchanged, if it must be re-sealed.

        The window after the file is then the worker's final window appended to this one and
        cut to size: a FIFO of first sightings, with the same ordinals (a key the file saw again
        after this window forgot it moves to its new place).
        """
        seen = self._seen
        if not part.head.isdisjoint(seen):
            return False
        if len(part.window) >= self._window:  # the file alone fills the window
            self._seen = OrderedDict(part.window)
            return True
        for key, ordinal in part.window:
            seen.pop(key, None)
            seen[key] = ordinal
        while len(seen) > self._window:
            seen.popitem(last=False)
        return True

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

    # Workers build the warehouse's Arrow tables when a sink takes them (DuckDBSink), and
    # ship the events themselves only for the other sinks.
    prepare = any(isinstance(sink, PreparedSink) for sink in sinks)
    plain = [sink for sink in sinks if not isinstance(sink, PreparedSink)]
    tasks = [(n, str(c), prepare, bool(plain)) for n, c in accepted]
    result = ReplayResult(jobs=min(jobs, len(accepted)))
    result.rejected = rejected
    resealer = _Resealer()
    kept: Counter[str] = Counter()
    group: list[list[tuple[str, bytes]]] = []
    grouped = 0
    seen: set[str] = set()

    def store_group() -> None:
        nonlocal grouped
        if group:
            prepared = _prepared(group)
            for sink in sinks:
                if isinstance(sink, PreparedSink):
                    sink.write_prepared(prepared)
            group.clear()
        grouped = 0

    # Fork on Linux: a worker starts in milliseconds with the modules already imported (a
    # spawned one re-imports the CLI, ~0.5 s each). Workers touch no DuckDB or thread the
    # parent may hold. Elsewhere (macOS: fork is unsafe there) spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    if prepare:
        # pyarrow's first ``pa.array`` imports pandas (~0.3 s, to check for a DataFrame): once
        # here, where a one-core replay pays it too, rather than once in every worker.
        pa.array([], pa.string())
    # Objects the parent has are frozen out of the collector's sight while the workers are
    # forked: a worker's garbage collections would otherwise walk them all, writing to every
    # page it inherited (copy-on-write faults: measured ~0.1 s of CPU per file).
    gc.freeze()
    with context.Pool(result.jobs, _init_worker, (diff._KEY,)) as pool:
        gc.unfreeze()
        # In file order as each is done, so the parent stores file k while workers replay k+1…
        parts = pool.imap(_replay_task, tasks, chunksize=1)
        for (_, capture), part in zip(accepted, parts, strict=True):
            if not seen.isdisjoint(part.ids):
                # This file shares a thread or turn with an earlier one: one pipeline's state
                # would join them. Replay on one core; what is already stored stays.
                store_group()
                return _replay_rest(captures, sinks, on_file_done, result.files, result.events)
            seen |= part.ids
            tables = part.tables
            if resealer.follow(part):
                events = part.envelopes() if plain else []
            else:
                # A body sealed in an earlier file repeats here: seal as one stream would.
                events = [resealer.reseal(e) for e in part.envelopes()]
                if prepare and events:
                    tables = _tables(prepare_columns(*batch_columns(events)))
            for start in range(0, len(events), BATCH):
                for sink in plain:
                    sink.write(events[start : start + BATCH])
            if tables is not None:
                group.append(tables)
                grouped += part.count
                if grouped >= GROUP_EVENTS:
                    store_group()
            result.events += part.count
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
    store_group()
    return result


def _replay_task(task: tuple[int, str, bool, bool]) -> FileReplay:
    return replay_file(*task)


class _Skip:
    """A sink that drops the first ``skip`` events written to it (already stored), then passes
    the rest on; ``thread_projects`` rows pass on always (an upsert: rewriting one is a no-op)."""

    def __init__(self, sink: Sink, skip: int) -> None:
        self.sink = sink
        self.skip = skip

    def write(self, batch: Sequence[Envelope]) -> None:
        if self.skip:
            cut = min(self.skip, len(batch))
            batch, self.skip = batch[cut:], self.skip - cut
        if batch:
            self.sink.write(batch)

    def write_thread_projects(self, repos: list[ThreadRepo]) -> None:
        if isinstance(self.sink, ProjectSink):
            self.sink.write_thread_projects(repos)

    def close(self) -> None:
        pass


def _replay_rest(
    captures: Sequence[Path | str],
    sinks: Sequence[Sink],
    on_file_done: Callable[[Path | str], None] | None,
    files: int,
    events: int,
) -> ReplayResult:
    """:func:`replay` on one core, after the first ``files`` files (``events`` events) were
    stored in parallel: those files are replayed again (the pipeline's state must be the one
    core's) but their events, identical, are not written again."""
    done = 0

    def file_done(capture: Path | str) -> None:
        nonlocal done
        done += 1
        if done > files and on_file_done is not None:
            on_file_done(capture)

    return replay(captures, [_Skip(sink, events) for sink in sinks], file_done)


@runtime_checkable
class PreparedSink(Protocol):
    """A sink that stores a :class:`Prepared` batch (the DuckDB warehouse)."""

    def write_prepared(self, prepared: Prepared) -> None: ...


__all__ = [
    "Drops",
    "FileReplay",
    "PreparedSink",
    "auto_jobs",
    "default_jobs",
    "replay_file",
    "replay_parallel",
]
