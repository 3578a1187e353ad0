"""Benchmark: the PostgreSQL team store — collector ingest against COPY, 1 vs 2 collector
processes, and report latency at a million events.

Run: ``python bench/bench_postgres.py [--events N] [--report-events N] [--quick]``.

A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``, default durability: ``fsync`` and
``synchronous_commit`` on) on this machine.

1. Collector ingest: pre-built gzipped 500-event requests (the captures' traffic, re-keyed)
   posted by ``--clients`` threads (8) to ``agentlytics collect --store URL`` (``--workers 1``, then
   ``--workers 2``, each on a fresh database), events/s from the first post to the last
   answer. The CPU seconds the collector process(es) and the PostgreSQL server processes spent
   over that span give events/s per collector core and per PostgreSQL core.
2. PostgreSQL's own ``COPY`` of the same rows: what the collector stored (``events`` and the
   family tables), dumped with ``COPY … TO STDOUT`` and loaded into a fresh, migrated database
   in one transaction (the same indexes). Ratio = collector ÷ COPY. Also ``events`` alone.
3. Report latency: the store grown to ``--report-events`` by copying its rows with new ids
   inside PostgreSQL, then each report of the query layer through ``open_store``, median of 3.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.collector_proc import TOKEN  # noqa: E402
from tests.pg_server import PgServer  # noqa: E402
from tests.pgstore.procs import PgCollector  # noqa: E402
from tests.streams import expected, flat_facts  # noqa: E402

from agentlytics import query  # noqa: E402
from agentlytics.events.envelope import Envelope  # noqa: E402
from agentlytics.query import Filters, open_store  # noqa: E402
from agentlytics.sinks.http import IDS_HEADER, PATH, encode_batch  # noqa: E402
from agentlytics.warehouse import postgres  # noqa: E402
from agentlytics.warehouse.schema import FAMILY_TABLES  # noqa: E402

TABLES = ["events", *(f.table for f in FAMILY_TABLES)]


def make_events(n: int) -> list[Envelope]:
    events: list[Envelope] = []
    start = 0
    while len(events) < n:
        events += expected(flat_facts(2_000, seed=31, start=start))
        start += 2_000
    return events[:n]


def requests(events: list[Envelope], size: int = 500) -> list[tuple[bytes, dict[str, str]]]:
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


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def _server_procs(pg: PgServer) -> list[psutil.Process]:
    pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    main = psutil.Process(pid)
    return [main, *main.children()]


def bench_collector(
    pg: PgServer,
    url: str,
    reqs: list[tuple[bytes, dict[str, str]]],
    n: int,
    workers: int,
    clients: int,
) -> dict[str, float]:
    """events/s through ``collect --store`` and the CPU each side spent per second of it."""
    collector = PgCollector(Path(tempfile.mkdtemp()), url, workers=workers).start()
    assert collector.proc is not None
    try:
        root = psutil.Process(collector.proc.pid)
        mine = [root, *root.children(recursive=True)]
        todo = list(reqs)
        lock = threading.Lock()

        def worker() -> None:
            with httpx.Client(timeout=120) as client:
                while True:
                    with lock:
                        if not todo:
                            return
                        body, headers = todo.pop()
                    r = client.post(collector.url + PATH, content=body, headers=headers)
                    assert r.status_code == 200, r.text

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        server = _server_procs(pg)  # backends of the pool exist once the collector is up
        c0, s0 = _cpu(mine), _cpu(server)
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        server += [p for p in _server_procs(pg) if p.pid not in {s.pid for s in server}]
        c1, s1 = _cpu(mine), _cpu(server)
    finally:
        collector.stop()
    with psycopg.connect(url) as con:
        stored = con.execute("SELECT count(*) FROM events").fetchone()
    assert stored == (n,), stored
    return {
        "rate": n / elapsed,
        "collector_cores": (c1 - c0) / elapsed,
        "pg_cores": (s1 - s0) / elapsed,
        "per_collector_core": n / max(c1 - c0, 1e-9),
        "per_pg_core": n / max(s1 - s0, 1e-9),
    }


def bench_copy(pg: PgServer, source: str, n: int) -> tuple[float, float, float]:
    """PostgreSQL's COPY of the rows ``source`` holds into a fresh store: events/s with all
    tables, events/s per server core (its CPU time) with all tables, events/s of ``events``
    alone."""
    dumps: dict[str, bytes] = {}
    with psycopg.connect(source) as con, con.cursor() as cur:
        for table in TABLES:
            buf = bytearray()
            with cur.copy(f"COPY {table} TO STDOUT") as copy:
                for chunk in copy:
                    buf += chunk
            dumps[table] = bytes(buf)
    out = []
    for tables in (TABLES, ["events"]):
        url = pg.create_database(f"copy{len(tables)}")
        postgres.migrate_url(url)
        with psycopg.connect(url) as con, con.cursor() as cur:
            server = _server_procs(pg)
            s0 = _cpu(server)
            start = time.perf_counter()
            with con.transaction():
                for table in tables:
                    with cur.copy(f"COPY {table} FROM STDIN") as copy:
                        copy.write(dumps[table])
            elapsed = time.perf_counter() - start
            out.append((n / elapsed, n / max(_cpu(server) - s0, 1e-9)))
    return out[0][0], out[0][1], out[1][0]


def grow(url: str, target: int) -> int:
    """Copy the store's rows under new ids (and threads/turns) until it holds ``target``."""
    with psycopg.connect(url) as con:
        base = con.execute("SELECT count(*) FROM events").fetchone()
        assert base is not None
        copies = max(0, -(-target // base[0]) - 1)
        for table in TABLES:
            family = next((f for f in FAMILY_TABLES if f.table == table), None)
            names = ["event_id", "event_type", "thread_id", "turn_id", "payload"]
            if family is not None:
                names = ["event_id", *(c.name for c in family.columns)]
            keyed = {"event_id", "thread_id", "turn_id"}
            exprs = [f"{c} || '-' || k" if c in keyed else c for c in names]
            con.execute(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} "
                f"FROM {table}, generate_series(1, {copies}) AS k"
            )
        con.commit()
        con.execute("ANALYZE")
        row = con.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        return int(row[0])


def bench_reports(url: str) -> dict[str, float]:
    store = open_store(url)
    out: dict[str, float] = {}
    reports = {
        "tools": lambda: query.tools(store, Filters()),
        "daily": lambda: query.daily(store, Filters()),
        "daily --breakdown model": lambda: query.daily(store, Filters(), by_model=True),
        "monthly": lambda: query.monthly(store, Filters()),
        "slowest 20 calls": lambda: query.slowest_calls(store, Filters(), 20),
        "tools --model": lambda: query.tools(store, Filters(model="gpt-5.2-codex")),
    }
    try:
        for name, run in reports.items():
            times = []
            for _ in range(3):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            out[name] = statistics.median(times) * 1000
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events sent per run")
    parser.add_argument("--report-events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8, help="client threads posting")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.report_events = 10_000, 50_000
    console = Console(width=150)
    load_start = os.getloadavg()
    console.print(f"Python {sys.version.split()[0]}; preparing {args.events:,} events …")
    events = make_events(args.events)
    reqs = requests(events)
    pg = PgServer().start()
    try:
        url1 = pg.create_database("one")
        one = bench_collector(pg, url1, reqs, len(events), 1, args.clients)
        two = bench_collector(pg, pg.create_database("two"), reqs, len(events), 2, args.clients)
        copy_all, copy_per_core, copy_events = bench_copy(pg, url1, len(events))
        total = grow(url1, args.report_events)
        latency = bench_reports(url1)
    finally:
        pg.destroy()

    table = Table(title="PostgreSQL store benchmark", title_justify="left")
    for col in ("measure", "value", "baseline (same run)", "ratio", "target"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(
        f"collector ingest events/s (1 process, {len(events):,} events)", f"{one['rate']:,.0f}",
        f"COPY of the same rows {copy_all:,.0f}", f"{one['rate'] / copy_all:.0%}", "≥ 50%",
    )  # fmt: skip
    table.add_row(
        "  (COPY of the events table alone)", "", f"{copy_events:,.0f}",
        f"{one['rate'] / copy_events:.0%}", "—",
    )  # fmt: skip
    table.add_row(
        "collector ingest events/s (2 processes, --workers 2)", f"{two['rate']:,.0f}",
        f"1 process {one['rate']:,.0f}", f"{two['rate'] / one['rate']:.2f}×", "—",
    )  # fmt: skip
    table.add_row(
        "PostgreSQL CPU: events per server core-second, collector path",
        f"{one['per_pg_core']:,.0f}", f"COPY of the same rows {copy_per_core:,.0f}",
        f"{one['per_pg_core'] / copy_per_core:.0%}", "≥ 50%",
    )  # fmt: skip
    for label, run in (("1 process", one), ("2 processes", two)):
        table.add_row(
            f"events/s per collector core / per PostgreSQL core ({label})",
            f"{run['per_collector_core']:,.0f} / {run['per_pg_core']:,.0f}",
            f"cores busy: collector {run['collector_cores']:.2f}, PostgreSQL {run['pg_cores']:.2f}",
            "", "—",
        )  # fmt: skip
    for name, ms in latency.items():
        table.add_row(f"report {name} ms ({total:,} events)", f"{ms:,.0f}", "", "", "—")
    console.print(table)
    console.print(
        f"machine: {psutil.cpu_count()} cores (shared), load average (1/5/15 min) at start "
        f"{_load(load_start)}, at end {_load(os.getloadavg())}; PostgreSQL {pg_version()}"
    )


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def pg_version() -> str:
    import subprocess

    from tests.pg_server import pg_bin

    binary = pg_bin("postgres") or "postgres"
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
