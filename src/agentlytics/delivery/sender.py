"""The send thread: batches from the hand-off (or the spool), requests in flight, acknowledgements.

**Hand-off.** The spool writer hands each appended run of events here too; the sender reads
batches from that bounded in-memory hand-off while it keeps up, and from the spool when it fell
behind, so memory stays bounded whatever the sink does.

**Requests.** Isolated events (fingerprint chunks) go in requests of their own. Requests are
sent one at a time for most sinks, from the send thread, so batches arrive in order; up to
:data:`IN_FLIGHT` side by side from a small pool for a sink that allows it (``concurrent =
True``: the HTTP sink), where order across requests is not kept. The send thread alone touches
its spool connection: it acknowledges or quarantines each batch when its sender is done.

**Barriers.** A flush is a barrier at the last sequence number appended when it was asked for:
its event is set once every event up to there is acknowledged or quarantined.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from agentlytics.events.envelope import Envelope
from agentlytics.sinks.base import Sink

from .retry import ABORTED, Backoff, Counters, Item, Outcome, deliver
from .spool import Spool

#: Requests in flight at once for a sink that declares ``concurrent = True`` (others: one).
#: Sent one at a time, each request waits for the previous one's round trip and storage
#: commit; sent side by side, the collector validates one while it stores another, and commits
#: concurrent ones together — which matters most for fingerprint chunks, one per request.
IN_FLIGHT = 8


class _Barrier:
    __slots__ = ("done", "upto")

    def __init__(self, done: threading.Event, upto: int) -> None:
        self.done = done
        self.upto = upto


class Sender:
    """Owns the hand-off and the send thread of one spool slot (see the module doc)."""

    def __init__(
        self,
        spool: Spool,
        sink: Sink,
        counters: Counters,
        backoff: Backoff,
        *,
        batch_max_events: int,
        batch_max_bytes: int,
        linger: float,
        handoff_max: int,
    ) -> None:
        self.spool = spool
        self.sink = sink
        self.counters = counters
        self.backoff = backoff
        self.batch_max_events = batch_max_events
        self.batch_max_bytes = batch_max_bytes
        self.linger = linger
        self.handoff_max = handoff_max
        self.cv = threading.Condition(threading.Lock())  # spool writer -> send thread
        self.handoff: deque[tuple[int, list[Envelope]]] = deque()
        self.handoff_count = 0
        self._barriers: list[_Barrier] = []
        first, last = spool.bounds()
        self.appended_seq = last
        self._cursor = first if first else last + 1
        self.stopping = False
        self.aborting = False
        self._buf_bytes = 0
        self.thread = threading.Thread(target=self._run, name="agentlytics-send", daemon=True)

    # -- the spool writer's side -----------------------------------------------------------------

    def handed(self, first: int, events: list[Envelope], last: int) -> None:
        """Events ``first..last`` are in the spool; keep them in memory too if there is room."""
        with self.cv:
            self.appended_seq = last
            if self.handoff_count + len(events) <= self.handoff_max:
                self.handoff.append((first, events))
                self.handoff_count += len(events)
            self.cv.notify_all()

    def barrier(self, done: threading.Event) -> None:
        """Set ``done`` once everything appended so far is acknowledged or quarantined."""
        with self.cv:
            self._barriers.append(_Barrier(done, self.appended_seq))
            self.cv.notify_all()
        self.backoff.cut_short()  # retry now rather than at the end of a long backoff

    def finish(self) -> None:
        """No more appends: send what is left (unless aborting), then stop."""
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    def abort(self) -> None:
        """Closing: senders give up on what they hold (it stays spooled)."""
        self.aborting = True
        self.backoff.cut_short()
        with self.cv:
            self.cv.notify_all()

    # -- send thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        """Form batches and hand each to a sender; acknowledge what they report back."""
        sink, spool, cursor = self.sink, self.spool, self._cursor
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
                if self.aborting and self.stopping:
                    return  # closed after its flush: what is left stays in the spool
                if done:
                    if self._settle(inflight, done):
                        return  # closing gave up on a request: it and the rest stay spooled
                    self._complete_barriers(self._low(inflight, buf, cursor))
                cursor = self._fill(buf, cursor)
                now = time.monotonic()
                if not buf:
                    first_at = None
                    self._complete_barriers(self._low(inflight, buf, cursor))
                    with self.cv:
                        if self.stopping and not inflight:
                            return
                        idle = self.appended_seq < cursor and (not self._barriers or inflight)
                        if idle and not done:
                            self.cv.wait(1.0)
                    continue
                if first_at is None:
                    first_at = now
                ready = (
                    len(buf) >= self.batch_max_events
                    or self._buf_bytes >= self.batch_max_bytes
                    or buf[0][1].isolated
                    or self._barriers
                    or self.stopping
                    or now - first_at >= self.linger
                )
                if not ready or len(inflight) >= limit:
                    with self.cv:
                        if not done and (self.appended_seq < cursor or inflight):
                            self.cv.wait(1.0 if ready else self.linger - (now - first_at))
                    continue
                batch = self._take_batch(buf)
                first_at = now if buf else None
                key = next(keys)
                inflight[key] = batch
                if pool is None:
                    self._deliver(key, batch, done)  # one at a time: no thread hop
                else:
                    pool.submit(self._deliver, key, batch, done)
        finally:
            # Wait for a request still being written (close() bounds this by joining this
            # thread with its deadline); its events stay spooled unless acknowledged above.
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            spool.close()

    def _deliver(self, key: int, batch: list[Item], done: list[tuple[int, list[Outcome]]]) -> None:
        outcomes = deliver(self.sink, batch, self.backoff, self.counters, lambda: self.aborting)
        with self.cv:
            done.append((key, outcomes))
            self.cv.notify_all()

    @staticmethod
    def _low(inflight: dict[int, list[Item]], buf: deque[Item], cursor: int) -> int:
        """The lowest sequence number not yet settled (batches are in sequence order)."""
        pending = [batch[0][0] for batch in inflight.values()]
        if buf:
            pending.append(buf[0][0])
        return min(pending, default=cursor)

    def _settle(
        self, inflight: dict[int, list[Item]], done: list[tuple[int, list[Outcome]]]
    ) -> bool:
        """Acknowledge or quarantine the batches whose senders are done.

        True when a sender gave up because delivery is closing: no flush may count those
        events as delivered, so the send loop stops there.
        """
        with self.cv:
            finished = done[:]
            done.clear()
        acks: list[int] = []
        aborted = False
        counters = self.counters
        for key, outcomes in finished:
            inflight.pop(key, None)
            for items, outcome in outcomes:
                if outcome is None:
                    acks.extend(seq for seq, _ in items)
                elif outcome == ABORTED:
                    aborted = True
                else:
                    self._quarantine(items, outcome)
        if acks:
            try:
                self.spool.ack_seqs(acks)
            except sqlite3.Error as exc:  # resent after a restart; idempotent sinks
                counters.last_error = f"spool ack failed: {exc!r}"
            counters.delivered += len(acks)
        return aborted

    def _fill(self, buf: deque[Item], cursor: int) -> int:
        """Top ``buf`` up to a batch's worth from the hand-off, else from the spool."""
        want = self.batch_max_events
        while len(buf) < want:
            chunk: tuple[int, list[Envelope]] | None = None
            with self.cv:
                appended = self.appended_seq
                handoff = self.handoff
                while handoff and handoff[0][0] + len(handoff[0][1]) <= cursor:
                    self.handoff_count -= len(handoff.popleft()[1])
                front = handoff[0][0] if handoff else None
                if front is not None and front <= cursor:
                    chunk = handoff.popleft()
                    self.handoff_count -= len(chunk[1])
            if cursor > appended:
                break
            items: list[Item]
            if chunk is not None:
                first, events = chunk
                items = [(first + i, e) for i, e in enumerate(events) if first + i >= cursor]
            else:
                items = self.spool.read(cursor, max(want - len(buf), 64), front)
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

    def _quarantine(self, batch: list[Item], reason: str) -> None:
        try:
            self.spool.quarantine([seq for seq, _ in batch], reason)
        except sqlite3.Error as exc:
            self.counters.last_error = f"spool quarantine failed: {exc!r}"
        self.counters.quarantined += len(batch)

    def _complete_barriers(self, low: int) -> None:
        """Every seq below ``low`` is acknowledged or quarantined: release barriers up to it."""
        if not self._barriers:
            return
        with self.cv:
            keep = []
            for barrier in self._barriers:
                if barrier.upto < low:
                    barrier.done.set()
                else:
                    keep.append(barrier)
            self._barriers = keep
