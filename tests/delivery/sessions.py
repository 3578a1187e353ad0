"""Library sessions for the durability tests: re-keyed captures driven through ``track_*``.

Session *k* is capture copy *k* (``tests/streams.py``: every id re-keyed, so each copy is a
distinct session with distinct event ids) reported by its own ``AnalyticsClient`` the way a
host program sees the traffic (``tests/helpers.track_call``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from agentlytics.client import AnalyticsClient
from agentlytics.delivery.api import Delivery, InlineDelivery
from agentlytics.events.envelope import Envelope

from ..helpers import track_call
from ..streams import rekeyed_lines


def drive_session(client: AnalyticsClient, session: int, seed: int) -> None:
    """Report session ``session``'s traffic through the client's ``track_*`` calls."""
    for line in rekeyed_lines(session, seed)[1]:
        record = json.loads(line)
        if "msg" not in record:  # capture metadata, not traffic
            continue
        name, args, kwargs = track_call(record)
        getattr(client, name)(*args, **kwargs)


def run_session(delivery: Delivery, session: int, seed: int) -> None:
    """One session on a shared delivery; its connection ends, the delivery stays open."""
    client = AnalyticsClient(delivery, connection_id=session)
    drive_session(client, session, seed)
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
