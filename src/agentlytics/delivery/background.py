"""Background delivery: ``submit`` costs a deque append; threads journal, reduce, spool, send.

Data path, and where a fact can be at any instant::

    submit() ─▶ journal ─write─▶ journal file (plain records), then forward:
    (caller)    (deque)  ─▶ SimpleQueue ─▶ reduce thread ─▶ spool (SQLite) ─▶ send thread ─▶ sink
                            │ full: spill ─▶ overflow file (drained in order by the reducer)

    (without a journal, or with the ``block``/``drop`` policies, ``submit`` decides on a full
    queue itself: ``block`` waits up to ``block_timeout``, then a counted drop; ``drop`` drops
    at once, counted in ``stats()["dropped"]``)

**The window.** Every item passes through the slot's journal (``journal.py``): its thread
writes the item's plain record to the journal file and only then forwards the item, at most
``journal_ms`` milliseconds or ``journal_records`` records after ``submit``; a SIGKILL loses at
most that. The next process that takes the slot replays a dead process's journal through a
fresh pipeline (full context) and spools the events the dead one had not. ``flush()``,
``close()`` and the interpreter-exit hook close the window entirely: each returns only after
every fact submitted before it is reduced, spooled and acknowledged by the sink (or
quarantined). Once in the spool an event survives crashes and is resent by the next process
that opens the same spool directory.

**Threads.** Reduction and sending are separate threads so a slow or dead endpoint never stops
reduction: events keep flowing into the on-disk spool, the queue stays short and ``submit``
stays cheap. The sender reads batches from an in-memory hand-off when it keeps up, and from the
spool when it fell behind (the hand-off is bounded, so memory is too).

**Requests.** Isolated events (fingerprint chunks) go in requests of their own. Requests are
sent by sender threads: one at a time for most sinks, so batches arrive in order; up to
``IN_FLIGHT`` side by side for a sink that allows it (``concurrent = True``: the HTTP sink),
where order across requests is not kept. The send thread alone acknowledges.

**Failures.** A retryable ``SinkError`` (connection error, 408/429/5xx) keeps the batch in the
spool and retries it with exponential backoff and jitter, at least the server's ``Retry-After``
(with one request at a time, no later batch overtakes it). A final error (other 4xx) on a
batch that may hold a single bad event (400/413/422) bisects it, so only the culprit events are
quarantined; otherwise the batch is quarantined whole, with the server's reason, and delivery
continues.

**fork().** The child gets a fresh queue, pipeline, spool slot and sink (built by the sink
factory) on first use; it never sees the parent's queued facts or sockets.
"""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import random
import sqlite3
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentlytics.config import DeliveryConfig
from agentlytics.events.envelope import Envelope
from agentlytics.facts import ConnectionClosed, Fact
from agentlytics.observe.deferred import ORPHAN, ClosedConnection, Deferred
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink, SinkError

from .journal import Journal, dead_journals, iter_items, journal_id, read_frames
from .spool import Overflow, Spool, SpoolSlot

#: Most facts the reduce thread takes from the queue per spool transaction.
DRAIN_MAX = 2_000
#: Requests in flight at once for a sink that declares ``concurrent = True`` (others: one).
#: Sent one at a time, each request waits for the previous one's round trip and storage
#: commit; sent side by side, the collector validates one while it stores another, and commits
#: concurrent ones together — which matters most for fingerprint chunks, one per request.
IN_FLIGHT = 8
_ABORTED = "aborted"

Item = tuple[int, Envelope]
#: What became of the events of a (part of a) batch: None (delivered), a quarantine reason, or
#: ``_ABORTED`` (delivery is closing; they stay in the spool).
Outcome = tuple[list[Item], str | None]


class _Flush:
    """A flush request travelling through the queue behind everything submitted before it."""

    __slots__ = ("done", "upto")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.upto = -1


class _Control:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_STOP = _Control("stop")
_WAKE = _Control("wake")

_INSTANCES: weakref.WeakSet[BackgroundDelivery] = weakref.WeakSet()
#: Objects a forked child inherited but must neither use nor close (SQLite connections).
_ABANDONED: list[object] = []


