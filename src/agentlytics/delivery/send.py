"""``agentlytics replay --send URL``: a replay delivered through the real client delivery.

The captures are observed on this thread (the edge, as a library caller would), every fact is
handed to a :class:`BackgroundDelivery` with an HTTP sink, and the run ends with a bounded
flush. What was not delivered stays in the spool, whose path the report gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlytics.drops import Drops
from agentlytics.observe.capture import read_lines
from agentlytics.observe.edge import WireObserver

from .api import Delivery


@dataclass(slots=True)
class SendResult:
    files: int = 0
    lines: int = 0
    facts: int = 0
    flushed: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    drops: Drops = field(default_factory=Drops)


def submit_captures(captures: Sequence[Path | str], delivery: Delivery) -> SendResult:
    """Observe each capture as its own connection and submit every fact, in order."""
    result = SendResult()
    for connection, capture in enumerate(captures):
        observer = WireObserver(connection, result.drops, "stdio")
        name = Path(capture).name
        lineno = 0
        for lineno, line in enumerate(read_lines(capture), start=1):
            for fact in observer.observe_line(line, f"{name}:{lineno}"):
                delivery.submit(fact)
                result.facts += 1
        for fact in observer.close():
            delivery.submit(fact)
            result.facts += 1
        result.lines += lineno
        result.files += 1
    return result
