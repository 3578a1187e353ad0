"""Capture files: one ``{"seq", "ts_ms", "dir", "msg"}`` JSON object per line (see tools README)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

#: Read in large binary chunks; lines are handed on as bytes so they are decoded exactly once.
_CHUNK = 1 << 20


def read_lines(path: Path | str) -> Iterator[bytes]:
    """Yield the lines of a capture file (without their newline), ``-`` meaning stdin."""
    if str(path) == "-":
        import sys

        for line in sys.stdin.buffer:
            yield line.rstrip(b"\r\n")
        return
    with open(path, "rb", buffering=_CHUNK) as handle:
        for line in handle:
            yield line.rstrip(b"\r\n")
