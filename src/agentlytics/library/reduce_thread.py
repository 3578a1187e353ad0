"""The worker's reduce thread: queue (and spill file) → ``Pipeline`` → spooling processor.

One thread drains the bounded queue the journal forwards to (and, in order, the spill file
when the queue overflowed), reduces the items through the worker's ``Pipeline`` and emits the
sealed events to the :class:`~agentlytics.delivery.spooling.SpoolingProcessor` with the
progress marks they account for (journal records, spill-file offset), stored in the same spool
transaction. It also replays dead processes' journals at start (recovery) and starts a new
journal whenever every record is reduced and no connection is open.

A mixin of :class:`~agentlytics.library.worker.BackgroundDelivery`: the state it reads is the
worker's (see ``BackgroundDelivery._init_state``).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentlytics.delivery.retry import Counters
from agentlytics.delivery.spool import Overflow
from agentlytics.delivery.spooling import SpoolingProcessor
from agentlytics.events.envelope import Envelope
from agentlytics.facts import ConnectionClosed, Fact
from agentlytics.observe.deferred import ClosedConnection, Deferred
from agentlytics.pipeline import Pipeline

from .journal import Journal, iter_items, journal_id, read_frames

#: Most facts the reduce thread takes from the queue per spool transaction.
DRAIN_MAX = 2_000


class _Flush:
    """A flush request travelling through the queue behind everything submitted before it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Control:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_STOP = _Control("stop")
_WAKE = _Control("wake")


