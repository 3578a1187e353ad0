"""The pipeline worker: ``submit`` costs a deque append; threads journal and reduce.

Data path, and where an item can be at any instant::

    submit() ─▶ journal ─write─▶ journal file (plain records), then forward:
    (caller)    (deque)  ─▶ SimpleQueue ─▶ reduce thread ─▶ Pipeline ─▶ SpoolingProcessor
                            │ full: spill ─▶ overflow file (drained in order by the reducer)

    (without a journal, or with the ``block``/``drop`` policies, ``submit`` decides on a full
    queue itself: ``block`` waits up to ``block_timeout``, then a counted drop; ``drop`` drops
    at once, counted in ``stats()["dropped"]``)

This module owns what comes *before* sealed events: the bounded queue and its full-queue
policy, the journal, the spill file and the reduce thread that drains them through a
``Pipeline``. Everything after — spool, batching, sending, retries, quarantine — is the
spooling processor's (``agentlytics.delivery``), which only ever sees envelopes. The worker
emits each reduced run of events with its progress marks (journal records and spill-file offset
they account for), which the processor stores in the same spool transaction.

**The window.** Every item passes through the slot's journal (``journal.py``): its thread
writes the item's plain record to the journal file and only then forwards the item, at most
``journal_ms`` milliseconds or ``journal_records`` records after ``submit``; a SIGKILL loses at
most that. The next process that takes the slot replays a dead process's journal through a
fresh pipeline (full context) and spools the events the dead one had not. ``flush()``,
``close()`` and the interpreter-exit hook close the window entirely: each returns only after
every fact submitted before it is reduced, spooled and acknowledged by the sink (or
quarantined).

**Threads.** Reduction and sending are separate threads so a slow or dead endpoint never stops
reduction: events keep flowing into the on-disk spool, the queue stays short and ``submit``
stays cheap.

**fork().** The child gets a fresh queue, pipeline, spool slot and sink (built by the sink
factory) on first use; it never sees the parent's queued facts or sockets.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentlytics.config import DeliveryConfig
from agentlytics.delivery.retry import Counters
from agentlytics.delivery.spool import Overflow
from agentlytics.delivery.spooling import SpoolingProcessor
from agentlytics.facts import Fact
from agentlytics.observe.deferred import Deferred
from agentlytics.pipeline import Pipeline
from agentlytics.sinks.base import Sink
from agentlytics.sinks.config import HttpSinkConfig, from_config

from .journal import Journal, dead_journals
from .reduce_thread import _STOP, _WAKE, ReduceThread, _Flush

_INSTANCES: weakref.WeakSet[BackgroundDelivery] = weakref.WeakSet()
#: Objects a forked child inherited but must neither use nor close (SQLite connections).
_ABANDONED: list[object] = []


def _after_fork_in_child() -> None:
    for delivery in list(_INSTANCES):
        delivery._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class BackgroundDelivery(ReduceThread):
    """The :class:`~agentlytics.library.delivery.Delivery` that never makes the caller wait on
    I/O: a bounded queue and a reduce thread in front of a :class:`SpoolingProcessor`."""

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
        self.linger_ms = linger_ms
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
        cls,
        config: DeliveryConfig,
        sink_factory: Callable[[], Sink] | None = None,
        *,
        pipeline_factory: Callable[[], Pipeline] = Pipeline,
    ) -> BackgroundDelivery:
        """Delivery as configured; the sink defaults to HTTP to ``config.endpoint``."""
        if sink_factory is None:
            http = HttpSinkConfig.from_delivery(config)

            def sink_factory() -> Sink:
                return from_config(http)

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
            pipeline_factory=pipeline_factory,
        )

    # -- state -----------------------------------------------------------------------------------

    def _init_state(self) -> None:
        """Everything a process (or a forked child) starts afresh."""
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: True when submit may take the fast path (started, open, not spilling).
        self._fast = False
        self._started = False
        self._spilling = False
        self._lock = threading.Lock()  # slow paths
        self._journal: Journal | None = None
        #: Records of the live journal whose events are spooled (reduce thread).
        self._journal_upto = 0
        self._pending_upto = 0
        #: Connections the reducer has seen open and not closed (reduce thread).
        self._open: set[object] = set()
        self._spill_lock = threading.Lock()
        self._room = threading.Condition(threading.Lock())
        self._room_waiters = 0
        self._overflow_offset = 0
        self._spill_tag = os.urandom(8)
        self._reduce_thread: threading.Thread | None = None
        self._processor: SpoolingProcessor | None = None
        self._overflow: Overflow | None = None
        self._pipeline: Pipeline | None = None
        #: Counters shared with the spooling processor (drops by reason, errors, deliveries).
        self.counters = Counters()
        self.reduced_facts = 0
        self.spilled = 0
        self.recovered_records = 0
        self.recovered_events = 0
        #: Items still queued when ``close`` gave up (left in the journal, if it is usable).
        self.unreduced = 0

    def _start(self) -> None:
        with self._lock:
            if self._started or self._closed:
                return
            processor = SpoolingProcessor(
                self.sink_factory,
                spool_dir=self.spool_dir,
                batch_max_events=self.batch_max_events,
                batch_max_bytes=self.batch_max_bytes,
                linger_ms=self.linger_ms,
                backoff_initial=self.backoff_initial,
                backoff_max=self.backoff_max,
                flush_timeout=self.flush_timeout,
                spool_sync=self.spool_sync,
                handoff_max_events=self.handoff_max,
                counters=self.counters,
            )
            slot = processor.slot
            try:
                overflow = Overflow(slot.overflow_path)
            except BaseException:
                processor.close(0.0)
                raise
            self._processor, self._overflow = processor, overflow
            self._pipeline = self.pipeline_factory()
            self._overflow_offset = processor.overflow_offset()
            dead = dead_journals(slot.directory, slot.index)
            if dead and overflow.size():
                # A dead process's spilled items are in its journal too, as plain records that
                # recovery replays with their context (the spill file has them without it).
                overflow.truncate()
                processor.set_overflow_offset(0)
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
                    self.counters.last_error = f"journal unavailable: {exc!r}"
            self._reduce_thread = threading.Thread(
                target=self._reduce_loop,
                args=(processor, dead),
                name="agentlytics-reduce",
                daemon=True,
            )
            self._started = True
            self._reduce_thread.start()
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
        _ABANDONED.append((self._processor, self._pipeline, self._journal))
        if self._processor is not None:
            self._processor.abandon()
        if self._overflow is not None:
            self._overflow.close()
        self._init_state()

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline the reduce thread feeds (None before the first submit)."""
        return self._pipeline

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
                with self.counters.lock:
                    self.counters.dropped["queue_full_block_timeout"] += 1
        else:
            with self.counters.lock:
                self.counters.dropped["queue_full"] += 1

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
        tag = self._spill_tag
        with self._spill_lock:
            try:
                skipped = overflow.append_many([(i, item, tag) for i, item in entries])
            except OSError as exc:
                with self.counters.lock:
                    self.counters.dropped[f"spill_failed:{type(exc).__name__}"] += len(entries)
                    self.counters.last_error = self.counters.spool_error = f"spill failed: {exc!r}"
                return
            if skipped:
                with self.counters.lock:
                    self.counters.dropped["spill_failed:unpicklable"] += skipped
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
        if self._processor is not None:
            self._processor.hurry()
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
            processor = self._processor
            assert processor is not None
            processor.abort()
            self._q.put(_STOP)
            stopped = True
            if self._reduce_thread is not None:
                self._reduce_thread.join(max(0.05, deadline - time.monotonic()))
                stopped = not self._reduce_thread.is_alive()
            stopped = processor.join(max(0.05, deadline - time.monotonic())) and stopped
            # What never reached the reducer is lost with this process, unless the journal holds
            # it: then the next process to take this slot replays it.
            self.unreduced = self._count_unreduced(stopped)
            if not stopped:
                processor.count_unappended()  # the reduce thread is stuck on a failing spool
            journal = self._journal
            if journal is not None:
                reduced_all = (
                    stopped and not journal.waiting and journal.count == self._journal_upto
                )
                journal.close(remove=reduced_all)
                if not reduced_all and not journal.usable and self.unreduced:
                    with self.counters.lock:
                        self.counters.dropped["unreduced_at_exit"] += self.unreduced
            elif self.unreduced:
                with self.counters.lock:
                    self.counters.dropped["unreduced_at_exit"] += self.unreduced
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
        """Close the spill file, the sink and the spool slot: the threads stopped."""
        if self._overflow is not None:
            self._overflow.close()
        if self._processor is not None:
            self._processor.release()

    def _release_when_stopped(self) -> None:
        if self._reduce_thread is not None:
            self._reduce_thread.join()
        if self._processor is not None:
            self._processor.join(None)
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
        counters = self.counters
        with counters.lock:
            dropped = dict(counters.dropped)
        reducer: dict[str, int] = {}
        evictions: dict[str, int] = {}
        wire: dict[str, int] = {}
        if self._pipeline is not None:
            state, counts = self._pipeline.reducer.state, self._pipeline.drops.counts
            for _ in range(3):  # the reduce thread may add a key while this copies
                try:
                    reducer, evictions = dict(state.drops), dict(state.evictions)
                    wire = dict(counts)
                    break
                except RuntimeError:
                    continue
        processor = self._processor
        return {
            "queued": self._backlog(),
            "spilling": self._spilling,
            "spilled": self.spilled,
            "dropped": dropped,
            "reduced_facts": self.reduced_facts,
            "spooled_events": counters.spooled_events,
            "delivered": counters.delivered,
            "quarantined": counters.quarantined,
            "requests": counters.requests,
            "retries": counters.retries,
            "handoff": processor.sender.handoff_count if processor is not None else 0,
            "last_error": counters.last_error,
            "spool_error": counters.spool_error,
            "spool": str(processor.slot.db_path) if processor is not None else None,
            "spool_exists": processor is not None and processor.slot.db_path.exists(),
            "wire_drops": wire,
            "reducer_drops": reducer,
            "evictions": evictions,
            "journal": self._journal.stats() if self._journal is not None else None,
            "recovered_records": self.recovered_records,
            "recovered_events": self.recovered_events,
            "unreduced": self.unreduced,
        }
