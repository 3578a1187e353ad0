"""Reading a DuckDB warehouse while another process writes it: reads answered by the writer.

DuckDB lets one process open a file for writing and then no other process may open it at
all, not even read-only (``Could not set lock on file``). So the process that holds the file
(the collector's writer child, ``tap``, ``replay``) also answers queries: a thread accepts
connections on a Unix socket named after the file and runs each query on a cursor of its own
connection. DuckDB is MVCC: a query sees the last committed state and does not stop inserts.

Why answered by the writer rather than snapshots it publishes: a snapshot means copying the
file (hundreds of MB at a million events) at every publication and reading stale data in
between; an answer costs the writer only the query itself, and it is current to the last
commit. Measured in docs/scaling.md.

Only ``SELECT`` statements are answered, so a reader can never change the
warehouse. Answers are Arrow IPC streams, so the reader gets the same column types as a direct
connection would. The socket is the owner's only (mode 0600), in the temporary directory (a
Unix socket path is limited to ~100 bytes, and warehouse paths can be long), named by a hash of
the warehouse's real path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import msgspec
import pyarrow as pa

T = TypeVar("T")

_HEADER = struct.Struct("!BI")  # status (0 ok, 1 error), payload length
_LENGTH = struct.Struct("!I")
_ALLOWED = {duckdb.StatementType.SELECT}


class ReadRefused(RuntimeError):
    """The writer refused or failed a query (its message says why)."""


class _Request(msgspec.Struct):
    sql: str
    params: list[Any] | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode_request = msgspec.msgpack.Decoder(_Request).decode


def socket_path(database: str | Path) -> str:
    """Where the process writing ``database`` answers reads."""
    real = os.path.realpath(database)
    digest = hashlib.sha256(real.encode()).hexdigest()[:20]
    return os.path.join(tempfile.gettempdir(), f"agentlytics-reads-{digest}.sock")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


class ReadServer:
    """Answers read queries on ``con``'s database from a thread (see the module doc)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, database: str | Path) -> None:
        # Readers' cursors come from a cursor of our own, made here on the writer's thread:
        # ``cursor()`` on the writer's connection itself refuses while an insert runs on it
        # ("connection is busy with another call"), which failed a read mid-write.
        self._con = con.cursor()
        self._cursors = threading.Lock()
        #: Answering threads by client socket, with their cursors: :meth:`close` ends them
        #: before it closes the cursor they derive from (closing it under a running query
        #: failed the writer's close and aborted the process).
        self._answering: dict[
            socket.socket, tuple[threading.Thread, duckdb.DuckDBPyConnection]
        ] = {}
        self.path = socket_path(database)
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Listen; False if another live process already answers for this file."""
        if _alive(self.path):
            return False
        # Nobody listens: the socket was left by a writer that died (SIGKILL runs no cleanup).
        # One we may not remove (another user's, in a shared /tmp) makes the bind below fail:
        # this process then writes without answering reads, as when another writer answers.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        except OSError:
            sock.close()
            return False
        finally:
            os.umask(old)
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="warehouse-reads", daemon=True)
        self._thread.start()
        return True

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._answer, args=(client,), daemon=True)
            with self._cursors:
                self._answering[client] = (thread, self._con.cursor())
            thread.start()

    def _answer(self, client: socket.socket) -> None:
        with self._cursors:
            cursor = self._answering[client][1]
        try:
            with client:
                while True:
                    try:
                        (size,) = _LENGTH.unpack(_recv_exact(client, _LENGTH.size))
                        request = _decode_request(_recv_exact(client, size))
                    except (ConnectionError, OSError, msgspec.DecodeError):
                        return
                    try:
                        payload, status = _arrow_bytes(self._run(cursor, request)), 0
                    except Exception as exc:
                        payload, status = str(exc).encode()[:4000], 1
                    client.sendall(_HEADER.pack(status, len(payload)) + payload)
        except OSError:
            return
        finally:
            with self._cursors:
                self._answering.pop(client, None)
            with contextlib.suppress(duckdb.Error):
                cursor.close()

    def _run(self, cursor: duckdb.DuckDBPyConnection, request: _Request) -> pa.Table:
        statements = cursor.extract_statements(request.sql)
        if len(statements) != 1 or statements[0].type not in _ALLOWED:
            raise ReadRefused("only one SELECT statement per query is answered")
        # The relation API hands Arrow over without the extra copy a DB-API result makes.
        relation = cursor.sql(request.sql, params=request.params)
        # DuckDB 2 renamed fetch_arrow_table (1.x) to to_arrow_table.
        name = "to_arrow_table" if hasattr(relation, "to_arrow_table") else "fetch_arrow_table"
        table: pa.Table = getattr(relation, name)()
        return table

    def close(self) -> None:
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
            with contextlib.suppress(OSError):
                self._sock.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self._sock = None
        if self._thread is not None:
            self._thread.join(5)
        # No client is accepted any more: end the answering threads (a query under way is
        # finished, or interrupted after a while), then close the cursor they derive from.
        with self._cursors:
            answering = list(self._answering.items())
        for client, _ in answering:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for _, (thread, cursor) in answering:
            thread.join(2)
            if thread.is_alive():
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()
                thread.join(2)
        with contextlib.suppress(duckdb.Error):
            self._con.close()  # our own cursor; the writer's connection stays the writer's


def _alive(path: str) -> bool:
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


class ReadClient:
    """A connection to the process writing a warehouse; :meth:`query` returns Arrow tables."""

    def __init__(self, database: str | Path, *, timeout: float = 60.0) -> None:
        self.path = socket_path(database)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._lock = threading.Lock()
        try:
            self._sock.connect(self.path)
        except OSError:
            self._sock.close()
            raise

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        body = _encode(_Request(sql, params))
        with self._lock:
            self._sock.sendall(_LENGTH.pack(len(body)) + body)
            status, size = _HEADER.unpack(_recv_exact(self._sock, _HEADER.size))
            payload = _recv_exact(self._sock, size)
        if status:
            raise ReadRefused(payload.decode(errors="replace"))
        with pa.ipc.open_stream(payload) as reader:
            return reader.read_all()

    def close(self) -> None:
        self._sock.close()


def connect_writer(database: str | Path) -> ReadClient | None:
    """A client of the process writing ``database``, or None if no process answers for it."""
    if not os.path.exists(socket_path(database)):
        return None
    try:
        return ReadClient(database)
    except OSError:
        return None


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """An Arrow answer as DuckDB's ``fetchall`` would give it: tuples of Python values."""
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


