"""Observers that keep the relayed traffic: the capture-file recorder and a fan-out.

The capture format is the one of the repository's ``tests/data/captures`` (one JSON object per
line)::

    {"seq": 0, "ts_ms": 1795414526895, "dir": "client_to_server", "msg": {...}}

``msg`` is the line exactly as it crossed the wire (its bytes are embedded, never parsed and
re-serialized, so key order, spacing and number spelling are kept) whenever the line is a JSON
object. Anything else that crossed the wire is recorded too, so that nothing is lost:

* a line that is valid UTF-8 but not a JSON object (garbage, a bare value, an empty line) →
  ``{"seq": n, "ts_ms": t, "dir": d, "raw": "<the text>"}``;
* a line that is not valid UTF-8 → ``{"seq": n, "ts_ms": t, "dir": d, "raw_base64": "..."}``.

Readers of captures skip (and count) records without ``msg`` — except metadata lines
(``"dir": "meta"``, :mod:`agentlytics.observe.meta`), which the recorder writes after the line
that told it a thread's working directory, and readers consume without counting.
"""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec

from agentlytics.observe.meta import ThreadRepoTracker, meta_record, wire_thread_cwd
from agentlytics.observe.observer import Closable, Observer
from agentlytics.protocol.depth import too_deep
from agentlytics.protocol.wire import Direction

_DIRS: dict[str, bytes] = {
    "client_to_server": b"client_to_server",
    "server_to_client": b"server_to_client",
}
_WHITESPACE = b" \t\r\n"


def capture_record(seq: int, direction: Direction, line: bytes, ts_ms: int) -> bytes:
    """One capture line (with its ``\\n``) for one observed wire line."""
    head = b'{"seq": %d, "ts_ms": %d, "dir": "%s", ' % (seq, ts_ms, _DIRS[direction])
    body = line.strip(_WHITESPACE)
    if body.startswith(b"{"):
        try:
            # Validation only (msgspec also rejects invalid UTF-8); the bytes are embedded as is.
            # A line nested past the limit is kept as text: readers would drop it anyway, and
            # decoding it could exhaust the stack.
            is_object = not too_deep(body) and isinstance(msgspec.json.decode(body), dict)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            is_object = False
        if is_object:
            return head + b'"msg": ' + body + b"}\n"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return head + b'"raw_base64": "' + base64.b64encode(line) + b'"}\n'
    return head + b'"raw": ' + msgspec.json.encode(text) + b"}\n"


class CaptureRecorder:
    """Writes every observed line to a capture file, flushed line by line.

    Flushing each record keeps the capture complete up to the last message even if the tap is
    killed; it costs one write per message, on the observer thread, never on the relay.
    The parent directory is created when missing (e.g. ``~/.local/share/agentlytics/captures``).
    """

    def __init__(self, path: Path, *, thread_repos: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("wb")
        self._seq = 0
        #: Writes a ``thread_repo`` metadata line per thread whose cwd a server line names.
        self._repos = ThreadRepoTracker() if thread_repos else None

    @property
    def records(self) -> int:
        """Records written so far (the next ``seq``)."""
        return self._seq

    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        self._fh.write(capture_record(self._seq, direction, line, ts_ms))
        self._seq += 1
        if self._repos is not None and direction == "server_to_client":
            learned = wire_thread_cwd(line)
            meta = self._repos.learn(*learned) if learned is not None else None
            if meta is not None:
                self._fh.write(meta_record(self._seq, ts_ms, meta))
                self._seq += 1
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class Tee:
    """Hands each line to several observers in turn.

    One observer failing does not starve the others: every observer is called, then the
    first error is raised so the tap counts it.
    """

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def observe(self, direction: Direction, line: bytes, ts_ms: int) -> None:
        first: Exception | None = None
        for obs in self.observers:
            try:
                obs.observe(direction, line, ts_ms)
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    def close(self) -> None:
        first: Exception | None = None
        for obs in self.observers:
            if isinstance(obs, Closable):
                try:
                    obs.close()
                except Exception as exc:
                    first = first or exc
        if first is not None:
            raise first
