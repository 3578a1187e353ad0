"""Large, realistic fact streams: the real captures re-keyed so every copy is a new session.

Every UUID in a capture (thread, turn, session ids) gets its last 12 hex digits replaced by a
per-copy counter, so copy *k* of a capture is a distinct session whose events have distinct ids.
Facts come from the real edge (``WireObserver``), exactly as the library or a tap would make them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from agentlytics.drops import Drops
from agentlytics.events.envelope import Envelope
from agentlytics.facts import Fact
from agentlytics.families import FAMILIES
from agentlytics.observe.edge import WireObserver
from agentlytics.pipeline import Pipeline

from .helpers import all_captures

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@cache
def _templates() -> list[tuple[bytes, list[bytes]]]:
    """(capture text, its distinct UUIDs) per capture."""
    out = []
    for path in all_captures():
        text = path.read_bytes()
        out.append((text, sorted(set(_UUID.findall(text)))))
    return out


def rekeyed_lines(copy: int, seed: int = 0) -> tuple[int, list[bytes]]:
    """Lines of capture ``copy % n``, re-keyed for (seed, copy)."""
    templates = _templates()
    text, uuids = templates[copy % len(templates)]
    tag = b"%04x%08x" % (seed & 0xFFFF, copy)
    for u in uuids:
        text = text.replace(u, u[:24] + tag)
    return copy % len(templates), text.splitlines()


def facts(copies: int, seed: int = 0, start: int = 0) -> Iterator[list[Fact]]:
    """Facts of ``copies`` re-keyed capture copies, one list per copy (one connection each)."""
    drops = Drops()
    for copy in range(start, start + copies):
        _, lines = rekeyed_lines(copy, seed)
        observer = WireObserver(seed * 1_000_000 + copy, drops, "stdio", families=FAMILIES)
        out: list[Fact] = []
        for line in lines:
            out += observer.observe_line(line)
        out += observer.close()
        yield out


def flat_facts(copies: int, seed: int = 0, start: int = 0) -> list[Fact]:
    return [f for chunk in facts(copies, seed, start) for f in chunk]


def expected(fact_list: list[Fact]) -> list[Envelope]:
    """What a fresh pipeline makes of these facts (the oracle: ids are deterministic)."""
    return Pipeline().ingest(fact_list)