class FileReader:
    """Queries a warehouse file without keeping it from a writer: answered by its writer when
    one runs, else by the file opened read-only, closed again once idle.

    A read-only DuckDB connection takes a shared lock on the file, and a collector, tap or
    replay cannot open it for writing while it is held: a dashboard that kept one open would
    stop the collector from (re)starting. So the connection is closed :data:`IDLE_SECONDS`
    after the last query (the queries of one report share it and its warm cache; a cold open
    costs a report a few hundred ms at 200,000 events, docs/scaling.md), and writers wait that
    long for the lock (:func:`open_for_writing`). When a writer runs, its socket answers.
    """

    IDLE_SECONDS = 1.0
    #: Queries back to back keep a connection at most this long, then leave the file free
    #: for :data:`GAP_SECONDS`, so a writer waiting for it gets it (and then answers reads).
    MAX_HOLD_SECONDS = 2.0
    GAP_SECONDS = 0.2

    def __init__(self, path: str) -> None:
        self.path = path
        self._client: ReadClient | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._opened = 0.0

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Every row of one SELECT; raises ``duckdb.Error`` or :class:`ReadRefused`."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:  # a writer may start or stop between two looks
            if self._con is not None and time.monotonic() - self._opened > self.MAX_HOLD_SECONDS:
                self._release()
                time.sleep(self.GAP_SECONDS)
            if self._con is None:
                if self._client is None:
                    self._client = connect_writer(self.path)
                if self._client is not None:
                    try:
                        return _rows(self._client.query(sql, params))
                    except (ConnectionError, OSError):  # the writer stopped: read the file
                        self._client.close()
                        self._client = None
            try:
                return self._direct(sql, params)
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    time.sleep(0.02)  # a writer took the file meanwhile: ask it
                    continue
                raise
        raise ReadRefused(f"{self.path} is locked by a process that does not answer reads")

    def _direct(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._con is None:
                self._con = duckdb.connect(self.path, read_only=True)
                self._opened = time.monotonic()
            try:
                return self._con.execute(sql, params).fetchall()
            finally:
                self._timer = threading.Timer(self.IDLE_SECONDS, self._release)
                self._timer.daemon = True
                self._timer.start()

    def _release(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._release()
        if self._client is not None:
            self._client.close()
            self._client = None


def open_for_writing(open_file: Callable[[], T], *, wait: float = 3.0) -> T:
    """``open_file()`` (a writable DuckDB open), retried while a reader's idle connection
    (:class:`FileReader`) still holds the file's lock: it lets go within a second."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return open_file()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
