"""Journal records (``delivery/journal.py``): plain data that replays to the same events."""

from __future__ import annotations

import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.delivery.journal import Decoder, encode
from agentlytics.facts import AppInvocation, Fact, PluginMetadata
from agentlytics.observe.deferred import Deferred
from agentlytics.pipeline import Pipeline

from ..helpers import all_captures, capture_path
from ..test_library_api import drive


class Record:
    """A delivery that keeps what it is handed."""

    def __init__(self) -> None:
        self.items: list[Fact | Deferred] = []

    def submit(self, fact: Fact | Deferred) -> None:
        self.items.append(fact)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        return True


@pytest.mark.parametrize("name", [p.stem for p in all_captures()])
def test_a_journal_record_replays_to_the_same_events(name: str) -> None:
    """Every kind of item a host submits (protocol calls, custom facts in context, plain
    facts) comes back from its journal record, against fresh observers, as the same events."""
    recorded = Record()
    client = AnalyticsClient(recorded, product_client_id=None)
    drive(client, capture_path(name))
    tracking = client.tracking("t-1", "turn-1")
    client.track_app_used(tracking, AppInvocation("drive", "Drive", "explicit"))
    client.track_plugin_installed(PluginMetadata("p", "m", has_skills=False))
    client.track_goal_event(thread_id="t-1", goal_id="g", event_kind="created",
                            goal_status="active", has_token_budget=False)  # fmt: skip
    client.track_server_request_aborted(12345, at_ms=9)
    client.end()
    items = recorded.items
    decoder = Decoder()
    replayed = [decoder.decode(encode(item)[4:]) for item in items]
    assert [type(i) for i in replayed] == [type(i) for i in items]
    want = [e.body for e in Pipeline().ingest(items)]
    assert want, "the capture must make events"
    assert [e.body for e in Pipeline().ingest(replayed)] == want
