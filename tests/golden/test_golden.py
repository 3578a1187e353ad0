"""Every shared capture (of every recorded Codex version) replays to exactly its reviewed golden events, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.regen import golden_path
from tests.helpers import capture_version, replay_events_bytes, versioned_captures


@pytest.mark.parametrize(
    "capture", versioned_captures(), ids=lambda p: f"{capture_version(p)}/{p.stem}"
)
def test_capture_matches_golden(capture: Path) -> None:
    golden = golden_path(capture)
    assert golden.exists(), f"no golden file for {capture.name}: run python -m tests.golden.regen"
    expected = golden.read_bytes().splitlines()
    actual = replay_events_bytes(capture)
    assert [e[:60] for e in actual] == [e[:60] for e in expected]  # same events, same order
    for got, want in zip(actual, expected, strict=True):
        assert got == want
