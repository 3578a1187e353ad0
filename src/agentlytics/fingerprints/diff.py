"""Unified diff → accepted-line counts and fingerprints (spec §6.2–§6.3, decision 5).

A fingerprint is ``(path_hash, line_hash)``: domain-separated SHA-1 of the file path and of the
whitespace-normalised added line. The code itself never leaves the machine, only the hashes.

Why the parser is hand-written rather than built on a diff library (e.g. ``unidiff``): the rules
are not those of a diff *parser* but a line classifier that must match Codex bit for bit.
``unidiff`` validates hunk lengths from the ``@@`` header and raises on malformed input, whereas
here a hunk lasts until the next ``diff --git`` regardless of its header counts; ``unidiff``
splits with ``str.splitlines`` semantics (which also break on ``\\v``, ``\\f``, ``\\x1c``–``\\x1e``,
``\\x85``, ``\\u2028``, ``\\u2029``) where Codex uses Rust ``str::lines`` (``\\n`` only); and it
has no notion of the ``+++ ``/``--- `` "lookalike inside a hunk is content" rule being tied to
``in_hunk`` rather than to the header counts. Matching those three behaviours on top of a
library would mean re-parsing its output, so the scanner is written here directly (about 30
lines, property-tested against a line-by-line port of the rules).

Rules (first match wins), with decision 5 — nothing is counted outside a hunk:

1. ``diff --git `` → path = None, leave hunk.
2. ``@@ `` → enter hunk (path unchanged).
3. outside a hunk, ``+++ `` → path = :func:`normalize_diff_path` of the rest.
4. outside a hunk, anything else (``--- ``, stray ``+``/``-`` lines, metadata) → ignored.
5. inside a hunk, ``+`` → added; fingerprinted when the path is set and the line is effective.
6. inside a hunk, ``-`` → deleted.
7. anything else → ignored.

Two implementations, one result. The per-file work (splitting the diff into sections at
``diff --git `` lines, finding the hunk part and the ``+++ `` path, hashing the path) is Python
in both. The per-line work (classifying, whitespace-collapsing, filtering and SHA-1-hashing
every added line) runs either

* natively, in the optional C extension ``_native`` (``_native.c``), for all-ASCII diffs — the
  common case, and one where Rust's whitespace set is ``\\t\\n\\v\\f\\r`` and space and a word
  character is ``[A-Za-z0-9_]``, so the C code needs no Unicode tables; or
* in pure Python (:func:`fingerprint_unified_diff_python`, the reference), for non-ASCII diffs
  and wherever the extension was not built (it is optional: an install without a C compiler
  still works, only slower).

Why native code: this runs on every turn's final diff, and in pure Python the floor is hashlib's
per-call overhead (a hash-object copy, ``update``, ``hexdigest`` ≈ 380 ns a line) plus line
extraction and normalisation, about 2.5× a bare hash-only loop; the C scanner does the whole
line in ≈ 190 ns. :data:`FINGERPRINT_BACKEND` says which one is in use;
``bench/bench_fingerprints.py`` prints it. Property tests check both against a line-by-line port
of the rules, and against each other on arbitrary ASCII diffs.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress, pairwise, repeat
from typing import Final, Literal

_ScanHunks = Callable[[str, int, int, bool], tuple[int, int, list[str]]]
_scan_hunks: _ScanHunks | None
try:
    from agentlytics.fingerprints._native import scan_hunks as _scan_hunks
except ImportError:  # built without a C compiler (the extension is optional): pure Python
    _scan_hunks = None

#: Which implementation :func:`fingerprint_unified_diff` uses for all-ASCII diffs:
#: ``"native"`` (the C extension ``_native`` is importable) or ``"python"``.
FINGERPRINT_BACKEND: Final[Literal["native", "python"]] = (
    "python" if _scan_hunks is None else "native"
)

#: Domain-separation prefix of every fingerprint hash (spec §6.3).
_PREFIX: Final = b"file-line-v1\x00"
_PATH_PREFIX: Final = _PREFIX + b"path\x00"
_LINE_PREFIX: Final = _PREFIX + b"line\x00"

#: Rust ``char::is_whitespace`` (Unicode White_Space), for ``trim``/``split_whitespace``.
#: Python's ``str.split()`` uses this set plus ``\x1c``–``\x1f`` (the ASCII "information
#: separators"), which Rust does not split on.
RUST_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_RUST_WS_RUN: Final = re.compile("[" + re.escape(RUST_WHITESPACE) + "]+")
#: The characters Python treats as whitespace but Rust does not.
_PY_ONLY_WHITESPACE: Final = ("\x1c", "\x1d", "\x1e", "\x1f")
#: ``\w`` on ``str`` patterns is exactly ``ch.isalnum() or ch == "_"``.
_HAS_WORD_CHAR: Final = re.compile(r"\w").search


#: Key of the opt-in keyed mode (``[fingerprints] key``), None for upstream's plain SHA-1.
_KEY: bytes | None = None
#: The domains the key applies to: a path or a line is guessable from a dictionary of common
#: file names and code lines; the repo hash stays upstream's, so it joins across installations.
_KEYED_DOMAINS: Final = frozenset({"path", "line"})


def set_fingerprint_key(key: str | bytes | None) -> None:
    """Switch path and line hashes to HMAC-SHA-256 under ``key`` (any secret string, e.g.
    ``openssl rand -hex 32``), or back to upstream's SHA-1 (None or "").

    Not upstream-compatible: such fingerprints only match others made with the same key
    (``attribute`` with the same configuration). With a key the pure-Python scanner runs (the
    C extension only does SHA-1), so results are the same whether or not it is built.
    """
    global _KEY
    _KEY = (key.encode() if isinstance(key, str) else key) or None


def fingerprint_key_set() -> bool:
    return _KEY is not None


def fingerprint_hash(domain: str, value: str) -> str:
    """Lowercase SHA-1 hex of ``b"file-line-v1\\0" + domain + b"\\0" + value`` (spec §6.3);
    HMAC-SHA-256 under the configured key for paths and lines (:func:`set_fingerprint_key`)."""
    data = _PREFIX + domain.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    if _KEY is not None and domain in _KEYED_DOMAINS:
        return hmac.new(_KEY, data, hashlib.sha256).hexdigest()
    return hashlib.sha1(data).hexdigest()


def rust_lines(text: str) -> list[str]:
    """Split like Rust ``str::lines``: on ``\\n`` only, dropping one ``\\r`` before each ``\\n``.

    A final line terminator does not produce an empty last line. (Current Rust keeps a lone
    ``\\r`` at the very end of unterminated text; it is whitespace, so no count or hash
    produced here can depend on it.)
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if "\r" in text:
        last = len(lines) - 1
        terminated = text.endswith("\n")
        for i, line in enumerate(lines):
            if line.endswith("\r") and (i < last or terminated):
                lines[i] = line[:-1]
    return lines


