"""Capture files: one ``{"seq", "ts_ms", "dir", "msg"}`` JSON object per line (see tools README)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Read in large binary chunks; lines are handed on as bytes so they are decoded exactly once.
_CHUNK = 1 << 20


@contextmanager
def open_capture(path: Path | str) -> Iterator[BinaryIO]:
    """A capture file opened for iterating its lines as bytes; ``-`` means stdin.

    Lines keep their newline: JSON decoders skip trailing whitespace, and iterating the file
    object directly (no generator, no strip) keeps the replay's per-line cost down.
    """
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb", buffering=_CHUNK) as handle:
        yield handle


def read_lines(path: Path | str) -> Iterator[bytes]:
    """Yield the lines of a capture file (with their newline), ``-`` meaning stdin."""
    with open_capture(path) as handle:
        yield from handle
