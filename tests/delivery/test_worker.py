"""The worker's rules with in-process sinks: batching limits, isolation, order, retries, bisection,
restart from the spool, spilled facts after a crash."""

from __future__ import annotations

import pickle
import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from agentlytics.delivery.spool import Spool, SpoolSlot
from agentlytics.events.envelope import Envelope
from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import SinkError

from ..streams import expected, flat_facts


class Recording:
    """Records every batch; fails according to ``fail`` (a callable on the batch)."""

    def __init__(self, fail: object = None) -> None:
        self.batches: list[list[Envelope]] = []
        self.fail = fail
        self.calls = 0
        self.lock = threading.Lock()

    def write(self, batch: Sequence[Envelope]) -> None:
        with self.lock:
            self.calls += 1
        if callable(self.fail):
            self.fail(batch)
        self.batches.append(list(batch))

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[Envelope]:
        return [e for b in self.batches for e in b]


def assert_delivered_in_order(got: Sequence[Envelope], want: Sequence[Envelope]) -> None:
    """Every event exactly once; regular events in order, isolated ones in order among
    themselves (an isolated event goes in a request of its own whenever it reaches the front,
    so it may overtake or trail the regular events around it)."""
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in want)
    for isolated in (False, True):
        assert [e.event_id for e in got if e.isolated is isolated] == [
            e.event_id for e in want if e.isolated is isolated
        ]


def _env(i: int, isolated: bool = False, size: int = 10) -> Envelope:
    body = b'{"event_type":"t","event_params":{"i":%d,"pad":"%s"}}' % (i, b"x" * size)
    return Envelope(f"{i:064x}", "t", body, None, None, isolated)


def _seed(spool_dir: Path, events: list[Envelope]) -> None:
    slot = SpoolSlot.acquire(spool_dir)
    spool = Spool(slot.db_path)
    spool.append(events)
    spool.close()
    slot.release()


def test_batches_respect_count_bytes_and_isolation(tmp_path: Path) -> None:
    events = [_env(i, isolated=i in (3, 4, 20), size=300 if i > 30 else 10) for i in range(60)]
    _seed(tmp_path, events)
    sink = Recording()
    delivery = BackgroundDelivery(
        lambda: sink, spool_dir=tmp_path, batch_max_events=8, batch_max_bytes=1500, linger_ms=1
    )
    assert delivery.flush(10)
    delivery.close(1)
    # Every event once; regular events keep their order; each isolated event goes alone, and
    # regular events are batched across isolated ones (which do not cut a batch short).
    assert sorted(e.event_id for e in sink.events) == sorted(e.event_id for e in events)
    regular = [e.event_id for e in events if not e.isolated]
    assert [e.event_id for e in sink.events if not e.isolated] == regular
    for batch in sink.batches:
        assert len(batch) <= 8
        if any(e.isolated for e in batch):
            assert len(batch) == 1
        else:
            assert len(batch) == 1 or sum(len(e.body) + 1 for e in batch) <= 1500
    assert [len(b) for b in sink.batches[:4]] == [8, 1, 1, 8]
    assert [e.event_id for e in sink.batches[0]] == [
        events[i].event_id for i in (0, 1, 2, 5, 6, 7, 8, 9)
    ]


def test_retryable_errors_back_off_and_keep_order(tmp_path: Path) -> None:
    failures = iter([SinkError("503", retryable=True, retry_after=0.05)] * 3)

    def fail(batch: Sequence[Envelope]) -> None:
        err = next(failures, None)
        if err is not None:
            raise err

    sink = Recording(fail)
    fact_list = flat_facts(40, seed=51)
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, backoff_initial=0.01)
    for fact in fact_list:
        delivery.submit(fact)
    assert delivery.flush(10)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["retries"] == 3 and stats["quarantined"] == 0
    assert_delivered_in_order(sink.events, expected(fact_list))


