"""A fixed nesting limit for every JSON the project reads from outside.

msgspec decodes and encodes recursively and stops with ``RecursionError`` near the
interpreter's recursion limit, *minus the frames already on the stack*. So a value nested 900
deep can decode at the top of a replay and then fail where it is re-encoded, deeper in the
stack — a crash far from the input. Checking every untrusted JSON text against one fixed limit
first makes the outcome depend on the input alone: deeper than :data:`MAX_DEPTH` is a counted
drop (or a 400 at the collector), everything else is safe to decode and encode anywhere.

Real traffic nests about 11 levels deep (capture line envelope included); 128 leaves room for
deep tool arguments and schemas while staying far below the recursion limit.
"""

from __future__ import annotations

import re

import msgspec

#: Deepest nesting of arrays/objects accepted in one JSON text (a capture line, a message
#: payload, a collector event).
MAX_DEPTH = 128

#: What the library records for a payload it could not encode for its depth (or a cycle): a
#: value one level past the limit, so it is counted as "nested too deep" like any other.
TOO_DEEP = msgspec.Raw(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))

#: A JSON string (escapes included); removed before counting so brackets inside text count 0.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``data`` nests arrays/objects more than ``limit`` deep.

    Cheap for the common case (a count of opening brackets); only a text with more than
    ``limit`` of them is measured, by peeling empty ``[]`` pairs one level per pass. Text that
    is not balanced JSON is left to the decoder to reject.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return _deeper_than(data, limit)


def _deeper_than(data: bytes, limit: int) -> bool:
    brackets = _STRING.sub(b"", data).translate(_SQUARE, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:  # the usual deep value: one run of openings
        return True
    for _ in range(limit):
        peeled = brackets.replace(b"[]", b"")
        if len(peeled) == len(brackets):
            return False  # empty, or unbalanced: the decoder reports it
        brackets = peeled
    return b"[]" in brackets


def too_deep_text(text: str, limit: int = MAX_DEPTH) -> bool:
    """:func:`too_deep` for a ``str``."""
    if text.count("[") + text.count("{") <= limit:
        return False
    return _deeper_than(text.encode("utf-8", "surrogatepass"), limit)
