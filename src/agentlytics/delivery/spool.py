"""The durable spool: every sealed event from the moment the worker has it until a sink acks it.

**Why SQLite in WAL mode** (rather than an append-only segment log):

* *Crash safety.* A committed transaction survives the process being killed at any instant;
  a torn write is rolled back by SQLite on the next open. With a segment log we would need our
  own framing, checksums and torn-tail recovery — exactly what SQLite's WAL already is.
* *fsync cost per batch.* In WAL mode with ``synchronous=NORMAL`` a commit is an append to the
  WAL with **no fsync**; the WAL is synced only at checkpoints. That survives any process crash
  (the data is in the OS page cache) but not a power cut; ``spool_sync = "full"`` fsyncs every
  commit for that stronger guarantee, at ~1 fsync per worker drain cycle (not per event: the
  worker appends all events of a drain in one transaction).
* *Ordering.* ``seq INTEGER PRIMARY KEY AUTOINCREMENT`` gives a strictly increasing order that
  is never reused, so batches leave in the order the reducer produced them, and a flush can
  wait for "everything up to seq N" without ambiguity.
* *Quarantine.* A batch a sink rejects for good is one ``UPDATE`` (state + reason), not a copy
  into a side file; ``agentlytics spool`` lists and requeues it with ordinary SQL.
* *Compaction.* Acknowledged rows are deleted by seq range; SQLite reuses the freed pages and
  the WAL is checkpointed automatically, so the file stays at the size of the backlog instead of
  growing forever as a log would until a compactor rewrites it.
* *Concurrency.* The reducer thread appends while the sender thread reads/deletes, each on its
  own connection; WAL lets the reader proceed while the writer commits.

**Events, not facts.** The spool holds *sealed events* (envelope fields + canonical body). The
reducer's state lives in memory only, so facts re-reduced after a restart would lack the context
(turn starts, thread configs) earlier facts built up; sealed events are final and self-contained,
so resending them after a restart is exact. The only facts that ever touch disk are the ones a
full queue spills (see :class:`Overflow`), and those are replayed in order by the same process.

**Slots.** A spool directory holds numbered slots (``spool-N.db`` + ``spool-N.lock``). Each live
producer process holds one slot with an exclusive ``flock``; a restarted process (or a forked
child) takes the first free slot, so several processes can share one directory without ever
sending each other's events twice, and a crashed process's backlog is picked up by the next one
that takes its slot.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import sqlite3
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlytics.events.envelope import Envelope

PENDING = 0
QUARANTINED = 1
MAX_SLOTS = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    thread_id      TEXT,
    turn_id        TEXT,
    isolated       INTEGER NOT NULL,
    body           BLOB    NOT NULL,
    state          INTEGER NOT NULL DEFAULT 0,
    reason         TEXT,
    quarantined_at REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_COLUMNS = "seq, event_id, event_type, body, thread_id, turn_id, isolated"


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never hide the error that caused it.

    On a full disk (or an I/O error) SQLite has already rolled the transaction back, and
    ``ROLLBACK`` would then raise "cannot rollback - no transaction is active" in place of the
    real error.
    """
    if con.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")


class SpoolError(RuntimeError):
    """The spool directory cannot be used (no free slot, unwritable, corrupt)."""


@dataclass(frozen=True, slots=True)
class QuarantinedEvent:
    seq: int
    event_id: str
    event_type: str
    reason: str
    quarantined_at: float
    body: bytes


