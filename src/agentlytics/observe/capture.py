"""Capture files: one ``{"seq", "ts_ms", "dir", "msg"}`` JSON object per line (see tools README)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

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


#: How much of a file :func:`not_a_capture` looks at, and how many of its lines.
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 20
#: Keys one of which every capture record holds next to ``dir``.
_RECORD_BODY = frozenset({"msg", "raw", "raw_base64", "meta"})


def not_a_capture(path: Path | str) -> str | None:
    """Why the file at ``path`` is not a capture, judged from its first lines; None if it is.

    A capture is JSON lines each holding ``dir`` (and ``msg``, ``raw`` or ``meta``). A file
    whose first lines are all something else — gzip, binary, bare JSON-RPC messages without
    the capture envelope, or no JSON at all — would only give "malformed line" counts, so it
    is rejected up front with what to do instead. An empty file is a capture of nothing.
    """
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed; decompress it first (gunzip, or zcat FILE | replay -)"
    if head.startswith((b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ", b"PK\x03\x04")):
        return "it is a compressed archive; extract the capture (.jsonl) first"
    lines = [line for line in head.split(b"\n")[:_SNIFF_LINES] if line.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # the last line may be cut by the read
    if not lines:
        return None
    jsonrpc = 0
    for line in lines:
        try:
            obj = msgspec.json.decode(line)
        except (msgspec.DecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            if "dir" in obj and not _RECORD_BODY.isdisjoint(obj):
                return None
            if "method" in obj or "jsonrpc" in obj or ("id" in obj and "result" in obj):
                jsonrpc += 1
    if b"\x00" in head:
        return "it is a binary file, not JSON lines"
    if jsonrpc:
        return (
            "it holds bare JSON-RPC messages without the capture envelope "
            '({"seq", "ts_ms", "dir", "msg"} per line); record traffic with '
            "`agentlytics tap --record FILE -- codex app-server`"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut by the read
            return "it is not UTF-8 text (a binary file?)"
    return "its first lines are not capture records (JSON objects with seq, ts_ms, dir, msg)"