def test_final_rejection_bisects_down_to_the_culprit(tmp_path: Path) -> None:
    events = [_env(i) for i in range(40)]
    _seed(tmp_path, events)
    culprit = events[13].event_id

    def fail(batch: Sequence[Envelope]) -> None:
        if any(e.event_id == culprit for e in batch):
            raise SinkError("HTTP 400: bad event", retryable=False, split=True, status=400)

    sink = Recording(fail)
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, linger_ms=1)
    assert delivery.flush(10)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["quarantined"] == 1 and stats["delivered"] == 39
    assert {e.event_id for e in sink.events} == {e.event_id for e in events} - {culprit}
    held = Spool(SpoolSlot.acquire(tmp_path).db_path).quarantined()
    assert [(q.event_id, q.reason) for q in held] == [(culprit, "HTTP 400: bad event")]


def test_restart_resends_what_the_previous_process_left(tmp_path: Path) -> None:
    down = Recording(lambda batch: (_ for _ in ()).throw(ConnectionError("down")))
    fact_list = flat_facts(50, seed=52)
    first = BackgroundDelivery(lambda: down, spool_dir=tmp_path, backoff_initial=0.01)
    for fact in fact_list:
        first.submit(fact)
    deadline = time.monotonic() + 10
    while first.stats()["spooled_events"] < len(expected(fact_list)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    slot = first.stats()["spool"]
    assert not first.close(0.2)  # cannot deliver: it stays in the spool
    # The restart comes once the first process let its slot go. Its threads may stop after
    # close() returned (a loaded machine); they release the slot then, never leak it.
    deadline = time.monotonic() + 10
    while True:
        probe = SpoolSlot.acquire(tmp_path)
        probe.release()
        if str(probe.db_path) == slot:
            break
        assert time.monotonic() < deadline, f"{slot} still held after close()"
        time.sleep(0.01)
    up = Recording()
    second = BackgroundDelivery(lambda: up, spool_dir=tmp_path)
    assert second.flush(10)
    second.close(1)
    assert_delivered_in_order(up.events, expected(fact_list))


def test_spilled_facts_of_a_crashed_process_are_replayed_and_torn_tail_counted(
    tmp_path: Path,
) -> None:
    fact_list = flat_facts(10, seed=53)
    slot = SpoolSlot.acquire(tmp_path)
    with open(slot.overflow_path, "wb") as out:
        for fact in fact_list:
            data = pickle.dumps(fact)
            out.write(struct.pack("<I", len(data)) + data)
        out.write(struct.pack("<I", 1000) + b"partial")  # killed mid-write
    slot.release()
    sink = Recording()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path)
    assert delivery.flush(10)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["dropped"] == {"overflow_torn_tail": 1}
    assert_delivered_in_order(sink.events, expected(fact_list))
    assert slot.overflow_path.stat().st_size == 0


def test_spill_preserves_submission_order(tmp_path: Path) -> None:
    sink = Recording()
    fact_list = flat_facts(200, seed=54)
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, queue_size=3)
    for fact in fact_list:
        delivery.submit(fact)
    assert delivery.flush(20)
    stats = delivery.stats()
    delivery.close(1)
    assert stats["spilled"] > 0
    assert_delivered_in_order(sink.events, expected(fact_list))


def test_two_deliveries_in_one_directory_take_different_slots(tmp_path: Path) -> None:
    a = BackgroundDelivery(Recording, spool_dir=tmp_path)
    b = BackgroundDelivery(Recording, spool_dir=tmp_path)
    try:
        assert a.stats()["spool"] != b.stats()["spool"]
    finally:
        a.close(1)
        b.close(1)


class Concurrent(Recording):
    """A sink that allows concurrent writes; each write is slow, and overlap is tracked."""

    concurrent = True

    def __init__(self, fail: object = None) -> None:
        super().__init__(fail)
        self.active = 0
        self.most_active = 0

    def write(self, batch: Sequence[Envelope]) -> None:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(0.02)
            super().write(batch)
        finally:
            with self.lock:
                self.active -= 1


