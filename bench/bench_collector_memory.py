"""Collector memory under sustained load: the warehouse writer's RSS over time (issue 14).

A real collector (``agentlytics collect`` in a subprocess; its writer's DuckDB ``memory_limit``
and ``threads`` from ``[collector]``, defaults unless ``--memory-limit``/``--threads``) receives
real-shaped events for ``--duration`` seconds: the test captures' events, re-keyed every round
so each round is new threads and turns (new rows, growing tables and key index, as a team's
traffic does), 500 per gzip request over keep-alive connections, paced at ``--rate`` events/s.
The RSS of the collector and of its writer child is sampled every ``--interval`` seconds, and
with it the writer's DuckDB memory by component (``duckdb_memory()``, asked through the
writer's read socket): the ``event_id`` key index, rows appended since the last checkpoint,
cached blocks of the file, temporary (spilled) storage.

Figures: RSS min / median / max over the run for the writer, the collector and the two
together, and the writer's DuckDB memory. Growth compares the median of the last third of the
samples with the median of the middle third; the first third is warm-up, in which DuckDB's
buffers fill (appended rows accumulate until a checkpoint, every ``CHECKPOINT_THRESHOLD`` of
WAL — about 35 s at 5k events/s — and then the checkpointed blocks stay cached). The headline
``collector_rss_growth_pct`` is the growth of the memory *outside* DuckDB's buffers (collector
RSS + writer RSS − the writer's DuckDB memory): DuckDB's part is capped by ``memory_limit``
(past it DuckDB evicts, spills or fails an allocation, never grows), so it is reported as its
maximum against the limit and, for the key index that grows with the warehouse whatever the
limit, as MB per million stored events. Growth of the raw RSS is printed beside it
(``collector_rss_growth_raw_pct``): in a short run it is mostly the buffers filling, not
growth. ``--json FILE`` writes the figures. The default 20 s keeps ``bench/run.py`` short;
issue 14 asks for ``--duration 600`` (10 minutes), run with ``nice``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import duckdb  # noqa: E402
import psutil  # noqa: E402
from tests.collector_proc import TOKEN, Collector  # noqa: E402
from tests.streams import expected, flat_facts  # noqa: E402

from agentlytics.sinks.http import PATH  # noqa: E402
from agentlytics.warehouse.reads import ReadClient, connect_writer  # noqa: E402
from agentlytics.warehouse.store import MEMORY_SQL  # noqa: E402

#: The re-key seed of the base events: every id they carry has ``-beef`` at the start of its
#: last group (tests/streams.py), which each round replaces with its own four hex digits.
SEED = 0xBEEF
BATCH = 500


def base_bodies(copies: int) -> list[bytes]:
    """Event bodies of ``copies`` re-keyed capture copies whose id is the body's own hash (an
    ordinal repeat's id could not follow its body being re-keyed; they are few)."""
    events = expected(flat_facts(copies, seed=SEED))
    return [e.body for e in events if hashlib.sha256(e.body).hexdigest() == e.event_id]


def rounds(bodies: list[bytes]) -> Any:
    """Request bodies (gzip), round after round, each round's ids new: ``(events, body)``."""
    old = b"-%04x" % SEED
    n = 0
    while True:
        n += 1
        new = b"-%04x" % (n % 0xFFFF)
        keyed = [body.replace(old, new) for body in bodies]
        for i in range(0, len(keyed), BATCH):
            chunk = keyed[i : i + BATCH]
            yield len(chunk), gzip.compress(b'{"events":[' + b",".join(chunk) + b"]}", 1)


def _processes(collector: Collector) -> tuple[psutil.Process, psutil.Process]:
    assert collector.proc is not None
    server = psutil.Process(collector.proc.pid)
    (writer,) = [p for p in server.children() if "spawn_main" in " ".join(p.cmdline())]
    return server, writer


#: duckdb_memory() tags reported on their own (the rest is summed as "other").
TAGS = {"ART_INDEX": "index", "IN_MEMORY_TABLE": "appended", "BASE_TABLE": "cached"}


