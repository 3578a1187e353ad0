"""Regenerate the golden event files: ``python -m tests.golden.regen`` from the repo root.

Golden files are *reviewed* expectations: after regenerating, read the diff (``git diff
tests/golden``) and check every changed field by hand against the spec before committing.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import LATER_CAPTURES, replay_events_bytes, versioned_captures

HERE = Path(__file__).resolve().parent


def golden_path(capture: Path) -> Path:
    """``<stem>.events.jsonl`` here for 0.169.0's captures, under ``<version>/`` for later ones."""
    for version, folder in LATER_CAPTURES.items():
        if capture.parent == folder:
            return HERE / version / f"{capture.stem}.events.jsonl"
    return HERE / f"{capture.stem}.events.jsonl"


def main() -> None:
    for capture in versioned_captures():
        golden = golden_path(capture)
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(b"".join(b + b"\n" for b in replay_events_bytes(capture)))
        print("wrote", golden.relative_to(HERE))


if __name__ == "__main__":
    main()
