"""Added round-trip latency of ``agentlytics tap`` versus a direct pipe to the same child.

An echo child (returns each line as it comes) is driven one message at a time: write a line,
read until its echo is back, time it. The same real app-server messages (cycled from the repo's
captures, so sizes are realistic: ~100 B to a few KB) go through three set-ups, measured in the
same run, in interleaved blocks so that machine noise hits all of them alike:

* ``direct``     — the bench talks to the echo child over pipes (the baseline);
* ``tap``        — ``python -m agentlytics tap -- <echo child>`` (relay only);
* ``tap+record`` — the same with ``--record`` (observer thread writing a capture).

Prints p50/p99/p99.9/max per set-up and the added latency (tap minus direct, per percentile);
and the added p99 *paired per block*: in each block, the set-up's p99 minus direct's p99 of the
same block (same moment, same messages), the median over blocks (issue 14's P6 figure).
Target: p99 added < 1 ms with ``--record``. ``--json FILE`` writes the figures as JSON.

    python bench/bench_tap_latency.py [--messages 12000] [--blocks 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / "tests" / "data" / "captures"

ECHO_CHILD = r"""
import os
while True:
    b = os.read(0, 1 << 20)
    if not b:
        break
    v = memoryview(b)
    while v:
        v = v[os.write(1, v):]
"""


def real_messages() -> list[bytes]:
    """Every message of the repo's captures, as one wire line each (with ``\\n``)."""
    out = []
    for path in sorted(CAPTURES.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            out.append(json.dumps(json.loads(line)["msg"]).encode() + b"\n")
    return out


class Peer:
    """A child process spoken to line by line over raw pipe fds."""

    def __init__(self, argv: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.w = self.proc.stdin.fileno()
        self.r = self.proc.stdout.fileno()

    def round_trip_ns(self, msg: bytes) -> int:
        start = time.perf_counter_ns()
        view = memoryview(msg)
        while view:
            view = view[os.write(self.w, view) :]
        got = 0
        while got < len(msg):
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("peer closed its stdout")
            got += len(chunk)
        return time.perf_counter_ns() - start

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(30)


def pct(xs: list[int], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] / 1000.0  # µs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=12_000, help="per set-up (>= 10000)")
    ap.add_argument("--blocks", type=int, default=12, help="interleaved blocks per set-up")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="1,200 messages (smoke)")
    ap.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.blocks, args.warmup = 1_200, 4, 50

    msgs = real_messages()
    sizes = [len(m) for m in msgs]
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "bench.jsonl"
        child = [sys.executable, "-c", ECHO_CHILD]
        tap = [sys.executable, "-m", "agentlytics", "tap"]
        setups = {
            "direct": Peer(child),
            "tap": Peer([*tap, "--", *child]),
            "tap+record": Peer([*tap, "--record", str(capture), "--", *child]),
        }
        samples: dict[str, list[int]] = {name: [] for name in setups}
        blocks: dict[str, list[list[int]]] = {name: [] for name in setups}
        for peer in setups.values():
            for i in range(args.warmup):
                peer.round_trip_ns(msgs[i % len(msgs)])
        per_block = args.messages // args.blocks
        k = 0
        for _ in range(args.blocks):
            for name, peer in setups.items():
                block = [peer.round_trip_ns(msgs[(k + j) % len(msgs)]) for j in range(per_block)]
                samples[name] += block
                blocks[name].append(block)
            k += per_block
        codes = {name: peer.close() for name, peer in setups.items()}
        recorded = sum(1 for _ in capture.open("rb"))

    n = len(samples["direct"])
    print(
        f"messages per set-up: {n}  (sizes from real captures: median "
        f"{statistics.median(sizes):.0f} B, max {max(sizes)} B, {len(msgs)} distinct)"
    )
    print(f"{'set-up':<12} {'p50 µs':>9} {'p99 µs':>9} {'p99.9 µs':>9} {'max µs':>9}")
    for name, xs in samples.items():
        print(
            f"{name:<12} {pct(xs, 50):9.1f} {pct(xs, 99):9.1f} {pct(xs, 99.9):9.1f} "
            f"{max(xs) / 1000:9.1f}"
        )
    base50, base99 = pct(samples["direct"], 50), pct(samples["direct"], 99)
    for name in ("tap", "tap+record"):
        a50 = pct(samples[name], 50) - base50
        a99 = pct(samples[name], 99) - base99
        verdict = "meets" if a99 < 1000 else "MISSES"
        print(
            f"added by {name:<11}: p50 {a50:+7.1f} µs   p99 {a99:+7.1f} µs   "
            f"({verdict} the p99 < 1 ms target)"
        )
    paired = {
        name: statistics.median(
            pct(b, 99) - pct(d, 99) for b, d in zip(blocks[name], blocks["direct"], strict=True)
        )
        for name in ("tap", "tap+record")
    }
    for name, added in paired.items():
        verdict = "meets" if added < 1000 else "MISSES"
        print(
            f"p99 added by {name:<11} paired per block (median of {args.blocks}): "
            f"{added:+7.1f} µs   ({verdict} the p99 < 1 ms target)"
        )
    if args.json is not None:
        figures = {
            "messages": n,
            "blocks": args.blocks,
            "direct_p99_us": base99,
            "tap_p99_added_us": paired["tap"],
            "tap_record_p99_added_us": paired["tap+record"],
            "tap_record_p99_us": pct(samples["tap+record"], 99),
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"exit codes: {codes}; capture lines written: {recorded} (expected {2 * (n + args.warmup)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
