"""JSONL sink: one event per line, exactly ``{"event_type": …, "event_params": {…}}``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from agentlytics.events.envelope import Envelope


class JsonlSink:
    """Appends events to a file, or writes them to stdout for ``-``."""

    def __init__(self, path: Path | str) -> None:
        self._own = str(path) != "-"
        self._out: BinaryIO = open(path, "wb") if self._own else sys.stdout.buffer  # noqa: SIM115
        self.written = 0

    def write(self, batch: Sequence[Envelope]) -> None:
        if batch:
            self._out.write(b"".join(e.body + b"\n" for e in batch))
            self.written += len(batch)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.flush()
        if self._own:
            self._out.close()
