"""Replay throughput and memory on a large synthetic session (issue 2 benchmark).

The session is built by repeating the real captures with every id re-keyed per repetition
(so each repetition is new threads, turns and items on one long-lived connection) until it
holds at least ``--messages`` messages. After each repetition the client closes the threads it
used (a ``thread/closed`` notification, as the app-server sends when a thread unloads), so
memory should depend on what is open, not on history.

Figures, in one run on the same file:
  (a) decode-only: every line parsed into Python objects with ``orjson.loads`` — the floor any
      replay pays;
  (b) full replay: ``agentlytics replay --events FILE --no-warehouse`` in a subprocess;
  ratio (b)/(a) (target ≥ 0.5), peak RSS of (b), and RSS sampled along the replay (flat = good).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "data" / "captures"
ID_PREFIX = "01a20716-"
THREAD_ID = re.compile(rb'"threadId": "([^"]+)"')


def build_session(path: Path, min_messages: int) -> int:
    captures = [p.read_bytes().splitlines() for p in sorted(CAPTURES.glob("*.jsonl"))]
    written = 0
    rep = 0
    with path.open("wb") as out:
        while written < min_messages:
            prefix = f"{rep:08x}-".encode()
            for lines in captures:
                threads: dict[bytes, None] = {}
                ts = 0
                for raw in lines:
                    line = raw.replace(ID_PREFIX.encode(), prefix)
                    out.write(line + b"\n")
                    threads.update(dict.fromkeys(THREAD_ID.findall(line)))
                    written += 1
                    ts = json.loads(line)["ts_ms"]
                for thread_id in threads:
                    msg = {"method": "thread/closed", "params": {"threadId": thread_id.decode()}}
                    out.write(
                        json.dumps({"ts_ms": ts, "dir": "server_to_client", "msg": msg}).encode()
                        + b"\n"
                    )
                    written += 1
            rep += 1
    return written


def decode_only(path: Path) -> float:
    import orjson

    loads = orjson.loads
    start = time.perf_counter()
    with path.open("rb", buffering=1 << 20) as handle:
        for line in handle:
            loads(line)
    return time.perf_counter() - start


def full_replay(path: Path, events: Path) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agentlytics",
            "replay",
            "--events",
            str(events),
            "--no-warehouse",
            "--quiet",
            str(path),
        ],
        check=True,
        env=env,
    )
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak_kb, before)


_RSS_PROBE = r"""
import sys, psutil
sys.path.insert(0, sys.argv[2])
from agentlytics.pipeline import Pipeline
from agentlytics.observe.capture import read_lines
total = int(sys.argv[3])
marks = {int(total * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)}
pipeline = Pipeline()
observer = pipeline.connection()
proc = psutil.Process()
for n, line in enumerate(read_lines(sys.argv[1]), start=1):
    pipeline.observe_line(observer, line)
    if n in marks:
        print(n, proc.memory_info().rss, flush=True)
"""


def rss_along(path: Path, total: int) -> list[tuple[int, int]]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path), str(ROOT / "src"), str(total)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [(int(a), int(b)) for a, b in (row.split() for row in out.splitlines())]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200k messages, one run")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.runs = 200_000, 1
    with tempfile.TemporaryDirectory(prefix="agentlytics-bench-") as tmp:
        session = Path(tmp) / "session.jsonl"
        messages = build_session(session, args.messages)
        size_mb = session.stat().st_size / 1e6
        print(f"synthetic session: {messages:,} messages, {size_mb:,.0f} MB")
        decode = [decode_only(session) for _ in range(args.runs)]
        replays = [full_replay(session, Path(tmp) / "events.jsonl") for _ in range(args.runs)]
        events = sum(1 for _ in (Path(tmp) / "events.jsonl").open("rb"))
        d = statistics.median(decode)
        r = statistics.median(t for t, _ in replays)
        peak_mb = max(kb for _, kb in replays) / 1024
        print(f"{'':28}{'messages/s':>14}{'seconds':>10}")
        print(f"{'(a) decode-only (orjson)':28}{messages / d:>14,.0f}{d:>10.2f}")
        print(f"{'(b) full replay --events':28}{messages / r:>14,.0f}{r:>10.2f}")
        print(f"ratio (b)/(a): {d / r:.2f}   (target >= 0.50; medians of {args.runs} runs)")
        print(f"events written: {events:,}   peak RSS of (b): {peak_mb:,.0f} MB")
        samples = rss_along(session, messages)
        print(
            "RSS along the replay: "
            + ", ".join(f"{n / messages:.0%}: {rss / 2**20:,.0f} MB" for n, rss in samples)
        )
        growth = (samples[-1][1] - samples[1][1]) / 2**20
        print(f"RSS growth from 25% to 100% of the session: {growth:+,.1f} MB")


if __name__ == "__main__":
    main()
