"""The report of a send (``agentlytics replay --send URL``, the tap's exit): what was delivered.

The captures are read by ``agentlytics.replay.submit_captures``; what was not delivered stays
in the spool, whose path the report gives — after checking that it is really there
(:func:`outcome`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlytics.drops import Drops

from .spool import QUARANTINED, slots


@dataclass(slots=True)
class SendResult:
    files: int = 0
    lines: int = 0
    facts: int = 0
    flushed: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    drops: Drops = field(default_factory=Drops)
    #: (path, why) of each file that is not a capture (not read; the CLI says why).
    rejected: list[tuple[str, str]] = field(default_factory=list)


def spool_counts(directory: Path) -> tuple[int, int] | None:
    """(pending, quarantined) events over every slot of a spool directory, read without
    writing anything (the disk may be full); None if the directory is gone or unreadable."""
    if not directory.is_dir():
        return None
    pending = quarantined = 0
    try:
        for db in slots(directory):
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                for state, n in con.execute("SELECT state, count(*) FROM events GROUP BY state"):
                    if state == QUARANTINED:
                        quarantined += n
                    else:
                        pending += n
            finally:
                con.close()
    except (OSError, sqlite3.Error):
        return None
    return pending, quarantined


@dataclass(slots=True)
class Outcome:
    """What became of a send, in words a person can act on, and whether it was complete."""

    lines: list[str]
    delivery_drops: dict[str, int]
    complete: bool
    left_in_spool: bool


def outcome(result: SendResult, stats: dict[str, Any], spool: Path) -> Outcome:
    """Every fact and event accounted for: delivered, quarantined, pending in the spool, in the
    journal for the next process, or dropped with the delivery's reason — never assumed."""
    lines = [
        f"Sent {result.files} capture(s), {result.lines} lines → {result.facts} facts → "
        f"{stats['spooled_events']} events: {stats['delivered']} delivered, "
        f"{stats['quarantined']} quarantined, {stats['requests']} request(s), "
        f"{stats['retries']} retr(ies)."
    ]
    drops = dict(stats["dropped"])
    journal = stats.get("journal") or {}
    if journal.get("error"):
        lines.append(
            f"journal: {journal['error']} ({journal.get('failed', 0)} record(s) not written)"
        )
    counts = spool_counts(spool)
    left = False
    if counts is None:
        lost = stats["spooled_events"] - stats["delivered"]
        if lost > 0:
            drops["spool_vanished"] = lost
        lines.append(f"The spool {spool} is gone: nothing undelivered survives in it.")
    else:
        pending, quarantined = counts
        if pending or quarantined:
            left = True
            lines.append(
                f"{pending} event(s) pending and {quarantined} quarantined are kept in {spool} "
                "(sent by the next agentlytics process using it; `agentlytics spool status`)."
            )
        unreduced = stats.get("unreduced", 0)
        if (
            unreduced
            and journal
            and not journal.get("error")
            and not drops.get("unreduced_at_exit")
        ):
            left = True
            lines.append(
                f"{unreduced} fact(s) not reduced yet are kept in the journal in {spool} "
                "(replayed by the next agentlytics process using it)."
            )
    if stats.get("spool_error") and stats["spool_error"] != stats["last_error"]:
        lines.append(f"spool error: {stats['spool_error']}")
    if stats["last_error"]:
        lines.append(f"last error: {stats['last_error']}")
    complete = (
        bool(stats.get("flushed", True))
        and not stats["quarantined"]
        and not drops
        and not left
        and counts is not None
    )
    return Outcome(lines, drops, complete, left)
