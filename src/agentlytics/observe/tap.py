"""A byte-exact stdio relay in front of a child process, with a side channel for observers.

``run_tap`` starts the child (normally ``codex app-server``) with pipes and copies our stdin to
its stdin and its stdout to our stdout, byte for byte; the child's stderr *is* our stderr (the
fd is inherited, so nothing is copied or re-encoded). Every complete line in either direction is
also handed to an :class:`Observer`, which runs on its own thread behind a bounded queue, so a
slow or failing observer can never stall or corrupt the relay: when the queue is full the
observation is dropped and counted in :class:`TapStats`.

Why one thread per direction with raw fds (``os.read``/``os.write``) rather than a ``select``
loop or Python file objects:

* raw fds have no user-space buffer, so every chunk is forwarded the moment it is read (the
  "flush after each chunk" is inherent) and bytes are never decoded or re-framed;
* a blocking thread per direction gives each direction its own back-pressure, exactly like a
  direct pipe: a client that stops reading our stdout does not stop its requests from reaching
  the server; a single-threaded ``select`` loop would need its own per-direction write buffers
  and non-blocking fds (which we must not impose on inherited fds 0/1 shared with the parent);
* ``os.read``/``os.write`` release the GIL, so the copy costs one read and one write syscall
  per chunk and the threads do not contend with each other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from agentlytics.observe.observer import Closable, Observer
from agentlytics.protocol.wire import Direction

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
"""Bytes asked of each ``os.read``; a pipe hands over at most its capacity (64 KiB) anyway."""

DEFAULT_QUEUE_LINES = 65_536
DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024
DEFAULT_DRAIN_TIMEOUT_S = 10.0

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class DirectionStats:
    """Traffic relayed in one direction."""

    lines: int = 0
    bytes: int = 0


@dataclass
class TapStats:
    """What the relay moved and what the observer side saw or lost (with the reason)."""

    client_to_server: DirectionStats = field(default_factory=DirectionStats)
    server_to_client: DirectionStats = field(default_factory=DirectionStats)
    observed: int = 0
    observer_errors: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


@dataclass
class TapResult:
    """The child's exit status as a shell reports it (signal death → 128 + signum), and stats."""

    exit_code: int
    stats: TapStats


#: The GIL switch interval while an observer thread runs beside the relay (see ``run_tap``).
SWITCH_INTERVAL_S = 0.0002


def exit_code_of(returncode: int) -> int:
    """Map ``Popen.returncode`` to a shell-style status: killed by signal N → 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


_Item = tuple[Direction, bytes, int]


class _ObserverFeed:
    """A bounded queue (by lines and by bytes) drained by one observer thread.

    ``offer`` never blocks the relay: it drops and counts when the queue is full. A single line
    larger than the byte bound is accepted when the queue is empty, so a big message is only
    lost when the observer is actually behind.
    """

    def __init__(self, observer: Observer, stats: TapStats, max_lines: int, max_bytes: int) -> None:
        self._observer = observer
        self._stats = stats
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._items: deque[_Item] = deque()
        self._bytes = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tap-observer", daemon=True)
        self._thread.start()

    def _drop(self, reason: str, n: int = 1) -> None:
        # Caller holds self._cond.
        self._stats.dropped[reason] = self._stats.dropped.get(reason, 0) + n

    def offer(self, direction: Direction, lines: Sequence[bytes], ts_ms: int) -> None:
        with self._cond:
            for line in lines:
                if len(self._items) >= self._max_lines:
                    self._drop("queue_full_lines")
                elif self._items and self._bytes + len(line) > self._max_bytes:
                    self._drop("queue_full_bytes")
                else:
                    self._items.append((direction, line, ts_ms))
                    self._bytes += len(line)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if not self._items:
                    break
                direction, line, ts_ms = self._items.popleft()
                self._bytes -= len(line)
            try:
                self._observer.observe(direction, line, ts_ms)
                self._stats.observed += 1
            except Exception:
                self._stats.observer_errors += 1
                if self._stats.observer_errors == 1:
                    log.exception(
                        "agentlytics tap: observer failed; the relay goes on "
                        "(further observer errors are counted, not logged)"
                    )
        if isinstance(self._observer, Closable):
            try:
                self._observer.close()
            except Exception:
                self._stats.observer_errors += 1
                log.exception("agentlytics tap: closing the observer failed")

    def close(self, timeout_s: float) -> None:
        """Let the observer finish the queue (bounded); what is left then is counted as dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            with self._cond:
                left = len(self._items)
                self._items.clear()
                if left:
                    self._drop("shutdown_timeout", left)