def normalize_diff_path(raw: str) -> str | None:
    """Path of a ``+++ `` header: trimmed, ``/dev/null`` → None, one ``b/`` (else ``a/``) removed.

    Anything else (quoted paths, tab-separated timestamps, ``i/``/``w/`` prefixes) is kept
    verbatim, as in Codex, so that both sides of a comparison hash the same string.
    """
    path = raw.strip(RUST_WHITESPACE)
    if path == "/dev/null":
        return None
    if path.startswith("b/") or path.startswith("a/"):
        path = path[2:]
    return path


def _collapse_whitespace(line: str) -> str:
    """``split_whitespace().join(" ")`` with Rust's whitespace set."""
    if "\x1c" in line or "\x1d" in line or "\x1e" in line or "\x1f" in line:
        return " ".join(part for part in _RUST_WS_RUN.split(line) if part)
    return " ".join(line.split())


def normalize_effective_line(line: str) -> str | None:
    """Whitespace-collapsed line, or None when it is too short or has no word character.

    Rejected: UTF-8 length ≤ 3 bytes, or no character that is alphanumeric or ``_``. The
    alphanumeric test is Python's ``isalnum`` (via ``\\w``); Rust's ``is_alphanumeric`` also
    accepts Other_Alphabetic marks (e.g. circled letters, lone combining vowel signs), so a line
    made only of such marks and punctuation is kept by Codex and rejected here — a case code
    does not produce in practice.
    """
    norm = _collapse_whitespace(line)
    if len(norm) <= 3 and len(norm.encode("utf-8", "surrogatepass")) <= 3:
        return None
    if _HAS_WORD_CHAR(norm) is None:
        return None
    return norm


