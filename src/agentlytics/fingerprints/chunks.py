"""Split one turn's fingerprints into events of at most ~2 MiB (spec §6.4, V-main).

Plain data only: the caller wraps each chunk into a ``codex_accepted_line_fingerprints`` event.
Every chunk goes out in its own HTTP request, so the estimate keeps each request under the
target; only the first chunk carries the line counts, so summing over chunks gives the totals.
"""

from __future__ import annotations

from typing import Final

#: Size target of one event (bytes), as in Codex.
TARGET_BYTES: Final = 2 * 1024 * 1024
#: Allowance for everything in the event except the fingerprint list.
FIXED_BYTES: Final = 1024
#: Codex's per-entry estimate: ``32 + len(path_hash) + len(line_hash)`` for 40-hex hashes
#: (``{"path_hash":"…","line_hash":"…"}`` is 31 bytes of syntax plus the hashes); the comma
#: between entries is added separately.
ESTIMATED_FINGERPRINT_BYTES: Final = 32 + 40 + 40
#: What the loop below yields with 40-hex hashes (estimated 2,097,060 bytes per chunk).
MAX_FINGERPRINTS_PER_CHUNK: Final = 18_549

Fingerprint = tuple[str, str]
Chunk = tuple[int, int, list[Fingerprint]]


def _estimated_size(fingerprint: Fingerprint) -> int:
    return 32 + len(fingerprint[0]) + len(fingerprint[1])


def chunk_fingerprints(added: int, deleted: int, fingerprints: list[Fingerprint]) -> list[Chunk]:
    """``[(accepted_added, accepted_deleted, fingerprints), …]`` per event, in order.

    No fingerprints → exactly one chunk with an empty list (the counts still go out). Later
    chunks carry ``0, 0``. There is no chunk index field on the wire.
    """
    if not fingerprints:
        return [(added, deleted, [])]
    chunks: list[list[Fingerprint]] = []
    current: list[Fingerprint] = []
    size = FIXED_BYTES
    for fingerprint in fingerprints:
        entry = _estimated_size(fingerprint)
        if current and size + 1 + entry > TARGET_BYTES:
            chunks.append(current)
            current = []
            size = FIXED_BYTES
        size += (1 if current else 0) + entry
        current.append(fingerprint)
    chunks.append(current)
    return [(added, deleted, chunks[0])] + [(0, 0, chunk) for chunk in chunks[1:]]