def _after_fork_in_child() -> None:
    for delivery in list(_INSTANCES):
        delivery._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class BackgroundDelivery:
    """The :class:`~agentlytics.delivery.api.Delivery` that never makes the caller wait on I/O."""

    def __init__(
        self,
        sink_factory: Callable[[], Sink],
        *,
        spool_dir: str | Path,
        queue_size: int = 10_000,
        full_policy: str = "spill",
        block_timeout: float = 1.0,
        batch_max_events: int = 500,
        batch_max_bytes: int = 1_048_576,
        linger_ms: int = 200,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        flush_timeout: float = 25.0,
        exit_timeout: float = 5.0,
        spool_sync: str = "normal",
        pipeline_factory: Callable[[], Pipeline] = Pipeline,
        handoff_max_events: int | None = None,
        journal: bool = True,
        journal_ms: int = 20,
        journal_records: int = 256,
        journal_max_bytes: int = 128 << 20,
    ) -> None:
        if full_policy not in ("spill", "block", "drop"):
            raise ValueError(f"full_policy must be spill, block or drop, not {full_policy!r}")
        self.sink_factory = sink_factory
        self.spool_dir = Path(spool_dir).expanduser()
        self.queue_size = max(1, queue_size)
        self.full_policy = full_policy
        self.block_timeout = block_timeout
        self.batch_max_events = max(1, batch_max_events)
        self.batch_max_bytes = max(1, batch_max_bytes)
        self.linger = max(0.0, linger_ms / 1000.0)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.flush_timeout = flush_timeout
        self.exit_timeout = exit_timeout
        self.spool_sync = spool_sync
        self.pipeline_factory = pipeline_factory
        self.handoff_max = handoff_max_events or max(4 * self.batch_max_events, 2_000)
        self.journal_enabled = journal
        self.journal_ms = journal_ms
        self.journal_records = journal_records
        self.journal_max_bytes = journal_max_bytes
        self._closed = False
        self._init_state()
        _INSTANCES.add(self)
        atexit.register(self._at_exit)
        self._start()

    @classmethod
    def from_config(
        cls, config: DeliveryConfig, sink_factory: Callable[[], Sink] | None = None
    ) -> BackgroundDelivery:
        """Delivery as configured; the sink defaults to HTTP to ``config.endpoint``."""
        if sink_factory is None:
            if not config.endpoint:
                raise ValueError("no delivery endpoint configured (AGENTLYTICS_ENDPOINT)")
            from agentlytics.sinks.http import HttpSink

            def sink_factory() -> Sink:
                return HttpSink(
                    config.endpoint,
                    token=config.token,
                    headers=config.headers,
                    timeout=config.timeout,
                    gzip=config.gzip,
                )

        return cls(
            sink_factory,
            spool_dir=config.spool,
            queue_size=config.queue_size,
            full_policy=config.full_policy,
            block_timeout=config.block_timeout,
            batch_max_events=config.batch_max_events,
            batch_max_bytes=config.batch_max_bytes,
            linger_ms=config.linger_ms,
            backoff_initial=config.backoff_initial,
            backoff_max=config.backoff_max,
            flush_timeout=config.flush_timeout,
            exit_timeout=config.exit_timeout,
            spool_sync=config.spool_sync,
            journal=config.journal,
            journal_ms=config.journal_ms,
            journal_records=config.journal_records,
            journal_max_bytes=config.journal_max_bytes,
        )

    # -- state -----------------------------------------------------------------------------------

    def _init_state(self) -> None:
        """Everything a process (or a forked child) starts afresh."""
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: True when submit may take the fast path (started, open, not spilling).
        self._fast = False
        self._started = False
        self._spilling = False
        self._lock = threading.Lock()  # slow paths and counters
        self._journal: Journal | None = None
        #: Records of the live journal whose events are spooled (reduce thread).
        self._journal_upto = 0
        self._pending_upto = 0
        #: Connections the reducer has seen open and not closed (reduce thread).
        self._open: set[object] = set()
        self._spill_lock = threading.Lock()
        self._room = threading.Condition(threading.Lock())
        self._room_waiters = 0
        self._cv = threading.Condition(threading.Lock())  # reduce thread -> send thread
        self._handoff: deque[tuple[int, list[Envelope]]] = deque()
        self._handoff_count = 0
        self._flushes: list[_Flush] = []
        self._appended_seq = 0
        self._stopping = False
        self._abort = False
        self._retry_wake = threading.Event()
        self._abort_wake = threading.Event()
        self._unappended = 0
        self._overflow_offset = 0
        self._reduce_thread: threading.Thread | None = None
        self._send_thread: threading.Thread | None = None
        self._slot: SpoolSlot | None = None
        self._overflow: Overflow | None = None
        self._sink: Sink | None = None
        self._pipeline: Pipeline | None = None
        # counters
        self.reduced_facts = 0
        self.spooled_events = 0
        self.delivered = 0
        self.quarantined = 0
        self.requests = 0
        self.retries = 0
        self.spilled = 0
        self.dropped: Counter[str] = Counter()
        self.last_error: str | None = None
        #: The last error writing the spool or the spill file (a full disk, a vanished file):
        #: kept apart from ``last_error``, which the sender's errors overwrite.
        self.spool_error: str | None = None
        self._pending_hint = 0
        self.recovered_records = 0
        self.recovered_events = 0
        #: Items still queued when ``close`` gave up (left in the journal, if it is usable).
        self.unreduced = 0

    def _start(self) -> None:
        with self._lock:
            if self._started or self._closed:
                return
            slot = SpoolSlot.acquire(self.spool_dir)
            try:
                wspool = Spool(slot.db_path, self.spool_sync)
                rspool = Spool(slot.db_path, self.spool_sync)
                overflow = Overflow(slot.overflow_path)
                sink = self.sink_factory()
            except BaseException:
                slot.release()
                raise
            self._slot, self._overflow, self._sink = slot, overflow, sink
            self._pipeline = self.pipeline_factory()
            first, last = rspool.bounds()
            self._appended_seq = last
            cursor = first if first else last + 1
            self._overflow_offset = wspool.overflow_offset()
            dead = dead_journals(slot.directory, slot.index)
            if dead and overflow.size():
                # A dead process's spilled items are in its journal too, as plain records that
                # recovery replays with their context; the pickles name its dead observers.
                overflow.truncate()
                wspool.set_overflow_offset(0)
                self._overflow_offset = 0
            self._spilling = overflow.size() > 0
            if self.journal_enabled:
                try:
                    self._journal = Journal(
                        slot.directory,
                        slot.index,
                        self._forward,
                        interval=self.journal_ms / 1000.0,
                        max_records=self.journal_records,
                        max_bytes=self.journal_max_bytes,
                    )
                except OSError as exc:
                    self.last_error = f"journal unavailable: {exc!r}"
            self._reduce_thread = threading.Thread(
                target=self._reduce_loop,
                args=(wspool, dead),
                name="agentlytics-reduce",
                daemon=True,
            )
            self._send_thread = threading.Thread(
                target=self._send_loop,
                args=(rspool, sink, cursor),
                name="agentlytics-send",
                daemon=True,
            )
            self._started = True
            self._reduce_thread.start()
            self._send_thread.start()
            self._fast = self._fast_ok()

    def _fast_ok(self) -> bool:
        """Whether ``submit`` may hand over without a look at the backlog: through the journal
        with the spill policy (the journal spills), else while nothing is spilled."""
        if self._closed:
            return False
        if self._journal is not None:
            return self.full_policy == "spill"
        return not self._spilling

    def _reset_after_fork(self) -> None:
        """In a forked child: drop the parent's threads, queue, sockets and spool slot."""
        _ABANDONED.append((self._sink, self._pipeline, self._journal))
        if self._slot is not None:
            self._slot.forget()
        if self._overflow is not None:
            self._overflow.close()
        self._init_state()

    # -- the caller's side -----------------------------------------------------------------------

    def submit(self, fact: Fact | Deferred) -> None:
        """Hand over a fact: a deque append (the journal's) in the common case; never I/O,
        network or reduction on the caller's thread."""
        if self._fast:
            journal = self._journal
            if journal is not None:
                journal.add(fact)
                return
            if self._q.qsize() < self.queue_size:
                self._q.put((-1, fact))
                return
        self._submit_slow(fact)

    def _backlog(self) -> int:
        journal = self._journal
        return self._q.qsize() + (journal.waiting if journal is not None else 0)

    def _take(self, fact: Fact | Deferred) -> None:
        journal = self._journal
        if journal is not None:
            journal.add(fact)
        else:
            self._q.put((-1, fact))

    def _submit_slow(self, fact: Fact | Deferred) -> None:
        if self._closed:
            raise RuntimeError("delivery is closed")
        if not self._started:
            self._start()
        policy = self.full_policy
        if self._journal is not None and policy == "spill":
            self._journal.add(fact)  # the journal forwards it to the queue or the spill file
            return
        if not self._spilling and self._backlog() < self.queue_size:
            self._take(fact)
            return
        if policy == "spill" or self._spilling:
            self._spill([(-1, fact)])
        elif policy == "block":
            deadline = time.monotonic() + self.block_timeout
            with self._room:
                self._room_waiters += 1
                try:
                    while self._backlog() >= self.queue_size:
                        left = deadline - time.monotonic()
                        if left <= 0 or not self._room.wait(left):
                            break
                finally:
                    self._room_waiters -= 1
            if self._backlog() < self.queue_size:
                self._take(fact)
            else:
                with self._lock:
                    self.dropped["queue_full_block_timeout"] += 1
        else:
            with self._lock:
                self.dropped["queue_full"] += 1

    def _forward(self, entries: list[Any]) -> None:
        """The journal's hand-over, in journal order: to the queue, or the spill file when the
        queue is full (spill policy; the other policies decided at ``submit``)."""
        q, spill = self._q, self.full_policy == "spill"
        batch: list[tuple[int, Fact | Deferred]] = []
        for entry in entries:
            if type(entry) is tuple:
                # Once one item spills, the ones after it must too: the reducer keeps order.
                if batch or (spill and (self._spilling or q.qsize() >= self.queue_size)):
                    batch.append(entry)
                else:
                    q.put(entry)
                continue
            if batch:  # a flush marker may only pass once what precedes it is on disk
                self._spill(batch)
                batch = []
            q.put(entry)
        if batch:
            self._spill(batch)

    def _spill(self, entries: list[tuple[int, Fact | Deferred]]) -> None:
        overflow = self._overflow
        assert overflow is not None
        with self._spill_lock:
            try:
                skipped = overflow.append_many(entries)
            except OSError as exc:
                with self._lock:
                    self.dropped[f"spill_failed:{type(exc).__name__}"] += len(entries)
                    self.last_error = self.spool_error = f"spill failed: {exc!r}"
                return
            if skipped:
                with self._lock:
                    self.dropped["spill_failed:unpicklable"] += skipped
            self.spilled += len(entries) - skipped
            if not self._spilling:
                self._spilling = True
                if self._journal is None:
                    self._fast = False
                self._q.put(_WAKE)  # the reducer may be asleep on an empty queue

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is acknowledged by the sink (or quarantined)."""
        if not self._started:
            return True
        marker = _Flush()
        self._hand(marker)
        self._retry_wake.set()  # retry now rather than at the end of a long backoff
        return marker.done.wait(self.flush_timeout if timeout is None else timeout)

    def _hand(self, marker: _Flush) -> None:
        """A flush marker goes where the items before it went: through the journal, now."""
        journal = self._journal
        if journal is not None:
            journal.add(marker)
            journal.pump()
        else:
            self._q.put(marker)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``), stop the threads, release the spool slot.

        Whatever is not delivered by then stays in the spool for the next process.
        """
        if self._closed:
            return True
        timeout = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._fast = False
        with self._lock:
            self._closed = True
        ok = True
        if self._started:
            marker = _Flush()
            self._hand(marker)
            ok = marker.done.wait(max(0.0, deadline - time.monotonic()))
            self._abort = True
            self._abort_wake.set()
            self._q.put(_STOP)
            self._retry_wake.set()
            with self._cv:
                self._cv.notify_all()
            stopped = True
            for thread in (self._reduce_thread, self._send_thread):
                if thread is not None:
                    thread.join(max(0.05, deadline - time.monotonic()))
                    stopped = stopped and not thread.is_alive()
            # What never reached the reducer is lost with this process, unless the journal holds
            # it: then the next process to take this slot replays it.
            self.unreduced = self._count_unreduced(stopped)
            if not stopped:
                self._count_unappended()  # the reduce thread is stuck on a failing spool
            journal = self._journal
            if journal is not None:
                reduced_all = (
                    stopped and not journal.waiting and journal.count == self._journal_upto
                )
                journal.close(remove=reduced_all)
                if not reduced_all and not journal.usable and self.unreduced:
                    with self._lock:
                        self.dropped["unreduced_at_exit"] += self.unreduced
            elif self.unreduced:
                with self._lock:
                    self.dropped["unreduced_at_exit"] += self.unreduced
            if stopped:
                self._release()
            else:
                # A loaded machine may not run the aborted threads within the timeout: they
                # stop soon after, and the slot must not stay locked for the process's life
                # (a delivery opened next would take another slot and never see this backlog).
                threading.Thread(
                    target=self._release_when_stopped, name="agentlytics-close", daemon=True
                ).start()
        atexit.unregister(self._at_exit)
        _INSTANCES.discard(self)
        return ok

    def _release(self) -> None:
        """Close the spill file and the sink and release the spool slot: the threads stopped."""
        if self._overflow is not None:
            self._overflow.close()
        if self._sink is not None:
            self._sink.close()
        if self._slot is not None:
            self._slot.release()

    def _release_when_stopped(self) -> None:
        for thread in (self._reduce_thread, self._send_thread):
            if thread is not None:
                thread.join()
        self._release()

    def _count_unreduced(self, stopped: bool) -> int:
        """Items the reducer never took (exact once it stopped; else what the queue holds)."""
        journal = self._journal
        left = journal.waiting if journal is not None else 0
        if not stopped:
            return left + self._q.qsize()
        try:
            while True:
                left += type(self._q.get_nowait()) is tuple
        except queue.Empty:
            return left

    def _at_exit(self) -> None:
        self.close(self.exit_timeout)

    def stats(self) -> dict[str, Any]:
        """Counters for this process (drops by reason, quarantine, retries, backlog)."""
        with self._lock:
            dropped = dict(self.dropped)
        reducer: dict[str, int] = {}
        evictions: dict[str, int] = {}
        if self._pipeline is not None:
            state = self._pipeline.reducer.state
            for _ in range(3):  # the reduce thread may add a key while this copies
                try:
                    reducer, evictions = dict(state.drops), dict(state.evictions)
                    break
                except RuntimeError:
                    continue
        return {
            "queued": self._backlog(),
            "spilling": self._spilling,
            "spilled": self.spilled,
            "dropped": dropped,
            "reduced_facts": self.reduced_facts,
            "spooled_events": self.spooled_events,
            "delivered": self.delivered,
            "quarantined": self.quarantined,
            "requests": self.requests,
            "retries": self.retries,
            "handoff": self._handoff_count,
            "last_error": self.last_error,
            "spool_error": self.spool_error,
            "spool": str(self._slot.db_path) if self._slot is not None else None,
            "spool_exists": self._slot is not None and self._slot.db_path.exists(),
            "reducer_drops": reducer,
            "evictions": evictions,
            "journal": self._journal.stats() if self._journal is not None else None,
            "recovered_records": self.recovered_records,
            "recovered_events": self.recovered_events,
            "unreduced": self.unreduced,
        }

    # -- reduce thread ---------------------------------------------------------------------------

    def _reduce_loop(self, spool: Spool, dead: Sequence[Path] = ()) -> None:
        q = self._q
        get, get_nowait = q.get, q.get_nowait
        try:
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
                        item.upto = self._appended_seq
                        with self._cv:
                            self._flushes.append(item)
                            self._cv.notify_all()
                    elif item is _STOP:
                        self._append(spool, self._reduce(facts))
                        with self._cv:
                            self._stopping = True
                            self._cv.notify_all()
                        return
                    elif item is not _WAKE:
                        facts.append(item)
                self._append(spool, self._reduce(facts))
                self._maybe_rotate(spool)
                if self._room_waiters:
                    with self._room:
                        self._room.notify_all()
        finally:
            spool.close()

    def _reduce(self, indexed: Sequence[Any]) -> list[Envelope]:
        if not indexed:
            return []
        pipeline = self._pipeline
        assert pipeline is not None
        self.reduced_facts += len(indexed)
        facts = []
        opened, closed = self._open.add, self._open.discard
        for entry in indexed:
            # (journal index, item); a spill file left by an older version holds bare items.
            index, item = entry if type(entry) is tuple else (-1, entry)
            if index >= 0:
                self._pending_upto = index + 1
            if isinstance(item, Deferred) and item.observer.source == ORPHAN:
                # Spilled by a process that died without a journal: its connection's state
                # died with it, and expanding the item against an empty one makes wrong rows.
                with self._lock:
                    self.dropped["spilled_by_a_dead_process"] += 1
                continue
            facts.append(item)
            # Which connections are open decides when the journal may start afresh.
            if isinstance(item, Deferred):
                if type(item) is ClosedConnection:
                    closed(id(item.observer))
                else:
                    opened(id(item.observer))
            elif type(item) is ConnectionClosed:
                closed(item.connection_id)
            else:
                connection = getattr(item, "connection_id", None)
                if connection is not None:
                    opened(connection)
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
                with self._lock:
                    self.dropped[f"reducer_error:{type(exc).__name__}"] += 1
                    self.last_error = f"reducer failed: {exc!r}"

    def _append(
        self,
        spool: Spool,
        events: list[Envelope],
        overflow_offset: int | None = None,
        journal: tuple[str, int] | None = None,
    ) -> None:
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
        delay = 0.05
        while True:
            try:
                last = spool.append(events, overflow_offset, journal)
                break
            except sqlite3.Error as exc:
                self.last_error = self.spool_error = f"spool append failed: {exc!r}"
                with self._lock:
                    # Held in memory while the append is retried: counted as lost if the
                    # delivery closes first (here, or by close() if this thread is stuck).
                    self._unappended = len(events)
                if self._abort:
                    self._count_unappended()
                    return
                self._abort_wake.wait(delay)
                delay = min(delay * 2, 2.0)
        if self._unappended:
            with self._lock:
                self._unappended = 0
        if journal is not None and live is not None and journal[0] == live.id:
            self._journal_upto = journal[1]
        if not events:
            return
        self.spooled_events += len(events)
        first = last - len(events) + 1
        with self._cv:
            self._appended_seq = last
            if self._handoff_count + len(events) <= self.handoff_max:
                self._handoff.append((first, events))
                self._handoff_count += len(events)
            self._cv.notify_all()

    def _drain_overflow(self, spool: Spool, everything: bool) -> None:
        """Reduce spilled facts in order; stop spilling once the file is fully drained."""
        overflow = self._overflow
        assert overflow is not None
        while True:
            facts, offset = overflow.read(self._overflow_offset, DRAIN_MAX)
            if facts:
                self._append(spool, self._reduce(facts), offset)
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
                        with self._lock:
                            self.dropped["overflow_torn_tail"] += 1
                    overflow.truncate()
                    spool.set_overflow_offset(0)
                    self._overflow_offset = 0
                    self._spilling = False
                    self._fast = self._fast_ok()
                    return

    def _count_unappended(self) -> None:
        with self._lock:
            if self._unappended:
                self.dropped["spool_write_failed"] += self._unappended
                self._unappended = 0

    def _recover(self, spool: Spool, path: Path) -> None:
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
                with self._lock:
                    self.dropped.update(drops)
                self._append(spool, events, journal=(jid, -1))
                self.recovered_events += len(events)
            path.unlink()
            spool.forget_journal(jid)
        except (OSError, sqlite3.Error) as exc:
            with self._lock:
                self.dropped["journal_recovery_failed"] += 1
                self.last_error = f"journal recovery of {path.name} failed: {exc!r}"

    def _maybe_rotate(self, spool: Spool) -> None:
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
                self.last_error = f"spool meta update failed: {exc!r}"

    # -- send thread -----------------------------------------------------------------------------

    def _send_loop(self, spool: Spool, sink: Sink, cursor: int) -> None:
        """Form batches and hand each to a sender; acknowledge what they report back.

        Most sinks get one request at a time, sent from this thread (so batches keep their
        order); a sink that declares ``concurrent = True`` gets up to ``IN_FLIGHT`` at once,
        sent from a small pool. Either way this thread alone touches the spool connection: it
        acknowledges or quarantines each batch when its sender is done with it.
        """
        buf: deque[Item] = deque()
        self._buf_bytes = 0
        first_at: float | None = None
        limit = IN_FLIGHT if getattr(sink, "concurrent", False) else 1
        pool = ThreadPoolExecutor(limit, "agentlytics-send") if limit > 1 else None
        inflight: dict[int, list[Item]] = {}
        done: list[tuple[int, list[Outcome]]] = []
        keys = itertools.count()
        try:
            while True:
                if self._abort and self._stopping:
                    return  # closed after its flush: what is left stays in the spool
                if done:
                    if self._settle(spool, inflight, done):
                        return  # closing gave up on a request: it and the rest stay spooled
                    self._complete_flushes(self._low(inflight, buf, cursor))
                cursor = self._fill(spool, buf, cursor)
                now = time.monotonic()
                if not buf:
                    first_at = None
                    self._complete_flushes(self._low(inflight, buf, cursor))
                    with self._cv:
                        if self._stopping and not inflight:
                            return
                        idle = self._appended_seq < cursor and (not self._flushes or inflight)
                        if idle and not done:
                            self._cv.wait(1.0)
                    continue
                if first_at is None:
                    first_at = now
                ready = (
                    len(buf) >= self.batch_max_events
                    or self._buf_bytes >= self.batch_max_bytes
                    or buf[0][1].isolated
                    or self._flushes
                    or self._stopping
                    or now - first_at >= self.linger
                )
                if not ready or len(inflight) >= limit:
                    with self._cv:
                        if not done and (self._appended_seq < cursor or inflight):
                            self._cv.wait(1.0 if ready else self.linger - (now - first_at))
                    continue
                batch = self._take_batch(buf)
                first_at = now if buf else None
                key = next(keys)
                inflight[key] = batch
                if pool is None:
                    self._deliver(sink, key, batch, done)  # one at a time: no thread hop
                else:
                    pool.submit(self._deliver, sink, key, batch, done)
        finally:
            # Wait for a request still being written (close() bounds this by joining this
            # thread with its deadline); its events stay spooled unless acknowledged above.
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            spool.close()

    @staticmethod
    def _low(inflight: dict[int, list[Item]], buf: deque[Item], cursor: int) -> int:
        """The lowest sequence number not yet settled (batches are in sequence order)."""
        pending = [batch[0][0] for batch in inflight.values()]
        if buf:
            pending.append(buf[0][0])
        return min(pending, default=cursor)

    def _deliver(
        self, sink: Sink, key: int, batch: list[Item], done: list[tuple[int, list[Outcome]]]
    ) -> None:
        """Send one batch until it is delivered or fails for good.

        Retryable failures are retried with backoff; a final failure that may be caused by some
        events only (``split``) bisects the batch so only the culprits are set aside. Each event
        ends as delivered (None), a quarantine reason, or ``_ABORTED`` (delivery is closing:
        it stays spooled); the send thread acts on that.
        """
        outcomes: list[Outcome] = []
        parts: deque[list[Item]] = deque([batch])
        attempt = 0
        while parts:
            part = parts[0]
            retry_after: float | None = None
            try:
                sink.write([env for _, env in part])
            except SinkError as exc:
                self.last_error = str(exc)
                if not exc.retryable:
                    parts.popleft()
                    if exc.split and len(part) > 1:
                        mid = len(part) // 2
                        parts.extendleft([part[mid:], part[:mid]])
                    else:
                        outcomes.append((part, str(exc)))
                    continue
                retry_after = exc.retry_after
            except OSError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a sink bug, or the sink closed under us at exit
                parts.popleft()
                reason = f"sink raised {type(exc).__name__}: {exc}"
                outcomes.append((part, _ABORTED if self._abort else reason))
                continue
            else:
                parts.popleft()
                attempt = 0
                outcomes.append((part, None))
                with self._lock:
                    self.requests += 1
                continue
            attempt += 1
            with self._lock:
                self.retries += 1
            if self._abort:
                outcomes.extend((rest, _ABORTED) for rest in parts)
                break
            self._backoff(attempt, retry_after)
        with self._cv:
            done.append((key, outcomes))
            self._cv.notify_all()

    def _settle(
        self,
        spool: Spool,
        inflight: dict[int, list[Item]],
        done: list[tuple[int, list[Outcome]]],
    ) -> bool:
        """Acknowledge or quarantine the batches whose senders are done (send thread).

        True when a sender gave up because delivery is closing: no flush may count those
        events as delivered, so the send loop stops there.
        """
        with self._cv:
            finished = done[:]
            done.clear()
        acks: list[int] = []
        aborted = False
        for key, outcomes in finished:
            inflight.pop(key, None)
            for items, outcome in outcomes:
                if outcome is None:
                    acks.extend(seq for seq, _ in items)
                elif outcome == _ABORTED:
                    aborted = True
                else:
                    self._quarantine(spool, items, outcome)
        if acks:
            try:
                spool.ack_seqs(acks)
            except sqlite3.Error as exc:  # resent after a restart; idempotent sinks
                self.last_error = f"spool ack failed: {exc!r}"
            self.delivered += len(acks)
        return aborted

    def _fill(self, spool: Spool, buf: deque[Item], cursor: int) -> int:
        """Top ``buf`` up to a batch's worth from the hand-off, else from the spool."""
        want = self.batch_max_events
        while len(buf) < want:
            chunk: tuple[int, list[Envelope]] | None = None
            with self._cv:
                appended = self._appended_seq
                handoff = self._handoff
                while handoff and handoff[0][0] + len(handoff[0][1]) <= cursor:
                    self._handoff_count -= len(handoff.popleft()[1])
                front = handoff[0][0] if handoff else None
                if front is not None and front <= cursor:
                    chunk = handoff.popleft()
                    self._handoff_count -= len(chunk[1])
            if cursor > appended:
                break
            items: list[Item]
            if chunk is not None:
                first, events = chunk
                items = [(first + i, e) for i, e in enumerate(events) if first + i >= cursor]
            else:
                items = spool.read(cursor, max(want - len(buf), 64), front)
                if not items:
                    cursor = front if front is not None else appended + 1
                    continue
            for item in items:
                self._buf_bytes += len(item[1].body) + 1
            buf.extend(items)
            cursor = items[-1][0] + 1
        return cursor

    def _take_batch(self, buf: deque[Item]) -> list[Item]:
        """The next request: one isolated event alone, or regular events up to the limits.

        Regular events are taken across isolated ones (which stay in ``buf``, in order, for
        requests of their own): fingerprint chunks are frequent in some sessions, and cutting a
        batch at each would shrink every request to a handful of events. The batch is then not
        a contiguous range of spool sequence numbers, so it is acknowledged by its list.
        """
        if buf[0][1].isolated:
            first = buf.popleft()
            self._buf_bytes -= len(first[1].body) + 1
            return [first]
        batch: list[Item] = []
        kept: list[Item] = []
        size = 0
        while buf and len(batch) < self.batch_max_events:
            item = buf[0]
            env = item[1]
            if env.isolated:
                kept.append(buf.popleft())
                continue
            if batch and size + len(env.body) + 1 > self.batch_max_bytes:
                break
            batch.append(buf.popleft())
            size += len(env.body) + 1
        buf.extendleft(reversed(kept))
        self._buf_bytes -= size
        return batch

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        delay = min(self.backoff_max, self.backoff_initial * (2 ** (attempt - 1)))
        delay *= random.uniform(0.5, 1.0)  # jitter: many clients must not retry in lockstep
        if retry_after is not None:
            delay = max(delay, min(retry_after, 3600.0))
        # A flush (or close) cuts the wait short once, so an exit does not sit out a long backoff.
        self._retry_wake.wait(delay)
        self._retry_wake.clear()

    def _quarantine(self, spool: Spool, batch: list[Item], reason: str) -> None:
        try:
            spool.quarantine([seq for seq, _ in batch], reason)
        except sqlite3.Error as exc:
            self.last_error = f"spool quarantine failed: {exc!r}"
        self.quarantined += len(batch)

    def _complete_flushes(self, low: int) -> None:
        """Every seq below ``low`` is acknowledged or quarantined: release flushes up to it."""
        if not self._flushes:
            return
        with self._cv:
            keep = []
            for marker in self._flushes:
                if marker.upto < low:
                    marker.done.set()
                else:
                    keep.append(marker)
            self._flushes = keep
