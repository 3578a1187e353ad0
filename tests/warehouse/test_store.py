"""The warehouse stores every event once, whichever insert path a batch takes."""

from __future__ import annotations

from pathlib import Path

from agentlytics.events.envelope import Envelope
from agentlytics.warehouse.store import Warehouse

from ..streams import expected, flat_facts


def test_each_event_is_stored_once_across_retries_overlaps_and_repeats(tmp_path: Path) -> None:
    events = expected(flat_facts(20, seed=71))
    assert len(events) > 40
    first, second = events[:30], events[30:]
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as warehouse:
        # New events: the plain INSERT path.
        assert warehouse.insert_new_ids(first) == {e.event_id for e in first}
        # A retry of the same batch: nothing new, and the failed plain INSERT left nothing.
        assert warehouse.insert_new_ids(first) == set()
        # Half old, half new, and one new event twice in the same batch.
        mixed: list[Envelope] = first[10:] + second + second[:1]
        assert warehouse.insert_new_ids(mixed) == {e.event_id for e in second}
        assert warehouse.insert(events) == 0
        assert warehouse.count() == len(events)
    with Warehouse(path, read_only=True) as warehouse:
        rows = dict(warehouse.con.execute("SELECT event_id, payload FROM events").fetchall())
    # Every payload is the event's exact bytes.
    assert rows == {e.event_id: e.body.decode() for e in events}
