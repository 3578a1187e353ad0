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
from agentlytics.observe.capture import open_capture
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
        observer.source = Path(capture).name
        with open_capture(capture) as lines:
            for line in lines:
                for fact in observer.observe_line(line):
                    delivery.submit(fact)
                    result.facts += 1
        for fact in observer.close():
            delivery.submit(fact)
            result.facts += 1
        result.lines += observer.lineno
        result.files += 1
    return result