class _LineSplitter:
    """Splits a byte stream on ``\\n``, holding a partial line until its end arrives."""

    def __init__(self) -> None:
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        parts = chunk.split(b"\n")
        tail = parts.pop()  # bytes after the last \n (maybe empty): the new partial line
        if parts and self._partial:
            self._partial += parts[0]
            parts[0] = bytes(self._partial)
            self._partial.clear()
        self._partial += tail
        return parts

    def finish(self) -> bytes | None:
        """The unterminated fragment left when the stream ended, if any."""
        if not self._partial:
            return None
        rest = bytes(self._partial)
        self._partial.clear()
        return rest


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out: a pipe may accept only part of a large chunk."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _pump(
    src_fd: int,
    dst_fd: int,
    direction: Direction,
    dstats: DirectionStats,
    feed: _ObserverFeed | None,
    on_eof: list[int],
) -> None:
    """Copy ``src_fd`` → ``dst_fd`` until EOF or a broken destination; observe lines on the side.

    ``on_eof`` lists fds to close when the copy stops: closing the child's stdin is how a
    client stops codex, and closing our read end of the child's stdout when our client went
    away gives the child the same EPIPE a direct pipe would.
    """
    splitter = _LineSplitter() if feed is not None else None
    last_ts = 0
    try:
        while True:
            try:
                chunk = os.read(src_fd, READ_SIZE)
            except OSError as exc:
                log.debug("tap %s: read failed: %s", direction, exc)
                break
            if not chunk:
                break
            last_ts = time.time_ns() // 1_000_000
            # Observe *before* forwarding: once the peer has the bytes it may answer at once,
            # and its answer must not be queued ahead of what it answers. Queuing is a split
            # and an append under a lock, so it costs the relay microseconds.
            if splitter is not None and feed is not None:
                lines = splitter.feed(chunk)
                if lines:
                    dstats.lines += len(lines)
                    feed.offer(direction, lines, last_ts)
            else:
                dstats.lines += chunk.count(b"\n")
            try:
                _write_all(dst_fd, chunk)
            except OSError as exc:  # BrokenPipeError mostly: the reader is gone
                log.debug("tap %s: write failed: %s", direction, exc)
                break
            dstats.bytes += len(chunk)
    finally:
        if splitter is not None and feed is not None:
            rest = splitter.finish()
            if rest is not None:
                dstats.lines += 1
                feed.offer(direction, [rest], last_ts or time.time_ns() // 1_000_000)
        for fd in on_eof:
            with contextlib.suppress(OSError):
                os.close(fd)


def run_tap(
    argv: Sequence[str],
    observer: Observer | None = None,
    *,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    forward_signals: bool = True,
    queue_lines: int = DEFAULT_QUEUE_LINES,
    queue_bytes: int = DEFAULT_QUEUE_BYTES,
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
) -> TapResult:
    """Run ``argv`` behind the relay until it exits; return its exit code and the stats.

    Raises ``OSError`` (e.g. ``FileNotFoundError``) when the child cannot be started.
    The child gets its own process group, so a terminal's Ctrl-C reaches it once, through our
    forwarding, not twice; if the tap itself dies, the child sees EOF on stdin and stops.
    """
    stats = TapStats()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        bufsize=0,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        process_group=0,
    )
    assert proc.stdin is not None and proc.stdout is not None
    # Own the child's pipe fds outright so each pump closes exactly the fd it should.
    child_in = os.dup(proc.stdin.fileno())
    child_out = os.dup(proc.stdout.fileno())
    proc.stdin.close()
    proc.stdout.close()

    feed = (
        _ObserverFeed(observer, stats, queue_lines, queue_bytes) if observer is not None else None
    )
    if feed is not None:
        # The observer thread competes with the relay threads for the GIL; at CPython's default
        # 5 ms switch interval a relay thread woken by the peer's bytes can wait that long for
        # the observer to let go (tap --record's p99 added latency was ~3 ms). At 0.2 ms the
        # relay waits at most that, for a few percent more switching.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    previous: dict[int, signal._HANDLER] = {}
    if forward_signals and threading.current_thread() is threading.main_thread():

        def forward(signum: int, _frame: FrameType | None) -> None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

        for sig in FORWARDED_SIGNALS:
            previous[sig] = signal.signal(sig, forward)

    to_child = threading.Thread(
        target=_pump,
        args=(stdin_fd, child_in, "client_to_server", stats.client_to_server, feed, [child_in]),
        name="tap-client-to-server",
        daemon=True,  # may sit in read(stdin) after the child is gone; must not keep us alive
    )
    from_child = threading.Thread(
        target=_pump,
        args=(child_out, stdout_fd, "server_to_client", stats.server_to_client, feed, [child_out]),
        name="tap-server-to-client",
        daemon=True,
    )
    to_child.start()
    from_child.start()
    try:
        returncode = proc.wait()
        # The child is gone; its stdout reaches EOF unless a grandchild still holds it open.
        from_child.join(drain_timeout_s)
        if from_child.is_alive():
            log.warning(
                "agentlytics tap: child output still open %.0fs after exit; stopping the relay",
                drain_timeout_s,
            )
        # Lines our client wrote that the child already read are relayed; a read of stdin
        # still pending now can have no reader and is abandoned with its daemon thread.
        to_child.join(0.05)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if feed is not None:
        feed.close(drain_timeout_s)
    if stats.dropped_total or stats.observer_errors:
        log.warning(
            "agentlytics tap: %d observation(s) dropped %s, %d observer error(s)",
            stats.dropped_total,
            stats.dropped,
            stats.observer_errors,
        )
    return TapResult(exit_code=exit_code_of(returncode), stats=stats)