def test_a_concurrent_sink_gets_requests_side_by_side_and_each_settles(tmp_path: Path) -> None:
    from agentlytics.delivery.sender import IN_FLIGHT

    events = [_env(i, isolated=i % 3 == 0) for i in range(90)]  # 30 isolated, 60 regular
    _seed(tmp_path, events)
    bad, flaky, culprit = events[9].event_id, events[12].event_id, events[40].event_id
    tries: dict[str, int] = {}

    def fail(batch: Sequence[Envelope]) -> None:
        if any(e.event_id == culprit for e in batch):  # a regular batch: bisected down to it
            raise SinkError("HTTP 400: bad event", retryable=False, split=True, status=400)
        event_id = batch[0].event_id
        with sink.lock:
            tries[event_id] = tries.get(event_id, 0) + 1
        if event_id == bad:
            raise SinkError("HTTP 422: no", retryable=False, status=422)
        if event_id == flaky and tries[event_id] < 3:
            raise SinkError("HTTP 503", retryable=True)

    sink = Concurrent(fail)
    delivery = BackgroundDelivery(
        lambda: sink, spool_dir=tmp_path, linger_ms=1, backoff_initial=0.01, batch_max_events=6
    )
    assert delivery.flush(20)
    stats = delivery.stats()
    delivery.close(1)
    # Requests overlapped, never beyond the bound.
    assert 1 < sink.most_active <= IN_FLIGHT
    # Each isolated event went alone; every event but the two rejected ones was delivered once
    # (order across requests is not kept with a concurrent sink; within a request it is); the
    # flaky one was retried.
    assert all(len(b) == 1 for b in sink.batches if any(e.isolated for e in b))
    delivered = [e.event_id for e in sink.events]
    assert sorted(delivered) == sorted(
        e.event_id for e in events if e.event_id not in (bad, culprit)
    )
    order = {e.event_id: i for i, e in enumerate(events)}
    assert all(
        [order[e.event_id] for e in b] == sorted(order[e.event_id] for e in b) for b in sink.batches
    )
    assert tries[flaky] == 3 and stats["retries"] >= 2
    assert stats["delivered"] == 88 and stats["quarantined"] == 2
    spool = Spool(SpoolSlot.acquire(tmp_path).db_path)
    assert {(q.event_id, q.reason) for q in spool.quarantined()} == {
        (bad, "HTTP 422: no"),
        (culprit, "HTTP 400: bad event"),
    }
    assert spool.counts() == {"pending": 0, "quarantined": 2}  # every delivered one acked


def test_a_fact_the_reducer_fails_on_is_counted_and_its_neighbours_reduced_once(
    tmp_path: Path,
) -> None:
    from agentlytics.pipeline import Pipeline

    facts = flat_facts(6, seed=83)
    bad = facts[len(facts) // 2]

    def pipeline() -> Pipeline:
        p = Pipeline()
        reduce = p.reducer.ingest

        def failing(fact: object) -> object:
            if fact is bad:
                raise RuntimeError("reducer bug")
            return reduce(fact)  # type: ignore[arg-type]

        p.reducer.ingest = failing  # type: ignore[method-assign]
        return p

    sink = Recording()
    delivery = BackgroundDelivery(lambda: sink, spool_dir=tmp_path, pipeline_factory=pipeline)
    for fact in facts:  # all in one drain: the failure is in the middle of a reduce batch
        delivery.submit(fact)
    assert delivery.close(30)
    # Exactly what the stream makes without the bad fact (which raised before touching the
    # reducer): the facts before it are neither lost nor reduced twice.
    want = expected([f for f in facts if f is not bad])
    assert_delivered_in_order(sink.events, want)
    assert sorted(e.body for e in sink.events) == sorted(e.body for e in want)
    assert delivery.stats()["dropped"] == {"reducer_error:RuntimeError": 1}