@dataclass(slots=True)
class DiffFingerprints:
    """Counts and fingerprints of one unified diff."""

    added: int = 0
    deleted: int = 0
    fingerprints: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class FileSection:
    """One file's share of a diff: its path and its in-hunk added/deleted lines.

    ``added`` holds the raw added contents (without the leading ``+``; a trailing ``\\r`` may
    remain, which normalisation removes). ``path`` is None before the first ``+++ `` header
    and for deleted files, in which case the lines are counted but never fingerprinted.
    """

    path: str | None
    added: list[str]
    deleted: int


# The classifier works on whole regions instead of line by line: the rules only ever look at
# a line's first characters, a hunk lasts until the next ``diff --git `` line, and the path is
# fixed by the last ``+++ `` header before the first ``@@ `` of that region. So a diff splits
# into sections at ``diff --git `` lines; in each, everything before the first ``@@ `` line is
# header, everything after is hunk. A line starts at offset 0 or after ``\n`` and runs to the
# next ``\n`` — exactly Rust ``str::lines`` (a ``\r`` left before ``\n`` is whitespace, which
# path and line normalisation remove) — so ``str.find``/``str.count`` and one literal-prefixed
# regex do all the scanning in C. Property tests check this against a line-by-line port.
_ADDED_LINE: Final = re.compile(r"\n\+([^\n]*)")


def _section_spans(diff: str) -> Iterator[tuple[str | None, int, int]]:
    """``(path, body, end)`` of each file section with at least one hunk (§6.2, decision 5).

    ``diff[body:end]`` is the section's hunk part: it starts with the section's first ``@@ ``
    line and runs to the next ``diff --git `` line (or the end), so every ``+``/``-`` line in
    it is hunk content.
    """
    find = diff.find
    bounds = [0]
    i = find("\ndiff --git ")
    while i != -1:
        bounds.append(i + 1)
        i = find("\ndiff --git ", i + 1)
    bounds.append(len(diff))
    for start, end in pairwise(bounds):
        if diff.startswith("@@ ", start, end):
            body = start
        else:
            hunk = find("\n@@ ", start, end)
            if hunk == -1:
                continue
            body = hunk + 1
        path: str | None = None
        header = diff.rfind("\n+++ ", start, body)
        if header != -1:
            header += 1
        elif diff.startswith("+++ ", start, body):
            header = start
        if header != -1:
            eol = find("\n", header, body)
            path = normalize_diff_path(diff[header + 4 : body if eol == -1 else eol])
        yield path, body, end


def iter_file_sections(diff: str) -> Iterator[FileSection]:
    """Yield each file section of a diff that has at least one hunk (§6.2 with decision 5)."""
    for path, body, end in _section_spans(diff):
        added = _ADDED_LINE.findall(diff, body, end)
        yield FileSection(path, added, diff.count("\n-", body, end))


def _normalized(contents: list[str], exact_ws: bool) -> list[str]:
    """Whitespace-collapse every added content (``map`` over C methods: no bytecode per line)."""
    if exact_ws:
        return list(map(" ".join, map(str.split, contents)))
    return list(map(_collapse_whitespace, contents))


def _effective_bytes(norms: list[str]) -> list[bytes]:
    """UTF-8 of every normalised line that passes the §6.2 filter (> 3 bytes, a word char)."""
    try:
        data = list(map(str.encode, norms))
    except UnicodeEncodeError:  # lone surrogates, which only lax JSON decoders produce
        data = [n.encode("utf-8", "surrogatepass") for n in norms]
    long_enough = map((3).__lt__, map(len, data))
    has_word = map(bool, map(_HAS_WORD_CHAR, norms))
    return list(compress(data, map(operator.and_, long_enough, has_word)))