def main_tap(
    command: Sequence[str],
    *,
    record: Path | None,
    analytics: Observer | None = None,
) -> int:
    """What ``agentlytics tap`` does; returns the exit code. Usage errors exit 2.

    ``analytics`` is the live observe → reduce → sink observer the command line built (or
    None); it sees exactly the lines, directions and times the recorder writes, so the events
    emitted live equal those of replaying the recording.
    """
    from agentlytics.observe.recorder import CaptureRecorder, Tee

    if not command:
        print(
            "agentlytics tap: no command given (usage: agentlytics tap [OPTIONS] -- CMD ...)",
            file=sys.stderr,
        )
        if isinstance(analytics, Closable):
            analytics.close()
        return 2
    pipeline = analytics
    observers: list[Observer] = []
    if record is not None:
        try:
            observers.append(CaptureRecorder(record))
        except OSError as exc:
            print(f"agentlytics tap: cannot write the capture {record}: {exc}", file=sys.stderr)
            return 2
    if pipeline is not None:
        observers.append(pipeline)
    observer: Observer | None
    if not observers:
        observer = None
    elif len(observers) == 1:
        observer = observers[0]
    else:
        observer = Tee(*observers)
    try:
        result = run_tap(command, observer)
    except OSError as exc:
        print(f"agentlytics tap: cannot start {command[0]!r}: {exc}", file=sys.stderr)
        if isinstance(observer, Closable):
            observer.close()
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return result.exit_code
