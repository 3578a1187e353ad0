"""The journal: every submitted item as a plain record on disk, before the reducer sees it.

The spool only holds sealed events, and the reducer's state lives in memory, so without a
journal a SIGKILL loses every item still queued for the reducer (thousands in a burst) and the
context the next items would need. The journal closes that window: ``submit`` appends each item
as a plain-data record (connection token and id, direction, the message's JSON bytes, its
timestamp; a custom fact as the fact itself — never a reference to a live Python object) to an
in-memory buffer, and the buffer reaches the journal file (one ``os.write``, no fsync: a process
kill keeps it, as the spool does) at most ``interval`` seconds or ``max_records`` records later.
That is the whole loss window of a SIGKILL without ``flush()``.

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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import msgspec

from agentlytics.drops import Drops
from agentlytics.facts import Fact
from agentlytics.observe.deferred import (
    AbortedRequest,
    ClosedConnection,
    Deferred,
    InContext,
    ObservedMessage,
    observer_token,
)
from agentlytics.observe.edge import WireObserver
from agentlytics.protocol.wire import Direction, message_decoder
from agentlytics.vocabulary import RpcTransport

_HEADER = struct.Struct("<I")
_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()
_unpack = msgspec.msgpack.Decoder()

#: Journal file names: ``spool-<slot>.<id>.journal``, one per process that used the slot.
SUFFIX = ".journal"


def encode(item: Fact | Deferred) -> bytes:
    """One item as a frame of plain data (see the module docstring)."""
    kind = type(item)
    if kind is ObservedMessage:
        m = cast(ObservedMessage, item)
        obs = m.observer
        payload = b"M" + _msgpack.encode(
            ("m", observer_token(obs), obs.connection_id, obs.rpc_transport, m.direction,
             m.at_ms, _json.encode(m.message))
        )  # fmt: skip
    elif kind is AbortedRequest:
        a = cast(AbortedRequest, item)
        obs = a.observer
        payload = b"M" + _msgpack.encode(
            ("a", observer_token(obs), obs.connection_id, obs.rpc_transport, a.request_id,
             a.at_ms)
        )  # fmt: skip
    elif kind is ClosedConnection:
        obs = cast(ClosedConnection, item).observer
        payload = b"M" + _msgpack.encode(
            ("c", observer_token(obs), obs.connection_id, obs.rpc_transport)
        )
    elif kind is InContext:
        x = cast(InContext, item)
        obs = x.observer
        record = ("x", observer_token(obs), obs.connection_id, obs.rpc_transport, x.fact,
                  x.product_client_id)  # fmt: skip
        payload = b"P" + pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    elif isinstance(item, Deferred):
        raise TypeError(f"no journal record for {kind.__name__}")
    else:
        payload = b"P" + pickle.dumps(("f", item), protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class Decoder:
    """Turns one journal's records back into items, with one fresh observer per connection.

    The observers live as long as the decoder, so every record of a connection is expanded
    against the state its earlier records built (requests paired with responses, the client
    name, thread models) — the full context the dead process had.
    """

    def __init__(self) -> None:
        self.observers: dict[str, WireObserver] = {}

    def _observer(self, token: str, connection_id: int, transport: str) -> WireObserver:
        observer = self.observers.get(token)
        if observer is None:
            observer = WireObserver(connection_id, Drops(), cast(RpcTransport, transport))
            observer.source = "journal"
            self.observers[token] = observer
        return observer

    def decode(self, frame: bytes) -> Fact | Deferred:
        tag, body = frame[:1], frame[1:]
        if tag == b"M":
            record = _unpack.decode(body)
            kind, token, connection_id, transport = record[:4]
            observer = self._observer(token, connection_id, transport)
            if kind == "m":
                direction, at_ms, message = record[4:]
                return ObservedMessage(
                    observer, cast(Direction, direction), message_decoder.decode(message), at_ms
                )
            if kind == "a":
                request_id, at_ms = record[4:]
                return AbortedRequest(observer, request_id, at_ms)
            if kind == "c":
                return ClosedConnection(observer)
            raise ValueError(f"unknown journal record kind {kind!r}")
        if tag == b"P":
            record = pickle.loads(body)
            if record[0] == "f":
                return cast(Fact, record[1])
            if record[0] == "x":
                _, token, connection_id, transport, fact, product = record
                return InContext(self._observer(token, connection_id, transport), fact, product)
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
    """The live process's journal: a buffer written out by time or count (see module doc).

    ``add`` runs on the caller's thread under the delivery's submit lock, which also orders the
    queue, so the records are in queue order. Writes are serialised by their own lock (the
    flusher thread and a caller at the count bound may both write).
    """

    def __init__(
        self,
        directory: Path,
        slot: int,
        *,
        interval: float = 0.02,
        max_records: int = 256,
        max_bytes: int = 128 << 20,
    ) -> None:
        self.directory = directory
        self.slot = slot
        self.interval = max(0.001, interval)
        self.max_records = max(1, max_records)
        self.max_bytes = max_bytes
        self._write_lock = threading.Lock()
        self._buf_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.count = 0  #: records taken by this journal file (the next record's index)
        self.written_bytes = 0
        self.failed = 0  #: records that never reached the file
        self.error: str | None = None
        self._open_new()
        self._thread = threading.Thread(
            target=self._flusher, name="agentlytics-journal", daemon=True
        )
        self._thread.start()

    def _open_new(self) -> None:
        self.id = os.urandom(6).hex()
        self.path = self.directory / f"spool-{self.slot}.{self.id}{SUFFIX}"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        self._buf = bytearray()
        self._buffered = 0
        self._first_at = 0.0
        self.count = 0
        self.written_bytes = 0
        self.error = None

    @property
    def usable(self) -> bool:
        return self.error is None

    def add(self, frame: bytes) -> int:
        """Buffer one record; its index in this journal, or -1 if the journal is not usable."""
        if self.error is not None:
            return -1
        if self.written_bytes + len(self._buf) + len(frame) > self.max_bytes:
            self.error = f"journal full ({self.max_bytes} bytes): the in-memory window reopens"
            return -1
        with self._buf_lock:
            index = self.count
            self.count += 1
            if not self._buffered:
                self._first_at = time.monotonic()
                self._wake.set()
            self._buf += frame
            self._buffered += 1
            full = self._buffered >= self.max_records
        if full:
            self.write()
        return index

    def write(self) -> None:
        """Write the buffered records now (flush, close, and the count bound)."""
        with self._write_lock:
            with self._buf_lock:
                buf, n = self._buf, self._buffered
                if not n:
                    return
                self._buf, self._buffered = bytearray(), 0
            try:
                view = memoryview(buf)
                while view:
                    done = os.write(self.fd, view)
                    view = view[done:]
                self.written_bytes += len(buf)
            except OSError as exc:
                self.failed += n
                self.error = f"journal write failed: {exc!r}"

    def _flusher(self) -> None:
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                break
            left = self._first_at + self.interval - time.monotonic()
            if left > 0:
                time.sleep(left)
            self.write()

    def rotate(self) -> str | None:
        """Start a new journal file (everything in the old one is reduced); the old id.

        Called by the reduce thread under the submit lock, when no record is buffered that it
        has not reduced, so dropping the buffer loses nothing.
        """
        with self._write_lock, self._buf_lock:
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
        """Stop the flusher; write what is buffered (or, if ``remove``, delete the file)."""
        self._stop = True
        self._wake.set()
        self._thread.join(1.0)
        if not remove:
            self.write()
        with self._write_lock:
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
            "error": self.error,
        }


def iter_items(frames: list[bytes], drops: dict[str, int]) -> Iterator[tuple[int, Fact | Deferred]]:
    """(index, item) of each frame that decodes; the others are counted in ``drops``."""
    decoder = Decoder()
    for index, frame in enumerate(frames):
        try:
            item = decoder.decode(frame)
        except Exception as exc:
            key = f"journal_undecodable:{type(exc).__name__}"
            drops[key] = drops.get(key, 0) + 1
            continue
        yield index, item
