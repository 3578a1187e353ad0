"""Benchmark: delivery cost on the caller's thread, end-to-end rate, collector ingest rate.

Run: ``python bench/bench_delivery.py [--calls N] [--copies N] [--runs N] [--quick]``.

1. ``submit()`` per-call cost on the caller's thread (median, p99 over ``--calls`` calls, each
   timed with ``perf_counter_ns``) with the background threads running, against posthog-python's
   ``capture()`` with ``send=False`` (builds and enqueues-as-if, no network) in the same run.
   Facts are real (re-keyed captures through the edge); the queue is sized to hold the burst.
   A second row shows the spill path (queue of 1,000: most calls serialize to disk).
2. End-to-end: facts → ``BackgroundDelivery`` (reduce, spool, batch, gzip) → HTTP → collector
   (``agentlytics collect`` subprocess) → DuckDB; events/s from first submit to ``flush()``.
   The same facts into a sink that discards are timed too: the producer's own ceiling.
3. Collector ingest: pre-built gzipped 500-event requests posted by two client threads to a
   fresh collector, events/s stored — the time to the last answer plus the closing of its
   warehouse (the final checkpoint, from the collector's log) — against DuckDB's own bulk load (``read_json`` of the same rows as NDJSON
   into an identical table, PK included, then ``CHECKPOINT``). Medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
import msgspec  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.collector_proc import TOKEN, Collector  # noqa: E402
from tests.streams import expected, flat_facts  # noqa: E402

from agentlytics.delivery.background import BackgroundDelivery  # noqa: E402
from agentlytics.events.envelope import Envelope  # noqa: E402
from agentlytics.facts import Fact  # noqa: E402
from agentlytics.sinks.base import Sink  # noqa: E402
from agentlytics.sinks.http import IDS_HEADER, PATH, HttpSink, encode_batch  # noqa: E402
from agentlytics.warehouse.store import Warehouse  # noqa: E402


class Discard:
    def write(self, batch: Sequence[Envelope]) -> None:
        pass

    def close(self) -> None:
        pass


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0  # ns -> µs


def bench_submit(fact_list: list[Fact], queue_size: int, spool: Path) -> tuple[float, float]:
    delivery = BackgroundDelivery(Discard, spool_dir=spool, queue_size=queue_size)
    clock = time.perf_counter_ns
    submit = delivery.submit
    lat = []
    append = lat.append
    for fact in fact_list:
        t = clock()
        submit(fact)
        append(clock() - t)
    delivery.close(120)
    return _pct(lat, 0.5), _pct(lat, 0.99)


def bench_posthog(calls: int) -> tuple[float, float]:
    import posthog

    client = posthog.Posthog("phc_bench", host="http://127.0.0.1:9", send=False)
    props = {
        "thread_id": "01a20716-2acf-7183-b0d3-52d47762948f", "turn_id": "t-1",
        "model": "gpt-5", "model_provider": "openai", "status": "completed",
        "duration_ms": 1234, "total_tokens": 5678, "approval_policy": "on-request",
        "sandbox_policy": "workspace-write", "reasoning_effort": "medium",
        "tool_calls": 3, "steer_count": 0, "is_first_turn": True, "ephemeral": False,
    }  # fmt: skip
    clock = time.perf_counter_ns
    lat = []
    for i in range(calls):
        t = clock()
        client.capture("codex_turn_event", distinct_id=f"user-{i & 255}", properties=props)
        lat.append(clock() - t)
    client.shutdown()
    return _pct(lat, 0.5), _pct(lat, 0.99)


def bench_producer(fact_list: list[Fact], n_events: int, workdir: Path) -> float:
    """The client side alone (reduce, spool, batch; a sink that discards): its ceiling."""
    delivery = BackgroundDelivery(Discard, spool_dir=workdir, queue_size=len(fact_list) + 10)
    start = time.perf_counter()
    for fact in fact_list:
        delivery.submit(fact)
    assert delivery.flush(300), delivery.stats()
    elapsed = time.perf_counter() - start
    assert delivery.stats()["delivered"] == n_events
    delivery.close(5)
    return n_events / elapsed


def bench_end_to_end(fact_list: list[Fact], n_events: int, workdir: Path) -> float:
    collector = Collector(workdir).start()
    try:

        def sink() -> Sink:
            return HttpSink(collector.url, token=TOKEN, timeout=30)

        # The queue holds the whole burst, as in the submit() row: this measures the pipeline's
        # rate, not the spill path (a burst this size against a smaller queue spills to disk).
        delivery = BackgroundDelivery(
            sink, spool_dir=workdir / "spool", queue_size=len(fact_list) + 10
        )
        start = time.perf_counter()
        for fact in fact_list:
            delivery.submit(fact)
        assert delivery.flush(300), delivery.stats()
        elapsed = time.perf_counter() - start
        stats = delivery.stats()
        delivery.close(5)
    finally:
        collector.stop()
    stored = len(collector.rows())
    assert stats["delivered"] == n_events == stored, (stats, stored)
    return n_events / elapsed


def _requests(events: list[Envelope], size: int = 500) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(0, len(events), size):
        batch = events[i : i + size]
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"}
        explicit = [
            f"{j}={e.event_id}"
            for j, e in enumerate(batch)
            if hashlib.sha256(e.body).hexdigest() != e.event_id
        ]
        if explicit:
            headers[IDS_HEADER] = ",".join(explicit)
        out.append((gzip.compress(encode_batch(batch), 1), headers))
    return out


def bench_collector(events: list[Envelope], workdir: Path, clients: int = 2) -> float:
    requests = _requests(events)
    collector = Collector(workdir).start()
    try:
        todo = list(enumerate(requests))
        lock = threading.Lock()

        def worker() -> None:
            with httpx.Client(timeout=60) as client:
                while True:
                    with lock:
                        if not todo:
                            return
                        _, (body, headers) = todo.pop()
                    r = client.post(collector.url + PATH, content=body, headers=headers)
                    assert r.status_code == 200, r.text

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        collector.stop()
    # Stopping closes the warehouse, which checkpoints what is still only in DuckDB's WAL: that
    # work counts (as the bulk load below is timed with its CHECKPOINT), process exit does not.
    stopped = [json.loads(line) for line in collector.log_lines() if "close_ms" in line]
    elapsed += stopped[-1]["close_ms"] / 1000
    assert len(collector.rows()) == len(events)
    return len(events) / elapsed


def bench_bulk_load(events: list[Envelope], workdir: Path) -> float:
    enc = msgspec.json.Encoder()
    ndjson = workdir / "events.ndjson"
    with open(ndjson, "wb") as out:
        for e in events:
            out.write(
                b'{"event_id":"%s","event_type":"%s","thread_id":%s,"turn_id":%s,"payload":%s}\n'
                % (e.event_id.encode(), e.event_type.encode(), enc.encode(e.thread_id),
                   enc.encode(e.turn_id), e.body)
            )  # fmt: skip
    warehouse = Warehouse(workdir / "bulk.duckdb")
    columns = (
        "{event_id: 'VARCHAR', event_type: 'VARCHAR', thread_id: 'VARCHAR', "
        "turn_id: 'VARCHAR', payload: 'JSON'}"
    )
    start = time.perf_counter()
    warehouse.con.execute(
        f"INSERT INTO events SELECT * FROM read_json('{ndjson}', "
        f"format = 'newline_delimited', columns = {columns})"
    )
    warehouse.con.execute("CHECKPOINT")  # as durable and compacted as the collector's file
    elapsed = time.perf_counter() - start
    assert warehouse.count() == len(events)
    warehouse.close()
    return len(events) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="submit()/capture() calls")
    parser.add_argument("--copies", type=int, default=20_000, help="capture copies end to end")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.copies, args.runs = 5_000, 600, 1
    console = Console(width=150)
    console.print(f"Python {sys.version.split()[0]}; preparing facts …")

    facts_for_calls: list[Fact] = []
    copies = 0
    while len(facts_for_calls) < args.calls:
        facts_for_calls += flat_facts(500, seed=9, start=copies)
        copies += 500
    facts_for_calls = facts_for_calls[: args.calls]
    e2e_facts = flat_facts(args.copies, seed=10)
    e2e_events = expected(e2e_facts)

    submit, spill, capture, e2e, producer, coll, bulk = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for run in range(args.runs):
            d = base / f"run{run}"
            d.mkdir()
            submit.append(bench_submit(facts_for_calls, len(facts_for_calls) + 10, d / "s1"))
            capture.append(bench_posthog(args.calls))
            spill.append(bench_submit(facts_for_calls, 1_000, d / "s2"))
            e2e.append(bench_end_to_end(e2e_facts, len(e2e_events), d / "e2e"))
            producer.append(bench_producer(e2e_facts, len(e2e_events), d / "producer"))
            (d / "c").mkdir()
            coll.append(bench_collector(e2e_events, d / "c"))
            bulk.append(bench_bulk_load(e2e_events, d))

    med = statistics.median
    s50, s99 = med(x[0] for x in submit), med(x[1] for x in submit)
    p50, p99 = med(x[0] for x in capture), med(x[1] for x in capture)
    sp50, sp99 = med(x[0] for x in spill), med(x[1] for x in spill)
    table = Table(title=f"Delivery benchmark (medians of {args.runs} run(s))", title_justify="left")
    for col in ("measure", "value", "baseline (same run)", "ratio", "target"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(
        f"submit() median µs ({args.calls:,} calls)", f"{s50:.2f}", f"posthog capture {p50:.2f}",
        f"{p50 / s50:.1f}× cheaper", "≥ 10×",
    )  # fmt: skip
    table.add_row(
        "submit() p99 µs", f"{s99:.2f}", f"posthog capture {p99:.2f}",
        f"{p99 / s99:.1f}× cheaper", "≥ 10×",
    )  # fmt: skip
    table.add_row(
        "submit() spill path (queue 1,000) median / p99 µs", f"{sp50:.2f} / {sp99:.2f}",
        f"posthog {p50:.2f} / {p99:.2f}", f"{p50 / sp50:.1f}× / {p99 / sp99:.1f}×", "—",
    )  # fmt: skip
    table.add_row(
        f"end to end events/s ({len(e2e_events):,} events, {len(e2e_facts):,} facts)",
        f"{med(e2e):,.0f}", f"client alone {med(producer):,.0f}",
        f"{med(e2e) / med(producer):.0%} of it", "≥ 50,000",
    )  # fmt: skip
    table.add_row(
        "collector ingest events/s (500/request, 2 clients)", f"{med(coll):,.0f}",
        f"DuckDB read_json bulk {med(bulk):,.0f}", f"{med(coll) / med(bulk):.0%}", "≥ 50%",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"runs: e2e {[round(x) for x in e2e]}, client alone {[round(x) for x in producer]}, "
        f"collector {[round(x) for x in coll]}, "
        f"bulk {[round(x) for x in bulk]}"
    )


if __name__ == "__main__":
    main()
