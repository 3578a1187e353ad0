"""Chunking at the 2 MiB target (spec §6.4)."""

from __future__ import annotations

import msgspec

from agentlytics.fingerprints.chunks import (
    MAX_FINGERPRINTS_PER_CHUNK,
    TARGET_BYTES,
    chunk_fingerprints,
)
from agentlytics.fingerprints.diff import fingerprint_hash


def _prints(n: int) -> list[tuple[str, str]]:
    path = fingerprint_hash("path", "src/lib.rs")
    return [(path, fingerprint_hash("line", f"line {i}")) for i in range(n)]


def test_no_fingerprints_gives_exactly_one_empty_chunk() -> None:
    assert chunk_fingerprints(3, 1, []) == [(3, 1, [])]


def test_boundary_is_18549_per_chunk() -> None:
    exact = _prints(MAX_FINGERPRINTS_PER_CHUNK)
    assert chunk_fingerprints(5, 2, exact) == [(5, 2, exact)]
    one_more = _prints(MAX_FINGERPRINTS_PER_CHUNK + 1)
    chunks = chunk_fingerprints(5, 2, one_more)
    assert [(a, d, len(c)) for a, d, c in chunks] == [
        (5, 2, MAX_FINGERPRINTS_PER_CHUNK),
        (0, 0, 1),
    ]
    assert [fp for _, _, c in chunks for fp in c] == one_more


def test_counts_only_on_first_chunk_and_events_stay_under_target() -> None:
    prints = _prints(2 * MAX_FINGERPRINTS_PER_CHUNK + 10)
    chunks = chunk_fingerprints(40_000, 7, prints)
    assert [(a, d, len(c)) for a, d, c in chunks] == [
        (40_000, 7, MAX_FINGERPRINTS_PER_CHUNK),
        (0, 0, MAX_FINGERPRINTS_PER_CHUNK),
        (0, 0, 10),
    ]
    assert sum(a for a, _, _ in chunks) == 40_000
    for added, deleted, chunk in chunks:
        event = {
            "event_type": "codex_accepted_line_fingerprints",
            "event_params": {
                "event_type": "codex.accepted_line_fingerprints",
                "turn_id": "turn-1",
                "thread_id": "thread-1",
                "product_surface": "codex",
                "model_slug": "gpt-5.5",
                "completed_at": 1795415230,
                "repo_hash": fingerprint_hash("repo", "github.com/openai/codex"),
                "accepted_added_lines": added,
                "accepted_deleted_lines": deleted,
                "line_fingerprints": [{"path_hash": p, "line_hash": h} for p, h in chunk],
            },
        }
        assert len(msgspec.json.encode(event)) <= TARGET_BYTES
