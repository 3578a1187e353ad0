"""Capture files: one ``{"seq", "ts_ms", "dir", "msg"}`` JSON object per line (see tools README)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

#: Read in large binary chunks; lines are handed on as bytes so they are decoded exactly once.
_CHUNK = 1 << 20


def read_lines(path: Path | str) -> Iterator[bytes]:
    """Yield the lines of a capture file, ``-`` meaning stdin.

    Lines keep their newline: JSON decoders skip trailing whitespace, and not stripping saves a
    copy per line on the replay's hot path.
    """
    if str(path) == "-":
        import sys

        yield from sys.stdin.buffer
        return
    with open(path, "rb", buffering=_CHUNK) as handle:
        yield from handle
