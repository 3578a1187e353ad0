"""The spooling batch processor: every envelope durable in SQLite before a sink sees it.

Data path, and where an event can be at any instant::

    emit() ─▶ spool (SQLite, one transaction per batch) ─▶ hand-off ─▶ send thread ─▶ sink
                                                          (or the spool, when it fell behind)

``emit`` appends the batch to the spool slot's database, together with the producer's progress
marks (``overflow_offset``, ``journal``: what a worker in front of it has turned into these
events), in one transaction, so after a crash the events and the marks agree. Once in the spool
an event survives crashes and is resent by the next process that opens the same spool
directory. The send thread (``sender.py``) batches, sends and acknowledges; failures follow the
retry policy (``retry.py``): backoff on retryable errors, bisection and quarantine on final
ones. ``flush()`` returns once every event emitted before it is acknowledged or quarantined.

One producer at a time: ``emit`` is called from one thread (a pipeline worker, the tap's
observer thread). The owner closes it (and handles ``fork()``: :meth:`abandon`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentlytics.events.envelope import Envelope
from agentlytics.sinks.base import Sink

from .retry import Backoff, Counters
from .sender import Sender
from .spool import Spool, SpoolSlot


class SpoolingProcessor:
    """The :class:`~agentlytics.delivery.processor.Processor` behind ``--send`` and the library."""

    def __init__(
        self,
        sink_factory: Callable[[], Sink],
        *,
        spool_dir: str | Path,
        batch_max_events: int = 500,
        batch_max_bytes: int = 1_048_576,
        linger_ms: int = 200,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        flush_timeout: float = 25.0,
        spool_sync: str = "normal",
        handoff_max_events: int | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.counters = counters if counters is not None else Counters()
        self.flush_timeout = flush_timeout
        batch_max_events = max(1, batch_max_events)
        slot = SpoolSlot.acquire(Path(spool_dir).expanduser())
        try:
            self._wspool = Spool(slot.db_path, spool_sync)
            rspool = Spool(slot.db_path, spool_sync)
            sink = sink_factory()
        except BaseException:
            slot.release()
            raise
        self.slot, self.sink = slot, sink
        self.sender = Sender(
            rspool,
            sink,
            self.counters,
            Backoff(backoff_initial, backoff_max),
            batch_max_events=batch_max_events,
            batch_max_bytes=max(1, batch_max_bytes),
            linger=max(0.0, linger_ms / 1000.0),
            handoff_max=handoff_max_events or max(4 * batch_max_events, 2_000),
        )
        self._aborting = False
        self._abort_wake = threading.Event()
        self._unappended = 0
        self._closed = False
        self.sender.thread.start()

    # -- the producer's progress marks, stored with its events -----------------------------------

    def overflow_offset(self) -> int:
        return self._wspool.overflow_offset()

    def set_overflow_offset(self, offset: int) -> None:
        self._wspool.set_overflow_offset(offset)

    def journal_reduced(self, journal_id: str) -> int:
        return self._wspool.journal_reduced(journal_id)

    def forget_journal(self, journal_id: str) -> None:
        self._wspool.forget_journal(journal_id)

    # -- the producer's side ---------------------------------------------------------------------

    def emit(
        self,
        batch: Sequence[Envelope],
        *,
        overflow_offset: int | None = None,
        journal: tuple[str, int] | None = None,
    ) -> bool:
        """Append the batch (and the marks) to the spool; False if closing gave up on it.

        A failing append (a full disk) is retried with backoff while the events wait in memory;
        if the processor aborts first they are counted as ``spool_write_failed``.
        """
        if self._closed:
            raise RuntimeError("processor is closed")
        events = list(batch)
        if not events and overflow_offset is None and journal is None:
            return True
        counters = self.counters
        delay = 0.05
        while True:
            try:
                last = self._wspool.append(events, overflow_offset, journal)
                break
            except sqlite3.Error as exc:
                counters.last_error = counters.spool_error = f"spool append failed: {exc!r}"
                with counters.lock:
                    # Held in memory while the append is retried: counted as lost if the
                    # delivery closes first (here, or by the owner if this thread is stuck).
                    self._unappended = len(events)
                if self._aborting:
                    self.count_unappended()
                    return False
                self._abort_wake.wait(delay)
                delay = min(delay * 2, 2.0)
        if self._unappended:
            with counters.lock:
                self._unappended = 0
        if events:
            counters.spooled_events += len(events)
            self.sender.handed(last - len(events) + 1, events, last)
        return True

    def count_unappended(self) -> None:
        """Count the events an append still retries as lost (the delivery is closing)."""
        with self.counters.lock:
            if self._unappended:
                self.counters.dropped["spool_write_failed"] += self._unappended
                self._unappended = 0

    def barrier(self, done: threading.Event) -> None:
        self.sender.barrier(done)

    def hurry(self) -> None:
        """Retry now rather than at the end of a long backoff (a flush is waiting)."""
        self.sender.backoff.cut_short()

    def flush(self, timeout: float | None = None) -> bool:
        done = threading.Event()
        self.barrier(done)
        return done.wait(self.flush_timeout if timeout is None else timeout)

    # -- closing ---------------------------------------------------------------------------------

    def abort(self) -> None:
        """Closing: stop retrying appends and sends; what is not acknowledged stays spooled."""
        self._aborting = True
        self._abort_wake.set()
        self.sender.abort()

    def finish(self) -> None:
        """The producer is done: the send thread stops once it has nothing left (or aborts)."""
        self.sender.finish()

    def join(self, timeout: float | None) -> bool:
        """Wait for the send thread; whether it stopped."""
        self.sender.thread.join(timeout)
        return not self.sender.thread.is_alive()

    def release(self) -> None:
        """Close the sink and the spool, release the slot: the producer and sender stopped."""
        self._closed = True
        self.sink.close()
        self._wspool.close()
        self.slot.release()

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``), stop the send thread, release the spool slot.

        Whatever is not delivered by then stays in the spool for the next process.
        """
        if self._closed:
            return True
        timeout = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        ok = self.flush(timeout)
        self.abort()
        self.finish()
        if self.join(max(0.05, deadline - time.monotonic())):
            self.release()
        else:
            self._closed = True
            threading.Thread(target=self._release_when_stopped, daemon=True).start()
        return ok

    def _release_when_stopped(self) -> None:
        self.sender.thread.join()
        self.sink.close()
        self._wspool.close()
        self.slot.release()

    def abandon(self) -> None:
        """In a forked child: the parent's slot lock, connections and sink are not ours."""
        self._closed = True
        self.slot.forget()

    def stats(self) -> dict[str, Any]:
        counters = self.counters
        with counters.lock:
            dropped = dict(counters.dropped)
        return {
            "dropped": dropped,
            "spooled_events": counters.spooled_events,
            "delivered": counters.delivered,
            "quarantined": counters.quarantined,
            "requests": counters.requests,
            "retries": counters.retries,
            "handoff": self.sender.handoff_count,
            "last_error": counters.last_error,
            "spool_error": counters.spool_error,
            "spool": str(self.slot.db_path),
            "spool_exists": self.slot.db_path.exists(),
        }
