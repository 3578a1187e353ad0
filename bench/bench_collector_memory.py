"""Collector memory under sustained load: the warehouse writer's RSS over time (issue 14).

A real collector (``agentlytics collect`` in a subprocess; its writer's DuckDB ``memory_limit``
and ``threads`` from ``[collector]``, defaults unless ``--memory-limit``/``--threads``) receives
real-shaped events for ``--duration`` seconds: the test captures' events, re-keyed every round
so each round is new threads and turns (new rows, growing tables and key index, as a team's
traffic does), 500 per gzip request over keep-alive connections, paced at ``--rate`` events/s.
The RSS of the collector and of its writer child is sampled every ``--interval`` seconds.

Figures: RSS min / median / max over the run for the writer, the collector and the two
together; growth = the median of the last third of the samples against the median of the
middle third (the first third is warm-up), in %: memory that is bounded stops growing while
the warehouse does. ``--json FILE`` writes them. The default 20 s keeps ``bench/run.py``
short; issue 14 asks for ``--duration 600`` (10 minutes), run with ``nice``.
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
        "growth_pct": (statistics.median(last) - mid) / mid * 100,
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    toml = workdir / "agentlytics.toml"
    settings = [f'memory_limit = "{args.memory_limit}"'] if args.memory_limit else []
    settings += [f"threads = {args.threads}"] if args.threads is not None else []
    toml.write_text("[collector]\n" + "\n".join(settings) + "\n")
    bodies = base_bodies(args.copies)
    collector = Collector(workdir, args=("--config", str(toml))).start()
    samples: list[tuple[float, float, float]] = []
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

    try:
        server, writer = _processes(collector)
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
                )
            )
        stop.set()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - start
    finally:
        collector.stop()
    con = duckdb.connect(str(collector.warehouse), read_only=True)
    stored = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    collectors = [c for _, c, _ in samples]
    writers = [w for _, _, w in samples]
    both = [c + w for _, c, w in samples]
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
        "collector_rss_growth_pct": _stats(both)["growth_pct"],
        "writer_rss_max_mb": max(writers),
        "samples": [[round(t, 1), round(c, 1), round(w, 1)] for t, c, w in samples],
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
    for name in ("writer", "collector", "total"):
        s = figures[name]
        print(
            f"  RSS {name:9} min {s['min_mb']:7,.0f} MB  median {s['median_mb']:7,.0f} MB  "
            f"max {s['max_mb']:7,.0f} MB  growth (last third vs middle third, medians) "
            f"{s['growth_pct']:+.1f}%"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
