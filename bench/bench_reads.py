"""Benchmark: reading a DuckDB warehouse while ``agentlytics collect`` writes it.

Run: ``python bench/bench_reads.py [--events N] [--quick]``.

Reports on a file the collector holds are answered by its writer process (warehouse/reads.py).

1. Report latency through the writer (collector running, idle) against the same report on the
   file read directly (collector stopped; the store's read-only connection, which it lets go
   when idle so that it never keeps a collector from starting): medians of 5, ``tools`` and
   ``daily``.
2. Ingest while reading: events/s of the collector (pre-built gzipped 500-event requests, two
   client threads) alone, and with a reader running ``daily`` back to back through the writer
   the whole time; and how many reports the reader got meanwhile.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.collector_proc import TOKEN, Collector  # noqa: E402
from tests.streams import expected, flat_facts  # noqa: E402

from agentlytics import query  # noqa: E402
from agentlytics.events.envelope import Envelope  # noqa: E402
from agentlytics.query import Filters, open_store  # noqa: E402
from agentlytics.sinks.http import PATH, encode_batch  # noqa: E402


def make_events(n: int, seed: int) -> list[Envelope]:
    events: list[Envelope] = []
    start = 0
    while len(events) < n:
        events += expected(flat_facts(2_000, seed=seed, start=start))
        start += 2_000
    return events[:n]


def post_all(url: str, events: list[Envelope], clients: int = 2) -> float:
    """events/s storing ``events`` through the collector at ``url``."""
    bodies = [
        gzip.compress(encode_batch(events[i : i + 500]), 1) for i in range(0, len(events), 500)
    ]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"}
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not bodies:
                        return
                    body = bodies.pop()
                r = client.post(url + PATH, content=body, headers=headers)
                assert r.status_code == 200, r.text

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(events) / (time.perf_counter() - start)


def median_ms(run: Callable[[], object], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.events = 10_000
    console = Console(width=150)
    console.print(f"preparing {args.events:,} + {args.events:,} events …")
    base, more = make_events(args.events, 41), make_events(args.events, 42)
    with tempfile.TemporaryDirectory() as tmp:
        collector = Collector(Path(tmp)).start()
        try:
            post_all(collector.url, base)
            store = open_store(str(collector.warehouse))
            reports = {
                "tools": lambda: query.tools(store, Filters()),
                "daily": lambda: query.daily(store, Filters()),
            }
            # Ingest alone, then ingest with a reader hammering the writer.
            alone = post_all(collector.url, more[: len(more) // 2])
            done, answered = threading.Event(), [0]

            def reader() -> None:
                while not done.is_set():
                    query.daily(store, Filters())
                    answered[0] += 1

            thread = threading.Thread(target=reader)
            thread.start()
            start = time.perf_counter()
            with_reads = post_all(collector.url, more[len(more) // 2 :])
            span = time.perf_counter() - start
            done.set()
            thread.join()
            via_writer = {name: median_ms(run) for name, run in reports.items()}
        finally:
            collector.stop()
        total = len(base) + len(more)
        assert query.event_count(store) == total
        direct = {name: median_ms(run) for name, run in reports.items()}
        store.close()

    table = Table(title="Reading a DuckDB warehouse while collect writes it", title_justify="left")
    for col in ("measure", "value", "baseline (same run)", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for name in via_writer:
        table.add_row(
            f"report {name} ms through the writer ({total:,} events)",
            f"{via_writer[name]:,.1f}",
            f"collector stopped, file read directly {direct[name]:,.1f}",
            f"{via_writer[name] / direct[name]:.2f}×",
        )  # fmt: skip
    table.add_row(
        "collector ingest events/s while reports read back to back", f"{with_reads:,.0f}",
        f"no reads {alone:,.0f}", f"{with_reads / alone:.0%}",
    )  # fmt: skip
    table.add_row(
        "reports answered during that ingest", f"{answered[0]}",
        f"in {span:.1f} s", f"{answered[0] / span:.1f}/s",
    )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