def _writer_client(collector: Collector) -> ReadClient:
    deadline = time.monotonic() + 30
    while (client := connect_writer(collector.warehouse)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the writer does not answer reads")
        time.sleep(0.1)
    return client


def _duckdb_memory(client: ReadClient) -> dict[str, float]:
    """The writer's DuckDB memory in MB: total, per :data:`TAGS` and other, and temp (spilled)."""
    out = {"total": 0.0, "other": 0.0, "temp": 0.0} | {name: 0.0 for name in TAGS.values()}
    for row in client.query(MEMORY_SQL).to_pylist():
        mb = row["bytes"] / 2**20
        out["total"] += mb
        out[TAGS.get(row["tag"], "other")] += mb
        out["temp"] += row["temp_bytes"] / 2**20
    return out


def _stats(values: list[float]) -> dict[str, float]:
    third = max(1, len(values) // 3)
    middle, last = values[third : 2 * third] or values, values[-third:]
    mid = statistics.median(middle)
    return {
        "min_mb": min(values),
        "median_mb": statistics.median(values),
        "max_mb": max(values),
        "middle_third_median_mb": mid,
        "last_third_median_mb": statistics.median(last),
        "growth_pct": (statistics.median(last) - mid) / mid * 100 if mid else 0.0,
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    toml = workdir / "agentlytics.toml"
    settings = [f'memory_limit = "{args.memory_limit}"'] if args.memory_limit else []
    settings += [f"threads = {args.threads}"] if args.threads is not None else []
    toml.write_text("[collector]\n" + "\n".join(settings) + "\n")
    bodies = base_bodies(args.copies)
    collector = Collector(workdir, args=("--config", str(toml))).start()
    samples: list[tuple[float, float, float, dict[str, float], int]] = []
    sent = [0]
    stop = threading.Event()
    source = rounds(bodies)
    lock = threading.Lock()
    start = time.monotonic()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=60)
        headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        }
        while not stop.is_set():
            with lock:
                n, body = next(source)
                due = start + (sent[0] + n) / args.rate
                sent[0] += n
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.request("POST", PATH, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"collector answered {response.status}: {answer[:300]!r}")
        conn.close()

    reads: ReadClient | None = None
    try:
        server, writer = _processes(collector)
        reads = _writer_client(collector)
        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        while time.monotonic() - start < args.duration:
            time.sleep(args.interval)
            samples.append(
                (
                    time.monotonic() - start,
                    server.memory_info().rss / 2**20,
                    writer.memory_info().rss / 2**20,
                    _duckdb_memory(reads),
                    sent[0],
                )
            )
        stop.set()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - start
    finally:
        if reads is not None:
            reads.close()
        collector.stop()
    con = duckdb.connect(str(collector.warehouse), read_only=True)
    stored = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    collectors = [c for _, c, _, _, _ in samples]
    writers = [w for _, _, w, _, _ in samples]
    both = [c + w for _, c, w, _, _ in samples]
    duck = [d for _, _, _, d, _ in samples]
    outside = [c + w - d["total"] for _, c, w, d, _ in samples]
    # The key index per million events sent (≈ stored: every round is new), fitted from the
    # first to the last sample: it grows with the warehouse, whatever memory_limit says.
    (_, _, _, d0, n0), (_, _, _, d1, n1) = samples[0], samples[-1]
    index_per_m = (d1["index"] - d0["index"]) / max(1, n1 - n0) * 1e6
    return {
        "duration_s": elapsed,
        "rate_target_per_s": args.rate,
        "events_sent": sent[0],
        "events_stored": int(stored[0]) if stored else 0,
        "events_per_s": sent[0] / elapsed,
        "memory_limit": args.memory_limit or "default",
        "threads": args.threads,
        "writer": _stats(writers),
        "collector": _stats(collectors),
        "total": _stats(both),
        "outside_duckdb": _stats(outside),
        "writer_duckdb": {
            name: _stats([d[name] for d in duck]) for name in ("total", *TAGS.values(), "temp")
        },
        "collector_rss_growth_pct": _stats(outside)["growth_pct"],
        "collector_rss_growth_raw_pct": _stats(both)["growth_pct"],
        "writer_rss_max_mb": max(writers),
        "writer_duckdb_max_mb": max(d["total"] for d in duck),
        "writer_index_mb_per_million_events": index_per_m,
        "samples": [
            [round(t, 1), round(c, 1), round(w, 1), n, {k: round(v, 1) for k, v in d.items()}]
            for t, c, w, d, n in samples
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=5_000.0, help="events/s sent")
    parser.add_argument("--clients", type=int, default=2, help="keep-alive connections")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--copies", type=int, default=300, help="capture copies per round")
    parser.add_argument("--memory-limit", default="", help="[collector] memory_limit")
    parser.add_argument("--threads", type=int, default=None, help="[collector] threads")
    parser.add_argument("--quick", action="store_true", help="8 s (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args()
    if args.quick:
        args.duration = 8.0
    with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
        figures = run(args, Path(tmp))
    print(
        f"{figures['duration_s']:.0f} s at {figures['events_per_s']:,.0f} events/s sent "
        f"({figures['events_sent']:,} sent, {figures['events_stored']:,} stored); "
        f"memory_limit {figures['memory_limit']}, threads {figures['threads'] or 'default'}"
    )
    rows = [(f"RSS {name}", figures[name]) for name in ("writer", "collector", "total")]
    rows.append(("RSS outside DuckDB", figures["outside_duckdb"]))
    rows += [(f"writer DuckDB {k}", v) for k, v in figures["writer_duckdb"].items()]
    for name, s in rows:
        print(
            f"  {name:24} min {s['min_mb']:6,.0f} MB  median {s['median_mb']:6,.0f} MB  "
            f"max {s['max_mb']:6,.0f} MB  growth {s['growth_pct']:+6.1f}%"
        )
    print(
        f"  growth = last third vs middle third (medians; first third = warm-up). Headline: "
        f"outside DuckDB {figures['collector_rss_growth_pct']:+.1f}% "
        f"(raw RSS {figures['collector_rss_growth_raw_pct']:+.1f}%); key index "
        f"{figures['writer_index_mb_per_million_events']:,.0f} MB per million events"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