_SHA1_TYPE: Final = type(hashlib.sha1())
#: SHA-1 state after the line-domain prefix; copying it is cheaper than hashing the prefix
#: again, and saves building ``prefix + line`` for every line.
_LINE_STATE: Final = hashlib.sha1(_LINE_PREFIX)


def _line_hashes(data: list[bytes]) -> Iterator[str]:
    """``fingerprint_hash("line", …)`` of many lines: copy the prefixed state, update, hex."""
    if _KEY is not None:
        keyed = hmac.new(_KEY, _LINE_PREFIX, hashlib.sha256)
        macs = list(map(type(keyed).copy, repeat(keyed, len(data))))
        any(map(type(keyed).update, macs, data))
        return map(type(keyed).hexdigest, macs)
    states = list(map(_SHA1_TYPE.copy, repeat(_LINE_STATE, len(data))))
    any(map(_SHA1_TYPE.update, states, data))  # update() returns None: any() just drives it
    return map(_SHA1_TYPE.hexdigest, states)


def fingerprint_unified_diff_python(diff: str) -> DiffFingerprints:
    """The pure-Python implementation of :func:`fingerprint_unified_diff`: the reference.

    It handles any text, and is what runs when the native scanner is absent or the diff is not
    all ASCII. No Python bytecode runs per line: the scanning is ``str.find``/``count`` plus
    one regex, and normalisation, filtering and hashing are chains of ``map`` over
    C-implemented callables. Hashing dominates (hashlib's per-call overhead), then whitespace
    normalisation and line extraction; see ``bench/bench_fingerprints.py``.
    """
    exact_ws = not any(ch in diff for ch in _PY_ONLY_WHITESPACE)
    result = DiffFingerprints()
    extend = result.fingerprints.extend
    for section in iter_file_sections(diff):
        result.added += len(section.added)
        result.deleted += section.deleted
        if section.path is None or not section.added:
            continue
        data = _effective_bytes(_normalized(section.added, exact_ws))
        if data:
            path_hash = fingerprint_hash("path", section.path)
            extend(zip(repeat(path_hash), _line_hashes(data)))
    return result


def _fingerprint_unified_diff_native(diff: str) -> DiffFingerprints:
    """:func:`fingerprint_unified_diff` of an all-ASCII diff, per-line work in ``_native``."""
    assert _scan_hunks is not None
    result = DiffFingerprints()
    extend = result.fingerprints.extend
    for path, body, end in _section_spans(diff):
        added, deleted, hashes = _scan_hunks(diff, body, end, path is not None)
        result.added += added
        result.deleted += deleted
        if path is not None and hashes:
            extend(zip(repeat(fingerprint_hash("path", path)), hashes))
    return result


def fingerprint_unified_diff(diff: str) -> DiffFingerprints:
    """Count in-hunk added/deleted lines and fingerprint the effective added ones.

    This runs on every turn's final diff. An all-ASCII diff goes to the native scanner when it
    is built (:data:`FINGERPRINT_BACKEND` is ``"native"``); anything else to
    :func:`fingerprint_unified_diff_python`. Both give identical results (property-tested).
    """
    if _scan_hunks is not None and _KEY is None and diff.isascii():
        return _fingerprint_unified_diff_native(diff)
    return fingerprint_unified_diff_python(diff)


def effective_lines(contents: list[str]) -> list[str | None]:
    """Per raw added content: its normalised form if it would be fingerprinted, else None.

    Attribution uses this to fingerprint commit lines with the very same rules.
    """
    joined = "".join(contents)
    exact_ws = not any(ch in joined for ch in _PY_ONLY_WHITESPACE)
    return [
        n if len(n.encode("utf-8", "surrogatepass")) > 3 and _HAS_WORD_CHAR(n) else None
        for n in _normalized(contents, exact_ws)
    ]


def line_hash(normalized: str) -> str:
    """``fingerprint_hash("line", normalized)`` without rebuilding the prefix."""
    if _KEY is not None:
        return fingerprint_hash("line", normalized)
    return hashlib.sha1(_LINE_PREFIX + normalized.encode("utf-8", "surrogatepass")).hexdigest()
