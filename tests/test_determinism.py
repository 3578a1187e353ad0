"""The same capture gives byte-identical output, in-process and through the CLI."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import all_captures, replay_events_bytes, run_cli


def test_in_process_replay_is_byte_identical() -> None:
    captures = all_captures()
    assert replay_events_bytes(*captures) == replay_events_bytes(*captures)


def test_cli_replay_is_byte_identical(tmp_path: Path) -> None:
    captures = [str(p) for p in all_captures()]
    first = run_cli("replay", "--events", "-", "--no-warehouse", "-q", *captures).stdout
    second = run_cli("replay", "--events", "-", "--no-warehouse", "-q", *captures).stdout
    assert first == second
    assert first.count("\n") == len(replay_events_bytes(*all_captures()))