class SpoolSlot:
    """An exclusively locked slot in a spool directory (one per live producer process)."""

    def __init__(self, directory: Path, index: int, lock_fd: int) -> None:
        self.directory = directory
        self.index = index
        self.lock_fd = lock_fd
        self.db_path = directory / f"spool-{index}.db"
        self.overflow_path = directory / f"spool-{index}.overflow"

    @classmethod
    def acquire(cls, directory: str | Path) -> SpoolSlot:
        """Lock the first free slot. Slots whose lock is free belong to no live process."""
        path = Path(directory).expanduser()
        if path.exists() and not path.is_dir():
            raise SpoolError(f"{path} is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {path}: {exc}") from exc
        for index in range(MAX_SLOTS):
            try:
                fd = os.open(path / f"spool-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise SpoolError(f"cannot use spool directory {path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return cls(path, index, fd)
        raise SpoolError(f"all {MAX_SLOTS} spool slots in {path} are held by live processes")

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # closing the only descriptor drops the flock
            self.lock_fd = -1

    def forget(self) -> None:
        """In a forked child: drop the inherited descriptor (the parent still holds the lock)."""
        self.release()


def slots(directory: str | Path) -> list[Path]:
    """Every slot database in a spool directory, in slot order."""
    path = Path(directory).expanduser()
    found = [(int(p.stem.split("-", 1)[1]), p) for p in path.glob("spool-*.db")]
    return [p for _, p in sorted(found)]


class Spool:
    """One connection to a slot database. Each thread that touches the spool opens its own."""

    def __init__(self, db_path: str | Path, sync: str = "normal") -> None:
        self.path = str(db_path)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) so a batch
        # append is one atomic commit and readers never see half of it.
        self.con = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        self.con.execute("PRAGMA busy_timeout=30000")
        self.con.executescript(_SCHEMA)

    # -- producer side ---------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[Envelope],
        overflow_offset: int | None = None,
        journal: tuple[str, int] | None = None,
    ) -> int:
        """Append events atomically, with the overflow read position and the journal records
        they account for (``(journal id, records reduced)``), if given; the last seq."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            if events:
                con.executemany(
                    "INSERT INTO events (event_id, event_type, thread_id, turn_id, isolated, body)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (e.event_id, e.event_type, e.thread_id, e.turn_id, e.isolated, e.body)
                        for e in events
                    ],
                )
            if overflow_offset is not None:
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('overflow_offset', ?)", (overflow_offset,)
                )
            if journal is not None:
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    (f"journal:{journal[0]}", journal[1]),
                )
            row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
        return int(row[0]) if row else 0

    def overflow_offset(self) -> int:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'overflow_offset'").fetchone()
        return int(row[0]) if row else 0

    def journal_reduced(self, journal_id: str) -> int:
        """Records of that journal whose events are spooled (0: none; -1: all, recovered)."""
        row = self.con.execute(
            "SELECT value FROM meta WHERE key = ?", (f"journal:{journal_id}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def forget_journal(self, journal_id: str) -> None:
        self.con.execute("DELETE FROM meta WHERE key = ?", (f"journal:{journal_id}",))

    def set_overflow_offset(self, offset: int) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('overflow_offset', ?)", (offset,))

    # -- sender side -----------------------------------------------------------------------------

    def bounds(self) -> tuple[int, int]:
        """(first pending seq or 0, last seq ever assigned)."""
        first = self.con.execute(
            "SELECT min(seq) FROM events WHERE state = ?", (PENDING,)
        ).fetchone()[0]
        row = self.con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return (int(first) if first is not None else 0, int(row[0]) if row else 0)

    def read(
        self, from_seq: int, limit: int, below: int | None = None
    ) -> list[tuple[int, Envelope]]:
        """Pending events with ``from_seq <= seq (< below)``, in order."""
        if below is None:
            rows = self.con.execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq >= ? AND state = 0 ORDER BY seq LIMIT ?",
                (from_seq, limit),
            ).fetchall()
        else:
            rows = self.con.execute(
                f"SELECT {_COLUMNS} FROM events WHERE seq >= ? AND seq < ? AND state = 0"
                " ORDER BY seq LIMIT ?",
                (from_seq, below, limit),
            ).fetchall()
        return [
            (
                seq,
                Envelope(
                    event_id=eid,
                    event_type=etype,
                    body=bytes(body),
                    thread_id=thread,
                    turn_id=turn,
                    isolated=bool(iso),
                ),
            )
            for seq, eid, etype, body, thread, turn, iso in rows
        ]

    def ack(self, first: int, last: int) -> None:
        """A sink stored every pending event in ``[first, last]``: forget them."""
        self.con.execute(
            "DELETE FROM events WHERE seq BETWEEN ? AND ? AND state = 0", (first, last)
        )

    def ack_seqs(self, seqs: Sequence[int]) -> None:
        """A sink stored these pending events (any order, gaps allowed): forget them."""
        if not seqs:
            return
        first, last = min(seqs), max(seqs)
        if last - first + 1 == len(seqs):
            self.ack(first, last)
            return
        self.con.execute("BEGIN IMMEDIATE")
        try:
            self.con.executemany(
                "DELETE FROM events WHERE seq = ? AND state = 0", [(s,) for s in seqs]
            )
            self.con.execute("COMMIT")
        except BaseException:
            _rollback(self.con)
            raise

    def quarantine(self, seqs: Sequence[int], reason: str) -> None:
        """A sink rejected these for good: keep them, out of the send path, with the reason."""
        now = time.time()
        self.con.execute("BEGIN IMMEDIATE")
        try:
            self.con.executemany(
                "UPDATE events SET state = 1, reason = ?, quarantined_at = ? WHERE seq = ?",
                [(reason, now, s) for s in seqs],
            )
            self.con.execute("COMMIT")
        except BaseException:
            _rollback(self.con)
            raise

    # -- inspection ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        rows = dict(
            self.con.execute("SELECT state, count(*) FROM events GROUP BY state").fetchall()
        )
        return {"pending": int(rows.get(PENDING, 0)), "quarantined": int(rows.get(QUARANTINED, 0))}

    def quarantined(self, limit: int = 1000) -> list[QuarantinedEvent]:
        rows = self.con.execute(
            "SELECT seq, event_id, event_type, reason, quarantined_at, body FROM events"
            " WHERE state = 1 ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            QuarantinedEvent(r[0], r[1], r[2], r[3] or "", r[4] or 0.0, bytes(r[5])) for r in rows
        ]

    def requeue(self) -> int:
        """Put quarantined events back in the send path (after fixing what rejected them)."""
        cur = self.con.execute(
            "UPDATE events SET state = 0, reason = NULL, quarantined_at = NULL WHERE state = 1"
        )
        return int(cur.rowcount)

    def close(self) -> None:
        self.con.close()


class Overflow:
    """Facts a full queue spilled: an append-only file of length-prefixed pickles.

    Written on the *caller's* thread, so an append must be as cheap as a disk write can be: one
    ``os.write`` of one frame on an ``O_APPEND`` descriptor, no fsync (a process crash keeps it;
    the page cache holds it). Pickle, not JSON, because facts carry typed protocol structs in
    ``Any`` fields that JSON would flatten; the file is private (0600, in the user's spool) and
    only ever read back by this package. A torn last frame (crash mid-write) is ignored.
    """

    _HEADER = struct.Struct("<I")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, fact: Any) -> None:
        self.append_many([fact])

    def append_many(self, facts: Sequence[Any]) -> int:
        """Append facts in one write; how many could not be pickled (skipped). A write that
        fails (a full disk) is undone to the last whole frame before it raises."""
        header, frames, skipped = self._HEADER, [], 0
        for fact in facts:
            try:
                data = pickle.dumps(fact, protocol=pickle.HIGHEST_PROTOCOL)
            except (TypeError, ValueError, pickle.PicklingError, AttributeError):
                skipped += 1
                continue
            frames.append(header.pack(len(data)) + data)
        view = memoryview(b"".join(frames))
        size = os.fstat(self.fd).st_size
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, size)
            raise
        return skipped

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, offset: int, max_items: int) -> tuple[list[Any], int]:
        """Up to ``max_items`` facts from ``offset``; returns them and the new offset."""
        size = self.size()
        if offset > size:  # truncated after its offset was saved (crash between the two)
            offset = 0
        out: list[Any] = []
        chunk = os.pread(self.fd, min(size - offset, 4 << 20), offset) if size > offset else b""
        pos = 0
        header = self._HEADER
        while len(out) < max_items and pos + header.size <= len(chunk):
            (length,) = header.unpack_from(chunk, pos)
            end = pos + header.size + length
            if end > len(chunk):
                if offset + end > size:  # torn tail: the rest of the frame never arrived
                    break
                more = os.pread(self.fd, end - pos, offset + pos)  # frame larger than chunk
                out.append(pickle.loads(more[header.size :]))
                offset, chunk, pos = offset + end, b"", 0
                continue
            out.append(pickle.loads(chunk[pos + header.size : end]))
            pos = end
        return out, offset + pos

    def truncate(self) -> None:
        os.ftruncate(self.fd, 0)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def iter_quarantined(directory: str | Path) -> Iterator[tuple[Path, QuarantinedEvent]]:
    """Every quarantined event in every slot of a spool directory."""
    for db in slots(directory):
        spool = Spool(db)
        try:
            for q in spool.quarantined():
                yield db, q
        finally:
            spool.close()


def pending_events(db_path: str | Path) -> int:
    """Pending events of one slot, read without writing (a gauge reads it while its owner
    sends); raises ``sqlite3.Error`` if the slot cannot be read."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT count(*) FROM events WHERE state = ?", (PENDING,)).fetchone()
        return int(row[0])
    finally:
        con.close()
