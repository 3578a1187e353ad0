"""``codex_accepted_line_fingerprints`` (spec §4.22, V-main with fingerprints, decision 5)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from agentlytics.events.envelope import EventParams


class AcceptedLineFingerprint(msgspec.Struct):
    path_hash: str
    line_hash: str


class AcceptedLineFingerprints(EventParams):
    """One chunk of a turn's accepted-line fingerprints; each chunk goes in its own request."""

    EVENT_TYPE: ClassVar[str] = "codex_accepted_line_fingerprints"
    ISOLATED: ClassVar[bool] = True

    #: The inner event type, always ``"codex.accepted_line_fingerprints"`` (note the dot).
    event_type: str
    turn_id: str
    thread_id: str
    product_surface: str | None
    model_slug: str | None
    completed_at: int
    repo_hash: str | None
    accepted_added_lines: int
    accepted_deleted_lines: int
    line_fingerprints: list[AcceptedLineFingerprint]
