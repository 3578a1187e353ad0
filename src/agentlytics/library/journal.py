"""The journal: every submitted item as a plain record on disk, before the reducer sees it.

The spool only holds sealed events, and the reducer's state lives in memory, so without a
journal a SIGKILL loses every item still queued for the reducer (thousands in a burst) and the
context the next items would need. The journal closes that window: every item ``submit``
takes passes through it on its way to the reducer. The caller's thread appends the item to a
deque (cheaper than the queue put it replaces); the journal's thread, every ``interval`` seconds
while there is traffic and as soon as ``max_records`` items wait, encodes them as plain-data
records (connection id and transport, direction, the message's method, id and payload bytes, its
timestamp; a custom fact as the fact itself — never a reference to a live Python object),
writes them to the journal file (one ``os.write``, no fsync: a process kill keeps it, as the
spool does) and only then forwards them to the reducer's queue (or, when it is full, the spill
file). When four times ``max_records`` wait (the thread got no CPU), the caller writes them
itself, waiting for a write in progress but never for a forward.

That is the loss window of a SIGKILL without ``flush()``: by count, always, at most the items
waiting plus the batch being written — ``8 × max_records`` (2,048) with one submitting thread,
plus one per further thread; by time, normally the last ``interval`` (20 ms), but that part
needs the journal's thread to get CPU and is not a guarantee.

**Recovery.** A dead process's journal holds everything it submitted since the point where it
had no open connection, so the next process that takes its spool slot replays the whole journal
through a fresh pipeline (same facts, same reducer, same ids: full context) and spools the
events of the records the dead process had not reduced yet (their count is stored in the spool,
in the transaction that appended the events of the records before it). Records it cannot decode
and a torn last frame are counted as drops with their reason.

**Size.** The reduce thread starts a new journal whenever every record is reduced and no
connection is open. A connection that stays open keeps its records; past ``max_bytes`` the
journal stops taking records (``stats()["journal"]["error"]``), which reopens the window of the
in-memory queue until the next new journal, rather than growing the disk without bound.

Frames: ``<u32 length><tag><payload>``; tag ``M`` is a msgpack array of primitives (protocol
calls), tag ``P`` a pickle of a plain record holding a fact (custom calls, captured facts: typed
structs with ``Any`` fields that msgpack would flatten). The file is private (0600).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import msgspec
from msgspec import Raw

from agentlytics.facts import Fact
from agentlytics.observe.deferred import (
    AbortedRequest,
    ClosedConnection,
    Deferred,
    InContext,
    ObservedMessage,
)
from agentlytics.protocol.wire import Direction, Message
from agentlytics.vocabulary import RpcTransport

_HEADER = struct.Struct("<I")
_msgpack = msgspec.msgpack.Encoder()
_unpack = msgspec.msgpack.Decoder()
#: The frame of an item that could not be encoded (it was delivered, and counted, live).
_SKIPPED = _HEADER.pack(1) + b"X"

#: Journal file names: ``spool-<slot>.<id>.journal``, one per process that used the slot.
SUFFIX = ".journal"


def encode(item: Fact | Deferred) -> bytes:
    """One item as a frame of plain data (see the module docstring)."""
    kind = type(item)
    if kind is ObservedMessage:
        m = cast(ObservedMessage, item)
        msg = m.message
        payload = b"M" + _msgpack.encode(
            ("m", m.connection, m.rpc_transport, m.direction, m.at_ms, msg.method, msg.id,
             bytes(msg.params), bytes(msg.result), bytes(msg.error))
        )  # fmt: skip
    elif kind is AbortedRequest:
        a = cast(AbortedRequest, item)
        payload = b"M" + _msgpack.encode(
            ("a", a.connection, a.rpc_transport, a.request_id, a.at_ms)
        )
    elif kind is ClosedConnection:
        c = cast(ClosedConnection, item)
        payload = b"M" + _msgpack.encode(("c", c.connection, c.rpc_transport))
    elif kind is InContext:
        x = cast(InContext, item)
        record = ("x", x.connection, x.rpc_transport, x.fact, x.product_client_id)
        payload = b"P" + pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    elif isinstance(item, Deferred):
        raise TypeError(f"no journal record for {kind.__name__}")
    else:
        payload = b"P" + pickle.dumps(("f", item), protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class _Skipped(Exception):
    """A placeholder frame: no record to replay."""


def decode(frame: bytes) -> Fact | Deferred:
    """The item a frame holds: a library record names its connection by id, and the pipeline
    that replays the journal gives each connection one observer (the full context the dead
    process had: requests paired with responses, the client name, thread models)."""
    tag, body = frame[:1], frame[1:]
    if tag == b"M":
        record = _unpack.decode(body)
        kind, connection, transport = record[:3]
        transport = cast(RpcTransport, transport)
        if kind == "m":
            direction, at_ms, method, rid, params, result, error = record[3:]
            message = Message(method, rid, Raw(params), Raw(result), Raw(error))
            return ObservedMessage(
                connection, transport, cast(Direction, direction), message, at_ms
            )
        if kind == "a":
            request_id, at_ms = record[3:]
            return AbortedRequest(connection, transport, request_id, at_ms)
        if kind == "c":
            return ClosedConnection(connection, transport)
        raise ValueError(f"unknown journal record kind {kind!r}")
    if tag == b"X":
        raise _Skipped
    if tag == b"P":
        record = pickle.loads(body)
        if record[0] == "f":
            return cast(Fact, record[1])
        if record[0] == "x":
            _, connection, transport, fact, product = record
            return InContext(connection, transport, fact, product)
        raise ValueError(f"unknown journal record kind {record[0]!r}")
    raise ValueError(f"unknown journal frame tag {tag!r}")


def read_frames(path: Path) -> tuple[list[bytes], bool]:
    """Every complete frame of a journal file, and whether a torn last frame followed them."""
    data = path.read_bytes()
    frames: list[bytes] = []
    pos, size = 0, len(data)
    while pos + _HEADER.size <= size:
        (length,) = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if end > size:
            break
        frames.append(data[pos + _HEADER.size : end])
        pos = end
    return frames, pos < size


def journal_id(path: Path) -> str:
    """The id in ``spool-<slot>.<id>.journal``."""
    return path.name[: -len(SUFFIX)].rsplit(".", 1)[1]


def dead_journals(directory: Path, slot: int) -> list[Path]:
    """Journals left in a slot by processes that held it before (oldest first)."""
    found = list(directory.glob(f"spool-{slot}.*{SUFFIX}"))
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


class Journal:
    """The live process's journal, and the stage every submitted item passes on its way to the
    reducer (see the module doc).

    ``add`` (the caller's thread) appends the item to a deque: atomic, no lock, so it costs
    the caller less than the queue put it replaces. :meth:`pump` — the journal's thread every
    ``interval`` seconds while there is traffic, or at once when ``max_records`` items wait;
    the caller itself when four times that wait (the thread got no CPU) and at ``flush()`` —
    numbers the items and writes their records under the write lock, then forwards them to
    the reducer under the forward lock, batch by batch in write order: the reducer sees the
    items in journal order, and no item reaches it before its record is on disk (or the
    journal is known to be unusable).
    """

    def __init__(
        self,
        directory: Path,
        slot: int,
        forward: Callable[[list[Any]], None],
        *,
        interval: float = 0.02,
        max_records: int = 256,
        max_bytes: int = 128 << 20,
    ) -> None:
        self.directory = directory
        self.slot = slot
        self.forward = forward
        self.interval = max(0.001, interval)
        self.max_records = max(1, max_records)
        self.max_bytes = max_bytes
        self._write_lock = threading.Lock()
        self._forward_lock = threading.Lock()
        #: Batches whose records are written (or known unwritable), waiting to be forwarded.
        self._written: deque[list[Any]] = deque()
        self._wake = threading.Event()
        self._waiting: deque[Any] = deque()
        self._idle = False
        self._hurry = False
        self._stop = False
        self.failed = 0  #: records that never reached the file
        self.unencodable = 0
        self._open_new()
        self._thread = threading.Thread(
            target=self._writer, name="agentlytics-journal", daemon=True
        )
        self._thread.start()

    def _open_new(self) -> None:
        jid = os.urandom(6).hex()
        path = self.directory / f"spool-{self.slot}.{jid}{SUFFIX}"
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        self.id, self.path = jid, path
        self.count = 0  #: records in this journal file (the next record's index)
        self.written_bytes = 0
        self.error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None

    @property
    def waiting(self) -> int:
        """Items handed over but not yet forwarded to the reducer."""
        return len(self._waiting) + sum(len(batch) for batch in list(self._written))

    def add(self, item: Any) -> None:
        """Take one item (a fact, a deferred call, or a delivery control marker)."""
        waiting = self._waiting
        waiting.append(item)
        n = len(waiting)
        if n >= 4 * self.max_records:
            # The journal's thread got no CPU: the caller writes the records itself, waiting
            # for a write in progress (short: it never covers the forwarding), so the count
            # bound always holds. It does not wait for a forward in progress.
            self.pump(forward_blocking=False)
        elif self._idle:
            self._idle = False
            self._wake.set()
        elif n >= self.max_records and not self._hurry:
            self._hurry = True
            self._wake.set()

    def pump(self, blocking: bool = True, forward_blocking: bool | None = None) -> None:
        """Write the records of the waiting items, then forward the items (in order).

        The write lock covers taking and writing only; forwarding (a queue put, or pickling
        into the spill file) runs under its own lock, so a slow forward never holds up a
        caller that must write. Written batches wait in ``_written`` (journal order) for
        whoever holds the forward lock.
        """
        if not self._write_lock.acquire(blocking):
            return
        try:
            self._take_and_write()
        finally:
            self._write_lock.release()
        self._drain(blocking if forward_blocking is None else forward_blocking)

    def _take_and_write(self) -> None:
        waiting = self._waiting
        take = waiting.popleft
        # Exactly what waits now: items added meanwhile are the next batch (bounded batches).
        items: list[Any] = [take() for _ in range(len(waiting))]
        self._hurry = False
        if not items:
            return
        records = [i for i, item in enumerate(items) if isinstance(item, msgspec.Struct)]
        first = self._write([items[i] for i in records]) if records else -1
        out: list[Any] = items
        if first >= 0:
            for n, i in enumerate(records):
                out[i] = (first + n, items[i])
        else:
            for i in records:
                out[i] = (-1, items[i])
        self._written.append(out)

    def _drain(self, blocking: bool) -> None:
        """Forward the written batches in order. A pumper that finds the forward lock taken
        (non-blocking) leaves its batch to the holder, which checks again after releasing."""
        written = self._written
        while written:
            if not self._forward_lock.acquire(blocking):
                return
            try:
                while written:
                    self.forward(written.popleft())
            finally:
                self._forward_lock.release()

    def _write(self, items: list[Any]) -> int:
        """Append the items' records; the index of the first, or -1 if they are not on disk."""
        if self.error is not None:
            self.failed += len(items)
            return -1
        frames = []
        for item in items:
            try:
                frames.append(encode(item))
            except Exception:
                self.unencodable += 1
                frames.append(_SKIPPED)  # keeps the later records' indexes
        data = b"".join(frames)
        if self.written_bytes + len(data) > self.max_bytes:
            self.failed += len(items)
            self.error = f"journal full ({self.max_bytes} bytes): the in-memory window reopens"
            return -1
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            self.failed += len(items)
            self.error = f"journal write failed: {exc!r}"
            return -1
        self.written_bytes += len(data)
        first = self.count
        self.count += len(items)
        return first

    def _writer(self) -> None:
        wake = self._wake
        while not self._stop:
            self._idle = True
            if self._waiting:
                self._idle = False
                wake.wait(self.interval)  # more records join this write meanwhile
            else:
                wake.wait()
            wake.clear()
            self.pump()

    def rotate(self, safe: Callable[[], bool]) -> str | None:
        """Start a new journal file if ``safe()`` (checked with no item in flight: everything
        in the old file is reduced and spooled); the old file's id, or None."""
        with self._write_lock:
            if self._waiting or self._written or not safe():
                return None
            old_id, old_path, old_fd = self.id, self.path, self.fd
            try:
                self._open_new()
            except OSError as exc:
                self.error = f"cannot start a new journal: {exc!r}"
                return None
            os.close(old_fd)
            with contextlib.suppress(OSError):
                old_path.unlink()
            return old_id

    def close(self, remove: bool) -> None:
        """Stop the writer; write what waits (or, if ``remove``, delete the file)."""
        self._stop = True
        self._wake.set()
        self._thread.join(1.0)
        with self._write_lock:
            if not remove and self._waiting:
                self._write([i for i in self._waiting if isinstance(i, msgspec.Struct)])
                self._waiting.clear()
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            if remove:
                with contextlib.suppress(OSError):
                    self.path.unlink()

    def stats(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "records": self.count,
            "bytes": self.written_bytes,
            "failed": self.failed,
            "unencodable": self.unencodable,
            "error": self.error,
        }


def iter_items(frames: list[bytes], drops: dict[str, int]) -> Iterator[tuple[int, Fact | Deferred]]:
    """(index, item) of each frame that decodes; the others are counted in ``drops``."""
    for index, frame in enumerate(frames):
        try:
            item = decode(frame)
        except _Skipped:
            continue
        except Exception as exc:
            key = f"journal_undecodable:{type(exc).__name__}"
            drops[key] = drops.get(key, 0) + 1
            continue
        yield index, item
