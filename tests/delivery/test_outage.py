"""A collector outage in the middle of a 100,000+ event stream: every event stored exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentlytics.delivery.spool import Spool, slots
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import Sink
from agentlytics.sinks.http import HttpSink

from ..collector_proc import TOKEN, Collector
from ..streams import expected, facts

pytestmark = pytest.mark.slow  # a 100,000+ event stream through an outage


def test_outage_mid_stream_every_event_stored_exactly_once(tmp_path: Path) -> None:
    chunks = list(facts(32_000, seed=3))
    want = expected([f for chunk in chunks for f in chunk])
    assert len(want) >= 100_000
    collector = Collector(tmp_path).start()

    def sink() -> Sink:
        return HttpSink(collector.url, token=TOKEN, timeout=5)

    delivery = BackgroundDelivery(
        sink, spool_dir=tmp_path / "spool", backoff_initial=0.05, backoff_max=0.4, linger_ms=50
    )
    third = len(chunks) // 3
    try:
        for chunk in chunks[:third]:
            for fact in chunk:
                delivery.submit(fact)
        while delivery.stats()["delivered"] == 0:
            time.sleep(0.01)
        collector.stop()  # outage: the rest of part 1 and all of part 2 meet a dead endpoint
        for chunk in chunks[third : 2 * third]:
            for fact in chunk:
                delivery.submit(fact)
        deadline = time.monotonic() + 30
        while delivery.stats()["retries"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert delivery.stats()["retries"] > 0
        collector.start()
        for chunk in chunks[2 * third :]:
            for fact in chunk:
                delivery.submit(fact)
        assert delivery.flush(120)
        stats = delivery.stats()
    finally:
        delivery.close(5)
        collector.stop()
    assert stats["delivered"] == len(want)
    assert stats["quarantined"] == 0 and not stats["dropped"]
    ids = [row[0] for row in collector.rows()]
    assert len(ids) == len(set(ids)) == len(want)
    assert set(ids) == {e.event_id for e in want}
    for db in slots(tmp_path / "spool"):
        spool = Spool(db)
        assert spool.counts() == {"pending": 0, "quarantined": 0}
        spool.close()
