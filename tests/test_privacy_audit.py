"""The privacy audit over everything the pipeline produces: no raw code, paths or URLs leave.

Every capture the suite replays (the shared ones, the recorded ones, and the fingerprint-heavy
ones) is audited with that capture's own diff lines, paths and working directories as the
known secrets; a single finding fails the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlytics.fingerprints.audit import KnownSecrets, audit_events
from tests.helpers import all_captures, replay_events


@pytest.mark.parametrize("capture", all_captures(), ids=lambda p: p.stem)
def test_replayed_events_pass_the_privacy_audit(capture: Path) -> None:
    known = KnownSecrets()
    known.add_capture(capture)
    events = replay_events(capture)
    assert events
    assert audit_events(events, known) == []


def test_audit_would_catch_a_leak() -> None:
    # The check is live: the same events with one raw diff line pasted in are flagged.
    capture = next(p for p in all_captures() if p.stem == "apply_patch_accept")
    known = KnownSecrets()
    known.add_capture(capture)
    events = replay_events(capture)
    leaked = dict(events[-1])
    leaked["event_params"] = {**leaked["event_params"], "model_slug": 'print("hello, world")'}
    assert audit_events([*events, leaked], known)
