"""Regenerate the golden event files: ``python -m tests.golden.regen`` from the repo root.

Golden files are *reviewed* expectations: after regenerating, read the diff (``git diff
tests/golden``) and check every changed field by hand against the spec before committing.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import all_captures, replay_events_bytes

HERE = Path(__file__).resolve().parent


def golden_path(capture: Path) -> Path:
    return HERE / f"{capture.stem}.events.jsonl"


def main() -> None:
    for capture in all_captures():
        golden_path(capture).write_bytes(b"".join(b + b"\n" for b in replay_events_bytes(capture)))
        print("wrote", golden_path(capture).name)


if __name__ == "__main__":
    main()