class ReduceThread:
    """The reduce thread's half of the worker (module doc)."""

    _q: queue.SimpleQueue[Any]
    _journal: Journal | None
    _journal_upto: int
    _pending_upto: int
    _open: set[object]
    _spill_lock: threading.Lock
    _room: threading.Condition
    _room_waiters: int
    _overflow_offset: int
    _overflow: Overflow | None
    _pipeline: Pipeline | None
    _spilling: bool
    #: Marks what this delivery spilled (a record spilled by a dead process lacks its state).
    _spill_tag: bytes
    _fast: bool
    counters: Counters
    reduced_facts: int
    recovered_records: int
    recovered_events: int
    pipeline_factory: Callable[[], Pipeline]

    def _fast_ok(self) -> bool:
        raise NotImplementedError

    def _reduce_loop(self, spool: SpoolingProcessor, dead: Sequence[Path] = ()) -> None:
        q = self._q
        get, get_nowait = q.get, q.get_nowait
        # ``spool``: the spooling processor, whose one producer this thread is.
        for path in dead:
            self._recover(spool, path)
        while True:
            if self._spilling and q.empty():
                self._drain_overflow(spool, everything=False)
                continue
            items = [get()]
            try:
                while len(items) < DRAIN_MAX:
                    items.append(get_nowait())
            except queue.Empty:
                pass
            facts: list[tuple[int, Fact | Deferred]] = []
            for item in items:
                if isinstance(item, _Flush):
                    self._append(spool, self._reduce(facts))
                    facts = []
                    if self._spilling:
                        self._drain_overflow(spool, everything=True)
                    spool.barrier(item.done)
                elif item is _STOP:
                    self._append(spool, self._reduce(facts))
                    spool.finish()
                    return
                elif item is not _WAKE:
                    facts.append(item)
            self._append(spool, self._reduce(facts))
            self._maybe_rotate(spool)
            if self._room_waiters:
                with self._room:
                    self._room.notify_all()

    def _reduce(self, indexed: Sequence[Any], spilled: bool = False) -> list[Envelope]:
        if not indexed:
            return []
        pipeline = self._pipeline
        assert pipeline is not None
        self.reduced_facts += len(indexed)
        facts = []
        opened, closed = self._open.add, self._open.discard
        tag = self._spill_tag
        for entry in indexed:
            # (journal index, item[, spill tag]); a spill file left by an older version holds
            # bare items.
            index, item = (entry[0], entry[1]) if type(entry) is tuple else (-1, entry)
            if index >= 0:
                self._pending_upto = index + 1
            if isinstance(item, Deferred):
                if spilled and (type(entry) is not tuple or entry[-1] != tag):
                    # Spilled by a process that died without a journal: its connection's state
                    # died with it, and expanding the record against an empty one makes wrong
                    # rows.
                    with self.counters.lock:
                        self.counters.dropped["spilled_by_a_dead_process"] += 1
                    continue
                # Which connections are open decides when the journal may start afresh.
                if type(item) is ClosedConnection:
                    closed(("library", item.connection))
                else:
                    opened(("library", item.connection))
            elif type(item) is ConnectionClosed:
                closed(item.connection_id)
            else:
                connection = getattr(item, "connection_id", None)
                if connection is not None:
                    opened(connection)
            facts.append(item)
        out: list[Envelope] = []
        rest = iter(facts)
        while True:
            try:
                pipeline.ingest_into(rest, out)
                return out
            except Exception as exc:
                # One bad fact must not take its neighbours with it: the events of the facts
                # before it are kept, it is counted (leaving no events; the reducer's state is
                # its concern), and the rest go on from just past it. Nothing is reduced twice.
                with self.counters.lock:
                    self.counters.dropped[f"reducer_error:{type(exc).__name__}"] += 1
                    self.counters.last_error = f"reducer failed: {exc!r}"

    def _append(
        self,
        spool: SpoolingProcessor,
        events: list[Envelope],
        overflow_offset: int | None = None,
        journal: tuple[str, int] | None = None,
    ) -> None:
        """Emit the events with the progress marks they account for (one spool transaction)."""
        upto = self._pending_upto
        live = self._journal
        if journal is None and live is not None and upto != self._journal_upto:
            if not events and overflow_offset is None:
                # No events: re-reducing these records after a crash makes none either.
                self._journal_upto = upto
                return
            journal = (live.id, upto)
        if not events and overflow_offset is None and journal is None:
            return
        if not spool.emit(events, overflow_offset=overflow_offset, journal=journal):
            return  # closing gave up on a failing spool: counted there
        if journal is not None and live is not None and journal[0] == live.id:
            self._journal_upto = journal[1]

    def _drain_overflow(self, spool: SpoolingProcessor, everything: bool) -> None:
        """Reduce spilled facts in order; stop spilling once the file is fully drained."""
        overflow = self._overflow
        assert overflow is not None
        while True:
            facts, offset = overflow.read(self._overflow_offset, DRAIN_MAX)
            if facts:
                self._append(spool, self._reduce(facts, spilled=True), offset)
                self._overflow_offset = offset
                if not everything:
                    return
                continue
            with self._spill_lock:
                # Appends happen under this lock, so no frame is half-written now: whatever
                # follows the last complete frame is a torn tail from a crash.
                more, _ = overflow.read(self._overflow_offset, 1)
                if not more:
                    if overflow.size() > self._overflow_offset:
                        with self.counters.lock:
                            self.counters.dropped["overflow_torn_tail"] += 1
                    overflow.truncate()
                    spool.set_overflow_offset(0)
                    self._overflow_offset = 0
                    self._spilling = False
                    self._fast = self._fast_ok()
                    return

    def _recover(self, spool: SpoolingProcessor, path: Path) -> None:
        """Replay a dead process's journal with its full context; spool what it had not."""
        jid = journal_id(path)
        try:
            done = spool.journal_reduced(jid)
            if done >= 0:
                frames, torn = read_frames(path)
                drops: dict[str, int] = {}
                if torn:
                    drops["journal_torn_tail"] = 1
                pipeline = self.pipeline_factory()
                events: list[Envelope] = []
                for index, item in iter_items(frames, drops):
                    before = len(events)
                    try:
                        pipeline.ingest_into([item], events)
                    except Exception as exc:
                        key = f"reducer_error:{type(exc).__name__}"
                        drops[key] = drops.get(key, 0) + 1
                    if index < done:
                        del events[before:]  # spooled by the dead process already
                    else:
                        self.recovered_records += 1
                with self.counters.lock:
                    self.counters.dropped.update(drops)
                self._append(spool, events, journal=(jid, -1))
                self.recovered_events += len(events)
            path.unlink()
            spool.forget_journal(jid)
        except (OSError, sqlite3.Error) as exc:
            with self.counters.lock:
                self.counters.dropped["journal_recovery_failed"] += 1
                self.counters.last_error = f"journal recovery of {path.name} failed: {exc!r}"

    def _maybe_rotate(self, spool: SpoolingProcessor) -> None:
        """Start a new journal once every record is reduced and no connection is open."""
        journal = self._journal
        if journal is None or self._open or self._spilling or not self._q.empty():
            return
        if journal.count != self._journal_upto or journal.count == 0:
            return
        old = journal.rotate(lambda: journal.count == self._journal_upto and self._q.empty())
        if old is not None:
            self._journal_upto = self._pending_upto = 0
            try:
                spool.forget_journal(old)
            except sqlite3.Error as exc:
                self.counters.last_error = f"spool meta update failed: {exc!r}"
