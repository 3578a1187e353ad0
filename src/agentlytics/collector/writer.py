"""The collector's warehouse writer: a child process that owns the DuckDB file.

Why a process and not a thread: DuckDB keeps the GIL while it inserts rows handed over from
Python (measured: a pure-Python loop beside an insert thread takes as long as the two one after
the other). In one process, request handling (gunzip, validation, hashing) and inserting took
turns on one core; with the writer in its own process they run side by side, on two.

The hand-off is one pipe message per group of requests: the five columns as MessagePack (ids,
types, thread and turn ids, payload bytes — a copy, no per-event objects on the child's side
but the Arrow arrays). The reply is ``None`` when every event was new (the common case), else
a bitmap of the ones that were. The child ignores SIGINT/SIGTERM: it stops when the collector
closes it (it then checkpoints and closes the file) or when the pipe breaks (the collector died;
committed rows are safe in DuckDB's WAL).

Memory (measured, docs/configuration.md): the child's RSS is DuckDB's buffers, which
``memory_limit`` caps, plus about 220 MB that it does not count (the interpreter, DuckDB and
Arrow libraries, DuckDB's own unmanaged allocations); batches leave nothing behind. Of the
buffers, the ``event_id`` key index stays in memory whatever the limit and grows with the
warehouse, so :class:`IndexWatch` warns before it fills the limit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, TextIO

import duckdb
import msgspec

from agentlytics.events.envelope import Envelope
from agentlytics.warehouse.reads import ReadServer, open_for_writing
from agentlytics.warehouse.store import (
    MEMORY_SQL,
    Columns,
    Warehouse,
    batch_columns,
    memory_limit_bytes,
)

_encode = msgspec.msgpack.Encoder().encode
_decode_columns = msgspec.msgpack.Decoder(Columns).decode
_decode_reply = msgspec.msgpack.Decoder(dict[str, Any]).decode
_encode_json = msgspec.json.Encoder().encode


class WriterError(RuntimeError):
    """The writer failed to store a group (the requests get a 503 and are retried)."""


class IndexWatch:
    """Warns (a JSON line on stderr, the collector's log) as the key index nears the limit.

    DuckDB holds a table's primary-key index in memory, never evicted, and counts it against
    ``memory_limit``: about 120 bytes per stored event (measured), so ``1GB`` fills at about
    8 million events. Past that every insert fails ("failed to allocate") and the collector
    answers 503 until ``[collector] memory_limit`` is raised. One warning per level crossed,
    checked at most every ``interval`` seconds (the query costs about a millisecond).
    """

    LEVELS = (0.5, 0.75, 0.9)

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        interval: float = 30.0,
        stream: TextIO | None = None,
    ) -> None:
        self._con = con
        self._limit = memory_limit_bytes(con)
        self._interval = interval
        self._stream = stream if stream is not None else sys.stderr
        self._next = 0.0
        self._warned = 0  # levels already reported

    def check(self) -> float | None:
        """Look if due; the index's share of ``memory_limit`` when this call warned."""
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self._interval
        index = sum(
            int(b) for tag, b, _ in self._con.execute(MEMORY_SQL).fetchall() if tag == "ART_INDEX"
        )
        share = index / self._limit
        crossed = sum(1 for level in self.LEVELS if share >= level)
        if crossed <= self._warned:
            return None
        self._warned = crossed
        line = {
            "ts": round(time.time(), 3),
            "level": "warning",
            "msg": "the warehouse's event-id index is filling the writer's memory_limit: "
            "inserts fail once it is full; raise [collector] memory_limit",
            "index_mb": round(index / 2**20, 1),
            "memory_limit_mb": round(self._limit / 2**20, 1),
            "share": round(share, 3),
        }
        self._stream.write(_encode_json(line).decode() + "\n")
        self._stream.flush()
        return share


def _serve(path: str, conn: Connection, memory_limit: str = "", threads: int = 0) -> None:
    """The child: open the warehouse, insert each group it is sent, close on request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        warehouse = open_for_writing(
            lambda: Warehouse(path, memory_limit=memory_limit, threads=threads)
        )
    except Exception as exc:
        conn.send_bytes(_encode({"error": f"cannot open {path}: {exc!r}"}))
        return
    # Reports (another process) read the file through this process: see warehouse/reads.py.
    reads = ReadServer(warehouse.con, path)
    reads.start()
    watch = IndexWatch(warehouse.con)
    conn.send_bytes(_encode({"ready": True}))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break  # the collector is gone: close the file below
        if not data:
            break
        try:
            columns = _decode_columns(data)
            new = warehouse.insert_columns(*columns)
            reply: dict[str, Any] = {"new": None if new is None else _bitmap(columns[0], new)}
        except Exception as exc:
            reply = {"error": repr(exc)}
        conn.send_bytes(_encode(reply))
        with contextlib.suppress(duckdb.Error):  # a warning must never fail the writer
            watch.check()
    start = time.perf_counter()
    reads.close()
    warehouse.close()
    with contextlib.suppress(OSError):  # nobody is listening any more
        conn.send_bytes(_encode({"closed": (time.perf_counter() - start) * 1000}))


def _bitmap(event_ids: list[str], new: list[str]) -> bytes:
    """Which events of a batch were new, a bit each: an answer stays a few KB however many ids
    it covers, so the child never waits to write it (see :meth:`WarehouseProcess.send`)."""
    fresh = set(new)
    bits = bytearray((len(event_ids) + 7) // 8)
    for i, event_id in enumerate(event_ids):
        if event_id in fresh:
            bits[i >> 3] |= 1 << (i & 7)
            fresh.discard(event_id)  # a repeat within the batch is stored (and new) once
    return bytes(bits)


class WarehouseProcess:
    """:class:`Warehouse`'s ``insert_new_ids``/``close``, run in a child process.

    Calls block (the collector makes them from its single writer thread); one at a time. A group
    can also be sent before the previous one's answer is read (:meth:`send`, then :meth:`receive`
    in the same order): the child then finds its next group in the pipe the moment it commits,
    instead of idling until the collector (busy validating, with the GIL) gets round to it.
    """

    def __init__(self, path: str, *, memory_limit: str = "", threads: int = 0) -> None:
        """``memory_limit`` / ``threads``: the child's DuckDB settings (``[collector]``)."""
        self.path = path
        self._settings = (memory_limit, threads)
        self._sent: deque[list[str]] = deque()
        self._start()

    def _start(self) -> None:
        # spawn, not fork: the collector has threads (and an event loop) by now.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            args=(self.path, child, *self._settings),
            name="agentlytics-writer",
            daemon=True,
        )
        self._proc.start()
        child.close()
        reply = self._reply()
        if "error" in reply:
            self._proc.join(5)
            raise WriterError(reply["error"])

    def _reply(self) -> dict[str, Any]:
        try:
            return _decode_reply(self._conn.recv_bytes())
        except (EOFError, OSError) as exc:
            raise WriterError(f"the warehouse writer exited: {exc!r}") from None

    def insert_new_ids(self, batch: Sequence[Envelope]) -> set[str]:
        """Store a batch in one statement; the ids of the rows it added (duplicates skipped)."""
        if not batch:
            return set()
        self.send(batch)
        return self.receive()

    @property
    def in_flight(self) -> int:
        """Groups sent whose answer has not been received."""
        return len(self._sent)

    def send(self, batch: Sequence[Envelope]) -> None:
        """Hand the child a non-empty batch to store in one statement (answer: :meth:`receive`).

        This may block until the child reads it, which it does once it has written the answer
        to the group before: answers are small (a bitmap), so that write never blocks in turn.
        A list of new ids could fill the pipe, and each side would wait for the other.
        """
        if not self._sent and not self._proc.is_alive():  # died under an earlier group: restart
            self._conn.close()
            self._start()
        columns = batch_columns(batch)
        try:
            self._conn.send_bytes(_encode(columns))
        except OSError as exc:
            raise WriterError(f"the warehouse writer exited: {exc!r}") from None
        self._sent.append(columns[0])

    def receive(self) -> set[str]:
        """The ids the oldest sent batch added (duplicates skipped)."""
        ids = self._sent.popleft()
        reply = self._reply()
        if "error" in reply:
            raise WriterError(reply["error"])
        bits = reply["new"]
        if bits is None:
            return set(ids)
        return {event_id for i, event_id in enumerate(ids) if bits[i >> 3] >> (i & 7) & 1}

    def close(self) -> float | None:
        """Checkpoint and close the warehouse; the milliseconds that took (None if it died)."""
        closed: float | None = None
        try:
            self._conn.send_bytes(b"")
            closed = float(self._reply()["closed"])
        except (OSError, WriterError, KeyError):
            pass
        self._proc.join(60)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        return closed
