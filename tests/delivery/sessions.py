"""Library sessions for the durability tests: re-keyed captures driven through ``track_*``.

Session *k* is capture copy *k* (``tests/streams.py``: every id re-keyed, so each copy is a
distinct session with distinct event ids) reported by its own ``AnalyticsClient`` the way a
host program sees the traffic (``tests/helpers.track_call``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentlytics.client import AnalyticsClient
from agentlytics.events.envelope import Envelope
from agentlytics.library.delivery import Delivery, InlineDelivery

from ..helpers import track_call
from ..streams import rekeyed_lines

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


def session_calls(session: int, seed: int) -> list[Call]:
    """Session ``session``'s traffic as the host's ``track_*`` calls (name, args, kwargs)."""
    calls = []
    for line in rekeyed_lines(session, seed)[1]:
        record = json.loads(line)
        if "msg" in record:  # not capture metadata
            calls.append(track_call(record))
    return calls


def drive_session(client: AnalyticsClient, session: int, seed: int) -> None:
    """Report session ``session``'s traffic through the client's ``track_*`` calls."""
    play(client, session_calls(session, seed))


def play(client: AnalyticsClient, calls: list[Call]) -> None:
    for name, args, kwargs in calls:
        getattr(client, name)(*args, **kwargs)


def run_session(delivery: Delivery, session: int, calls: list[Call]) -> None:
    """One session on a shared delivery; its connection ends, the delivery stays open."""
    client = AnalyticsClient(delivery, connection_id=session)
    play(client, calls)
    client.end()


class Collect:
    """A sink keeping every envelope it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def write(self, batch: Sequence[Envelope]) -> None:
        self.envelopes.extend(batch)

    def close(self) -> None:
        pass


def expected_by_session(sessions: range, seed: int, end: bool = True) -> list[list[Envelope]]:
    """The events each session makes, run inline one after the other (the oracle)."""
    sink = Collect()
    delivery = InlineDelivery([sink])
    out: list[list[Envelope]] = []
    keep = []
    for session in sessions:
        before = len(sink.envelopes)
        client = AnalyticsClient(delivery, connection_id=session)
        drive_session(client, session, seed)
        if end:
            client.end()
        keep.append(client)
        out.append(sink.envelopes[before:])
    return out
