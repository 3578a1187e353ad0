"""Collectors on one PostgreSQL: concurrent producers, a database outage, a killed collector."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from agentlytics.library.worker import BackgroundDelivery
from agentlytics.sinks.base import Sink
from agentlytics.sinks.http import HttpSink

from ..collector_proc import TOKEN, producer_env
from ..pg_server import PgServer, wait_until
from ..streams import expected, facts, flat_facts
from .procs import PgCollector

PRODUCER = Path(__file__).parent.parent / "delivery" / "producer.py"


def run_producer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PRODUCER), *args],
        env=producer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored(url: str) -> tuple[int, set[str]]:
    """(rows, distinct ids) in the store."""
    with psycopg.connect(url) as con:
        ids = [r[0] for r in con.execute("SELECT event_id FROM events")]
    return len(ids), set(ids)


@pytest.mark.slow
def test_two_collectors_two_producers_overlapping_streams_store_each_event_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Producer 1 → collector A (two worker processes), producer 2 → collector B, their streams
    overlapping by a third; meanwhile the very same batches go to A and B at once."""
    a = PgCollector(tmp_path / "a", pg_url, workers=2).start()
    b = PgCollector(tmp_path / "b", pg_url).start()
    seed, span, shift = 5, 16_000, 8_000
    producers = [
        run_producer(a.url, str(tmp_path / "spool-a"), "plain", str(seed), "0", str(span)),
        run_producer(b.url, str(tmp_path / "spool-b"), "plain", str(seed), str(shift), str(span)),
    ]
    try:
        # The same batches to both collectors at the same moment (copies past both streams).
        twins = expected(flat_facts(300, seed=seed, start=shift + span))
        sinks = [HttpSink(a.url, token=TOKEN), HttpSink(b.url, token=TOKEN)]
        for i in range(0, len(twins), 200):
            batch = twins[i : i + 200]
            posts = [threading.Thread(target=s.write, args=(batch,)) for s in sinks]
            for t in posts:
                t.start()
            for t in posts:
                t.join()
        assert sum(s.requests for s in sinks) >= 2 * (len(twins) // 200)
        want = {e.event_id for e in expected(flat_facts(shift + span, seed=seed))}
        want |= {e.event_id for e in twins}
        assert len(want) >= 100_000
        stats = []
        for proc in producers:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            stats.append(json.loads(out))
    finally:
        for proc in producers:
            if proc.poll() is None:
                proc.kill()
        a.stop()
        b.stop()
    for s in stats:
        assert s["flushed"] and s["quarantined"] == 0 and not s["dropped"]
    rows, ids = stored(pg_url)
    assert rows == len(ids) == len(want)
    assert ids == want
    # The overlap really was sent twice: the producers delivered more than the store holds.
    assert sum(s["delivered"] for s in stats) + len(twins) > rows + 30_000
    for c in (a, b):
        assert not [line for line in c.log_lines() if '"status":5' in line]


@pytest.mark.slow
def test_postgres_stopped_mid_stream_and_restarted_loses_and_duplicates_nothing(
    tmp_path: Path, pg: PgServer, pg_url: str
) -> None:
    chunks = list(facts(4_000, seed=7))
    want = {e.event_id for e in expected([f for chunk in chunks for f in chunk])}
    collector = PgCollector(tmp_path, pg_url).start()

    def sink() -> Sink:
        return HttpSink(collector.url, token=TOKEN, timeout=10)

    delivery = BackgroundDelivery(
        sink, spool_dir=tmp_path / "spool", backoff_initial=0.05, backoff_max=0.5, linger_ms=20
    )
    third = len(chunks) // 3
    try:
        for chunk in chunks[:third]:
            for fact in chunk:
                delivery.submit(fact)
        assert wait_until(lambda: delivery.stats()["delivered"] > 0)
        pg.stop("immediate")  # a crash: open transactions die with it
        for chunk in chunks[third : 2 * third]:
            for fact in chunk:
                delivery.submit(fact)
        assert wait_until(lambda: delivery.stats()["retries"] > 0)
        time.sleep(0.5)
        # The collector stays up and says so: 503, the client keeps the batch and retries.
        assert httpx.get(collector.url + "/healthz").status_code == 200
        assert any('"status":503' in line for line in collector.log_lines())
        pg.start()
        for chunk in chunks[2 * third :]:
            for fact in chunk:
                delivery.submit(fact)
        assert delivery.flush(120)
        stats = delivery.stats()
    finally:
        delivery.close(5)
        collector.stop()
        if not (pg.data / "postmaster.pid").exists():
            pg.start()
    assert stats["delivered"] == len(want) and stats["quarantined"] == 0
    rows, ids = stored(pg_url)
    assert rows == len(ids) == len(want)
    assert ids == want


@pytest.mark.slow
def test_a_collector_killed_mid_batch_stores_nothing_of_it_then_the_retry_stores_it_once(
    tmp_path: Path, pg_url: str
) -> None:
    batch = expected(flat_facts(2_600, seed=9))[:10_000]
    assert len(batch) == 10_000
    collector = PgCollector(tmp_path, pg_url).start()
    assert collector.proc is not None
    sink = HttpSink(collector.url, token=TOKEN, timeout=30)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            sink.write(batch)
        except BaseException as exc:
            errors.append(exc)

    sender = threading.Thread(target=send)
    with psycopg.connect(pg_url, autocommit=True) as watch:

        def writing() -> bool:
            row = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND (query LIKE 'COPY agentlytics_staging%' OR query LIKE '%INSERT INTO events%')"
                " AND pid <> pg_backend_pid()"
            ).fetchone()
            return bool(row and row[0])

        sender.start()
        assert wait_until(writing, timeout=60), "the collector never started the batch"
        collector.proc.send_signal(signal.SIGKILL)  # between COPY and commit
        collector.proc.wait(10)
        sender.join(30)
        # The server notices the dead client and rolls its transaction back.
        assert wait_until(lambda: not writing(), timeout=30)
    collector.proc = None
    assert errors, "the request cannot have succeeded"
    assert stored(pg_url) == (0, set())
    collector.start()
    HttpSink(collector.url, token=TOKEN, timeout=60).write(batch)
    HttpSink(collector.url, token=TOKEN, timeout=60).write(batch)  # a retry that had succeeded
    collector.stop()
    rows, ids = stored(pg_url)
    assert rows == len(ids) == 10_000
    assert ids == {e.event_id for e in batch}
