"""Accepted-line fingerprints, emitted right after a turn's event (spec §6.1, §6.4, decision 5).

From the turn's latest cumulative diff (``turn/diff/updated``; each one replaces the last):
counts and per-line hashes of the accepted added lines, never the code itself. The repo hash was
looked up at the edge (it needs git); the parsing here is pure computation.
"""

from __future__ import annotations

from agentlytics.events.envelope import TrackEvent, track
from agentlytics.events.fingerprints import AcceptedLineFingerprint, AcceptedLineFingerprints
from agentlytics.fingerprints.chunks import chunk_fingerprints
from agentlytics.fingerprints.diff import fingerprint_unified_diff
from agentlytics.reducer.state import ReducerState, TurnState

INNER_EVENT_TYPE = "codex.accepted_line_fingerprints"


def accepted_line_events(state: ReducerState, turn_id: str, turn: TurnState) -> list[TrackEvent]:
    """The turn's fingerprint chunks, or nothing when its last diff counts no line."""
    config = turn.resolved_config
    if not turn.latest_diff or config is None or turn.thread_id is None or turn.completed is None:
        return []
    parsed = fingerprint_unified_diff(turn.latest_diff)
    if parsed.added == 0 and parsed.deleted == 0:
        return []
    completed_at = turn.completed.observed_at_ms // 1000
    return [
        track(
            AcceptedLineFingerprints(
                event_type=INNER_EVENT_TYPE,
                turn_id=turn_id,
                thread_id=turn.thread_id,
                product_surface="codex",
                model_slug=config.model,
                completed_at=completed_at,
                repo_hash=config.repo_hash,
                accepted_added_lines=added,
                accepted_deleted_lines=deleted,
                line_fingerprints=[AcceptedLineFingerprint(p, h) for p, h in chunk],
            )
        )
        for added, deleted, chunk in chunk_fingerprints(
            parsed.added, parsed.deleted, parsed.fingerprints
        )
    ]


#: Runs after the turns family builds a turn event.
AFTER_TURN = (accepted_line_events,)
