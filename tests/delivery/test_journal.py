"""Journal records (``delivery/journal.py``): plain data that replays to the same events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentlytics.client import AnalyticsClient
from agentlytics.delivery.spool import SpoolSlot
from agentlytics.facts import AppInvocation, ConnectionClosed, Fact, PluginMetadata
from agentlytics.library.journal import SUFFIX, decode, encode
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.observe.deferred import Deferred
from agentlytics.pipeline import Pipeline

from ..helpers import all_captures, capture_path
from ..streams import expected, flat_facts
from ..test_library_api import drive
from .sessions import Collect, expected_by_session, run_session, session_calls
from .test_worker import Recording, assert_delivered_in_order


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
    facts) comes back from its journal record, through a fresh pipeline, as the same events."""
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
    replayed = [decode(encode(item)[4:]) for item in items]
    assert [type(i) for i in replayed] == [type(i) for i in items]
    want = [e.body for e in Pipeline().ingest(items)]
    assert want, "the capture must make events"
    assert [e.body for e in Pipeline().ingest(replayed)] == want


def test_a_dead_process_journal_is_replayed_and_a_torn_tail_counted(tmp_path: Path) -> None:
    """A journal left in a slot (its process died before reducing any of it) is replayed by the
    next delivery to take the slot; the torn last frame of the kill is a counted drop."""
    fact_list = flat_facts(6, seed=57)
    slot = SpoolSlot.acquire(tmp_path)
    dead = tmp_path / f"spool-{slot.index}.0123456789ab{SUFFIX}"
    dead.write_bytes(b"".join(encode(f) for f in fact_list) + encode(fact_list[0])[:9])
    slot.release()
    sink = Recording()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path)
    assert delivery.flush(20)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["dropped"] == {"journal_torn_tail": 1}
    assert stats["recovered_records"] == len(fact_list)
    assert_delivered_in_order(sink.events, expected(fact_list))
    assert not dead.exists()


def test_the_journal_starts_afresh_when_no_connection_is_open(tmp_path: Path) -> None:
    """Sessions that end keep the journal small: at a moment with no connection open and
    nothing queued, the journal starts a new, empty file and the old one is gone."""
    sink = Collect()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path)
    for session in range(20):
        run_session(delivery, session, session_calls(session, 58))
        assert delivery.flush(20)
    deadline = time.monotonic() + 10  # the reduce thread starts the new file after the flush
    while delivery.stats()["journal"]["records"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert delivery.stats()["journal"]["records"] == 0
    assert len(list(tmp_path.glob(f"*{SUFFIX}"))) == 1
    delivery.close(5)
    assert list(tmp_path.glob(f"*{SUFFIX}")) == []  # closed with everything reduced
    want = [e.body for events in expected_by_session(range(20), 58) for e in events]
    assert sorted(e.body for e in sink.envelopes) == sorted(want)


def test_a_full_journal_stops_taking_records_and_delivery_goes_on(tmp_path: Path) -> None:
    sink = Recording()
    # Connections that stay open (no ConnectionClosed): the journal cannot start afresh.
    fact_list = [f for f in flat_facts(4, seed=59) if not isinstance(f, ConnectionClosed)]
    delivery = BackgroundDelivery(
        lambda: sink, spool_dir=tmp_path, journal_max_bytes=2_000, journal_ms=1
    )
    for fact in fact_list:
        delivery.submit(fact)
    assert delivery.flush(20)
    deadline = time.monotonic() + 10
    while delivery.stats()["journal"]["error"] is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the journal's thread writes within a millisecond or so
    journal = delivery.stats()["journal"]
    delivery.close(1)
    assert journal["error"] is not None and "journal full" in journal["error"]
    assert journal["failed"] > 0 and journal["bytes"] <= 2_000
    assert_delivered_in_order(sink.events, expected(fact_list))
