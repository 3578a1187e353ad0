"""Real captures beyond the shared scenarios (``tests/data/more-captures/<version>/``).

``thread_archive`` is recorded with both Codex releases by ``support/record_scenarios.py``
(``--codex-version V --out tests/data/more-captures/V``): one answered turn, then the client's
``thread/archive`` and ``thread/unarchive``. It is the real-capture source of
``codex_thread_archive_event``, which no shared scenario produces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentlytics.replay import replay
from tests.golden.test_codex_versions import normalized
from tests.helpers import MORE_CAPTURES, more_captures, replay_events

ARCHIVE = {v: MORE_CAPTURES / v / "thread_archive.jsonl" for v in ("0.169.0", "0.171.0")}


def _notification_times(capture: Path) -> dict[str, tuple[str, int]]:
    """method → (thread id, the tap's observation time) of the archive notifications."""
    out = {}
    for line in capture.read_bytes().splitlines():
        record = json.loads(line)
        method = record.get("msg", {}).get("method")
        if method in ("thread/archived", "thread/unarchived"):
            out[method] = (record["msg"]["params"]["threadId"], record["ts_ms"])
    return out


def test_thread_archive_0_171_exact_events() -> None:
    """The whole archive events of the 0.171.0 recording: the action, and as ``occurred_at_ms``
    the observation time of the notification (Codex reads its own clock at ingestion; spec
    decision 6) — seq 25 and seq 28 of the capture."""
    events = replay_events(ARCHIVE["0.171.0"])
    archive = [e for e in events if e["event_type"] == "codex_thread_archive_event"]
    thread = "01a23cbf-06c8-7401-872e-3193aab2274d"
    assert archive == [
        {
            "event_type": "codex_thread_archive_event",
            "event_params": {
                "thread_id": thread,
                "action": "archived",
                "occurred_at_ms": 1796315482217,
            },
        },
        {
            "event_type": "codex_thread_archive_event",
            "event_params": {
                "thread_id": thread,
                "action": "unarchived",
                "occurred_at_ms": 1796315482223,
            },
        },
    ]
    assert [e["event_type"] for e in events] == [
        "codex_thread_initialized",
        "codex_turn_event",
        "codex_thread_archive_event",
        "codex_thread_archive_event",
    ]


@pytest.mark.parametrize("version", sorted(ARCHIVE))
def test_archive_events_are_the_notifications_of_the_capture(version: str) -> None:
    times = _notification_times(ARCHIVE[version])
    events = replay_events(ARCHIVE[version])
    got = [
        (
            e["event_params"]["action"],
            e["event_params"]["thread_id"],
            e["event_params"]["occurred_at_ms"],
        )
        for e in events
        if e["event_type"] == "codex_thread_archive_event"
    ]
    assert got == [
        ("archived", *times["thread/archived"]),
        ("unarchived", *times["thread/unarchived"]),
    ]


def test_both_releases_give_the_same_archive_events() -> None:
    old, new = replay_events(ARCHIVE["0.169.0"]), replay_events(ARCHIVE["0.171.0"])
    assert normalized(new) == normalized(old)


def test_every_more_capture_is_recorded_with_both_releases_and_drops_nothing() -> None:
    names = {v: sorted(p.name for p in (MORE_CAPTURES / v).glob("*.jsonl")) for v in ARCHIVE}
    assert names["0.169.0"] == names["0.171.0"] == ["thread_archive.jsonl"]
    result = replay(more_captures(), [])
    assert (result.drops.counts, result.reducer_drops) == ({}, {})
    assert result.repo_sources == {"capture": 2}  # recorded by the tap: repo identity inside
