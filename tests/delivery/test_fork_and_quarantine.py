"""fork() safety, quarantine of rejected events, and the spool CLI, against a real collector."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlytics.delivery.spool import Spool, SpoolSlot
from agentlytics.events.envelope import Envelope
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import Sink
from agentlytics.sinks.http import HttpSink

from ..collector_proc import TOKEN, Collector
from ..helpers import run_cli
from ..streams import expected, flat_facts


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path).start()
    yield c
    c.stop()


def _delivery(collector: Collector, spool: Path) -> BackgroundDelivery:
    def sink() -> Sink:
        return HttpSink(collector.url, token=TOKEN, timeout=5)

    return BackgroundDelivery(sink, spool_dir=spool, linger_ms=20, backoff_initial=0.05)


def test_fork_child_and_parent_each_deliver_their_own_events_once(
    collector: Collector, tmp_path: Path
) -> None:
    before, child_facts, after = (flat_facts(60, seed=s) for s in (41, 42, 43))
    delivery = _delivery(collector, tmp_path / "spool")
    for fact in before:  # not flushed: some are still queued in memory at fork time
        delivery.submit(fact)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read)
            for fact in child_facts:
                delivery.submit(fact)
            ok = delivery.close(30)
            os.write(write, json.dumps({"ok": ok, **delivery.stats()}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    for fact in after:
        delivery.submit(fact)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read())
    assert os.waitstatus_to_exitcode(status) == 0
    assert delivery.close(30)
    parent_events = expected(before + after)
    child_events = expected(child_facts)
    # The child started empty: it delivered its own events only, none of the parent's queue.
    assert child["ok"] and child["delivered"] == len(child_events)
    assert child["spool"] != delivery.stats()["spool"]
    assert delivery.stats()["delivered"] == len(parent_events)
    collector.stop()
    ids = [row[0] for row in collector.rows()]
    assert len(ids) == len(set(ids))
    assert set(ids) == {e.event_id for e in parent_events + child_events}


def test_rejected_event_is_quarantined_with_reason_and_delivery_continues(
    collector: Collector, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    # A malformed event already in the spool (as a buggy producer would have left it).
    bad = Envelope(
        event_id="f" * 64,
        event_type="codex_turn_event",
        body=b'{"event_type":"codex_turn_event","event_params":[1,2]}',
        thread_id=None,
        turn_id=None,
        isolated=False,
    )
    slot = SpoolSlot.acquire(spool_dir)
    Spool(slot.db_path).append([bad])
    slot.release()
    good_facts = flat_facts(80, seed=44)
    delivery = _delivery(collector, spool_dir)
    for fact in good_facts:
        delivery.submit(fact)
    assert delivery.flush(30)
    stats = delivery.stats()
    delivery.close(5)
    good = expected(good_facts)
    assert stats["quarantined"] == 1
    assert stats["delivered"] == len(good)
    assert "400" in stats["last_error"] and "event_params" in stats["last_error"]
    held = Spool(SpoolSlot.acquire(spool_dir).db_path).quarantined()
    assert [q.event_id for q in held] == [bad.event_id]
    assert "events[0] (codex_turn_event) at $.event_params" in held[0].reason
    listing = run_cli("spool", "status", "--spool", str(spool_dir), "--quarantined")
    assert "codex_turn_event" in listing.stdout and "quarantined" in listing.stdout.lower()
    collector.stop()
    ids = {row[0] for row in collector.rows()}
    assert ids == {e.event_id for e in good}
